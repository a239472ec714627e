package authserver

import (
	"os"
	"path/filepath"
	"strings"
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
