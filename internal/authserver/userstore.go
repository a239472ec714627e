package authserver

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// userStore holds the parsed users file and re-reads it when the file's
// modification time, size or identity changes. A file that becomes
// unreadable, invalid or writable by group or others fails closed: lookups
// return an error until it is fixed. It also holds the dummy hash compared
// for unknown users, at the highest bcrypt cost in the file.
type userStore struct {
	path  string
	rules Rules
	log   *slog.Logger

	mu        sync.Mutex
	stat      os.FileInfo
	users     map[string]User
	err       error
	dummy     []byte
	dummyCost int
}

// lookup returns the user called name, and the hash to compare the
// password with: the user's own, or the dummy hash if there is no such
// user.
func (s *userStore) lookup(name string) (User, []byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.err == nil || s.stat != nil {
			s.log.Error("users file unreadable", "path", s.path, "err", err)
		}
		s.stat, s.users, s.err = nil, nil, fmt.Errorf("users file: %w", err)
		return User{}, nil, false, s.err
	}
	if s.stat == nil || !os.SameFile(fi, s.stat) || !fi.ModTime().Equal(s.stat.ModTime()) || fi.Size() != s.stat.Size() || fi.Mode() != s.stat.Mode() {
		s.stat = fi
		s.users, s.err = nil, nil
		if err := s.load(fi); err != nil {
			s.log.Error("users file refused", "path", s.path, "err", err)
			s.err = err
		}
	}
	if s.err != nil {
		return User{}, nil, false, s.err
	}
	if u, ok := s.users[name]; ok {
		return u, []byte(u.PasswordHash), true, nil
	}
	return User{}, s.dummy, false, nil
}

// load reads the users file whose stat is fi. The caller holds s.mu.
func (s *userStore) load(fi os.FileInfo) error {
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("users file %s is writable by group or others (mode %s): anyone who can write it can make themselves an approver; run chmod 600 %s", s.path, perm, s.path)
	}
	users, err := ReadUsersFile(s.path, s.rules)
	if err != nil {
		return err
	}
	cost := s.rules.cost()
	for _, u := range users {
		if c, err := bcrypt.Cost([]byte(u.PasswordHash)); err == nil && c > cost {
			cost = c
		}
	}
	if s.dummy == nil || cost != s.dummyCost {
		pw := make([]byte, 32)
		_, _ = rand.Read(pw)
		dummy, err := bcrypt.GenerateFromPassword(pw, cost)
		if err != nil {
			return fmt.Errorf("dummy hash: %w", err)
		}
		s.dummy, s.dummyCost = dummy, cost
	}
	if fi.Mode().Perm()&0o044 != 0 {
		s.log.Warn("users file is readable by others; want mode 0600", "path", s.path, "mode", fi.Mode().Perm().String())
	}
	s.log.Info("users file loaded", "path", s.path, "users", len(users), "dummyCost", cost)
	s.users = users
	return nil
}

// dummyHash returns the current dummy hash (tests).
func (s *userStore) dummyHash() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dummy
}
