package authserver

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// A users file that is not a regular file is refused before it is opened:
// a named pipe would block every login on its read.
func TestUsersFileFIFORefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := New(Config{UsersFile: path, AblyKey: testKey, BcryptCost: bcrypt.MinCost})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Fatalf("New with a FIFO as the users file: %v, want not a regular file", err)
		}
	case <-time.After(10 * time.Second):
		// Open and close the other end, so that the blocked read ends.
		if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			f.Close()
		}
		<-done
		t.Fatal("New blocked reading a FIFO as the users file")
	}
}

// A users file that changes is read again even when its modification time
// stays (cp -p, rsync -t, a restore from a backup): a change of size, or a
// new file in its place, is seen as well.
func TestUsersFileReloadKeepsMtime(t *testing.T) {
	tests := []struct {
		name string
		// change writes the users file at path anew, without erin or with.
		change func(t *testing.T, path string, data []byte)
	}{
		{"rewritten in place, other size", func(t *testing.T, path string, data []byte) {
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"replaced by another file", func(t *testing.T, path string, data []byte) {
			tmp := path + ".new"
			if err := os.WriteFile(tmp, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, path := newTestServer(t, nil)
			h := s.Handler()
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if code := doToken(t, h, "GET", "192.0.2.42:1", basic("alice", "alice-password")).Code; code != 200 {
				t.Fatalf("alice before: %d", code)
			}
			// The same size for a new file: alice's hash replaced by
			// another of the same length, so only identity tells.
			users, err := ParseUsers(before, Rules{Cost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
			other, err := bcrypt.GenerateFromPassword([]byte("alice-password-2"), bcrypt.MinCost)
			if err != nil {
				t.Fatal(err)
			}
			u := users["alice"]
			u.PasswordHash = string(other)
			users["alice"] = u
			if strings.HasPrefix(tt.name, "rewritten") {
				delete(users, "carol") // other size
			}
			data, err := MarshalUsers(users)
			if err != nil {
				t.Fatal(err)
			}
			tt.change(t, path, data)
			if err := os.Chtimes(path, time.Time{}, fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			if code := doToken(t, h, "GET", "192.0.2.42:1", basic("alice", "alice-password-2")).Code; code != 200 {
				t.Errorf("alice with her new password: %d, want 200", code)
			}
		})
	}
}

// logRecords collects the level and message of every record logged
// through it or a logger derived from it.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	level slog.Level
	msg   string
}

func (r logRecord) String() string { return r.level.String() + " " + r.msg }

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecords) WithGroup(string) slog.Handler            { return l }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, logRecord{r.Level, r.Message})
	return nil
}

// take returns the records logged since the last take.
func (l *logRecords) take() []logRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := l.recs
	l.recs = nil
	return recs
}

// Each revision of the users file that the running server reads is logged
// at a level that says what it means for logins: a usable revision at
// Info, with a Warn before it for what the administrator should fix (a
// file others may read, mixed bcrypt costs); a revision that refuses every
// login (unreadable, does not parse, writable by others, in a directory
// others may write) at Error; its directory fixed at Info.
func TestUsersFileRevisionLogLevels(t *testing.T) {
	type step struct {
		change func(t *testing.T, path string)
		want   []logRecord // level and start of the message
	}
	chmod := func(mode os.FileMode, dir bool) func(*testing.T, string) {
		return func(t *testing.T, path string) {
			if dir {
				path = filepath.Dir(path)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	addEve := func(t *testing.T, path string) {
		if err := AddUser(path, "eve", "editor", "eve-password-1", nil, WithCost(bcrypt.MinCost)); err != nil {
			t.Fatal(err)
		}
	}
	loaded := logRecord{slog.LevelInfo, "users file loaded"}
	refused := logRecord{slog.LevelError, "users file refused"}
	tests := []struct {
		name  string
		steps []step
	}{
		{"a new revision", []step{{addEve, []logRecord{loaded}}}},
		{"a revision that does not parse", []step{
			{func(t *testing.T, path string) {
				if err := writeFileAtomic(path, []byte("{")); err != nil {
					t.Fatal(err)
				}
			}, []logRecord{refused}},
			{func(t *testing.T, path string) { // a good revision in its place
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				addEve(t, path)
			}, []logRecord{loaded}},
		}},
		{"a revision writable by group", []step{
			{chmod(0o620, false), []logRecord{refused}},
			{chmod(0o600, false), []logRecord{loaded}},
		}},
		{"a revision readable by others", []step{
			{chmod(0o644, false), []logRecord{{slog.LevelWarn, "users file is readable by others"}, loaded}},
		}},
		{"a revision mixing bcrypt costs", []step{
			{func(t *testing.T, path string) { writeHashedUser(t, path, "slow", "slow-password", bcrypt.MinCost+1) },
				[]logRecord{{slog.LevelWarn, "users file mixes bcrypt costs"}, loaded}},
		}},
		{"the file removed, then written again", []step{
			{func(t *testing.T, path string) {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			}, []logRecord{{slog.LevelError, "users file unreadable"}}},
			{addEve, []logRecord{loaded}},
		}},
		{"its directory writable by group, then fixed", []step{
			{chmod(0o770, true), []logRecord{refused}},
			{chmod(0o700, true), []logRecord{{slog.LevelInfo, "users file directory fixed"}}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &logRecords{}
			s, _, path := newTestServer(t, func(c *Config) { c.Logger = slog.New(logs) })
			if got := logs.take(); !slices.Equal(got, []logRecord{loaded}) {
				t.Fatalf("start: logged %v, want %v", got, []logRecord{loaded})
			}
			for i, st := range tt.steps {
				st.change(t, path)
				_ = s.Health(t.Context()) // re-reads a changed file
				got := logs.take()
				ok := len(got) == len(st.want)
				for j := 0; ok && j < len(got); j++ {
					ok = got[j].level == st.want[j].level && strings.HasPrefix(got[j].msg, st.want[j].msg)
				}
				if !ok {
					t.Errorf("step %d: logged %v, want %v", i+1, got, st.want)
				}
			}
		})
	}
}
