package authserver

import (
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// userStore holds the parsed users file and re-reads it when the file's
// modification time, size or identity changes. A file that becomes
// unreadable, invalid or writable by group or others, or in a directory
// that becomes writable by them, fails closed: lookups return an error
// until it is fixed (a file that changed while its directory was writable
// by them, until it changes again). It also holds the dummy hashes, one
// at each bcrypt cost the file holds, that make every login's comparisons
// the same whether the user exists or not (passwordCheck).
type userStore struct {
	path  string
	rules Rules
	log   *slog.Logger

	mu      sync.Mutex
	read    bool // fresh ran before: why the first read failed is New's error, not logged
	stat    os.FileInfo
	users   map[string]User
	err     error          // why the file is unusable
	dirErr  error          // why its directory is unsafe (checkDir)
	costs   []int          // the file's distinct bcrypt costs, ascending; rules.cost() for an empty file
	dummies map[int][]byte // a hash of a random password at each of costs
}

// passwordCheck is what one login compares the password with: one hash at
// each bcrypt cost of the users file, in ascending order of cost. For a
// known user the hash at the user's cost is the user's own, at index own;
// every other hash is a dummy of a random password, which never matches.
// An unknown name gets only dummies (own is -1). So every login, whatever
// the name, runs the same number of comparisons at the same costs in the
// same order: the time it takes does not depend on whether the user
// exists. A file whose hashes all have one cost (the normal case, and what
// useradd writes) costs one comparison per login.
type passwordCheck struct {
	hashes [][]byte
	own    int
}

// lookup returns the user called name and what to compare the password
// with; found is false if there is no such user.
func (s *userStore) lookup(name string) (User, passwordCheck, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fresh(); err != nil {
		return User{}, passwordCheck{}, false, err
	}
	u, found := s.users[name]
	userCost := -1
	if found {
		// checkUser accepted the hash, so its cost is one of s.costs.
		userCost, _ = bcrypt.Cost([]byte(u.PasswordHash))
	}
	check := passwordCheck{hashes: make([][]byte, len(s.costs)), own: -1}
	for i, c := range s.costs {
		if c == userCost {
			check.hashes[i], check.own = []byte(u.PasswordHash), i
		} else {
			check.hashes[i] = s.dummies[c]
		}
	}
	return u, check, found, nil
}

// check reports whether the users file is usable now: nil, or why every
// login is refused (for the health endpoint).
func (s *userStore) check() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fresh()
}

// fresh re-reads the users file if it changed, checks its directory, and
// returns why it is unusable, if it is. The caller holds s.mu.
func (s *userStore) fresh() error {
	defer func() { s.read = true }()
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.err == nil || s.stat != nil {
			s.refused("users file unreadable", "path", s.path, "err", err)
		}
		s.stat, s.users, s.err = nil, nil, fmt.Errorf("users file: %w", err)
		return s.err
	}
	// The directory is checked on every call, not only when the file
	// changes: it may become writable while the file stays as it was.
	dirErr := s.checkDir()
	if s.stat == nil || !os.SameFile(fi, s.stat) || !fi.ModTime().Equal(s.stat.ModTime()) || fi.Size() != s.stat.Size() || fi.Mode() != s.stat.Mode() {
		s.stat = fi
		s.users, s.err = nil, nil
		if dirErr != nil {
			// Anyone may have put this file there: it is not read, and
			// stays refused once the directory is fixed, until it
			// changes again.
			s.err = fmt.Errorf("%w (this users file was found while it was: once the directory is fixed, check the file and save it again)", dirErr)
			s.refused("users file refused", "path", s.path, "err", s.err)
		} else if err := s.load(fi); err != nil {
			s.refused("users file refused", "path", s.path, "err", err)
			s.err = err
		}
	}
	if s.err != nil {
		return s.err
	}
	err = dirErr
	switch {
	case err != nil && s.dirErr == nil:
		s.refused("users file refused", "path", s.path, "err", err)
	case err == nil && s.dirErr != nil:
		s.log.Info("users file directory fixed", "path", s.path)
	}
	s.dirErr = err
	return err
}

// refused logs why the users file is refused, but not on the first read,
// whose error New returns to its caller. The caller holds s.mu.
func (s *userStore) refused(msg string, args ...any) {
	if s.read {
		s.log.Error(msg, args...)
	}
}

// checkDir reports whether the users file's directory is safe: whoever may
// write it may replace the file with one of their own, of any mode
// (unless the directory is sticky, as /tmp: then only the file's owner
// may).
func (s *userStore) checkDir() error {
	dir := filepath.Dir(s.path)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("users file directory: %w", err)
	}
	if perm := di.Mode().Perm(); perm&0o022 != 0 && di.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("the directory of users file %s, %s, is writable by group or others (mode %s): anyone who can write it can put a users file of their own in its place; run chmod go-w %s", s.path, dir, perm, dir)
	}
	return nil
}

// load reads the users file whose stat is fi. The caller holds s.mu.
func (s *userStore) load(fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		what := "not a regular file"
		if fi.IsDir() {
			what = "a directory"
		}
		return fmt.Errorf("users file %s is %s: point -users (AUTH_USERS_FILE) at the users file itself", s.path, what)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("users file %s is writable by group or others (mode %s): anyone who can write it can make themselves an approver; run chmod 600 %s", s.path, perm, s.path)
	}
	users, err := ReadUsersFile(s.path, s.rules)
	if err != nil {
		return err
	}
	perCost := map[int]int{}
	for _, u := range users {
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return fmt.Errorf("users file: user %q: %w", u.Name, err) // checkUser accepted it: not reached
		}
		perCost[c]++
	}
	costs := slices.Sorted(maps.Keys(perCost))
	if len(costs) == 0 {
		costs = []int{s.rules.cost()}
	}
	dummies := make(map[int][]byte, len(costs))
	for _, c := range costs {
		if d, ok := s.dummies[c]; ok {
			dummies[c] = d
			continue
		}
		pw := make([]byte, 32)
		_, _ = rand.Read(pw)
		d, err := bcrypt.GenerateFromPassword(pw, c)
		if err != nil {
			return fmt.Errorf("dummy hash: %w", err)
		}
		dummies[c] = d
	}
	if fi.Mode().Perm()&0o044 != 0 {
		s.log.Warn("users file is readable by others; want mode 0600", "path", s.path, "mode", fi.Mode().Perm().String())
	}
	highest := costs[len(costs)-1]
	if below := len(users) - perCost[highest]; below > 0 {
		s.log.Warn("users file mixes bcrypt costs: every login compares one hash at each cost, so that its time does not tell whether the user exists, and takes longer; give every user a hash of one cost (authserver useradd hashes at cost 10)",
			"path", s.path, "belowHighestCost", below, "highestCost", highest, "costs", costs)
	}
	s.log.Info("users file loaded", "path", s.path, "users", len(users), "costs", costs)
	s.users, s.costs, s.dummies = users, costs, dummies
	return nil
}

// dummyHashes returns the current dummy hash at each cost (tests).
func (s *userStore) dummyHashes() map[int][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.dummies)
}
