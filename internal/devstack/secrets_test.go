package devstack

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSecretsRefusesABadFile: a secrets file the stack could not work with
// is an error that names it and says to delete it, and is left as it is
// (never regenerated in part: the running parts hold its keys).
func TestSecretsRefusesABadFile(t *testing.T) {
	good, _, err := loadOrCreateSecrets(filepath.Join(t.TempDir(), "state"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	user := func(s *Secrets, name string) *DemoUser {
		i := slices.IndexFunc(s.Users, func(u DemoUser) bool { return u.Name == name })
		if i < 0 {
			t.Fatalf("no user %s", name)
		}
		return &s.Users[i]
	}
	tests := []struct {
		name    string
		set     func(s *Secrets)
		raw     string // instead of s
		wantErr string // "": accepted
	}{
		{name: "as generated", set: func(s *Secrets) {}},
		{name: "a password of 12 characters", set: func(s *Secrets) { user(s, "pat").Password = "pat-01234567" }},
		{name: "not JSON", raw: `{"ablyKey":`, wantErr: "unexpected end of JSON input"},
		{name: "an Ably key that is not one", set: func(s *Secrets) { s.AblyKey = "devstack.local" }, wantErr: "key"},
		{name: "a password of 11 characters", set: func(s *Secrets) { user(s, "pat").Password = "pat-0123456" }, wantErr: "demo user pat missing or invalid"},
		{name: "a user with another role", set: func(s *Secrets) { user(s, "erin").Role = "admin" }, wantErr: "demo user erin missing or invalid"},
		{name: "a user missing", set: func(s *Secrets) { s.Users = s.Users[:2] }, wantErr: "demo user ada missing or invalid"},
		{name: "a signing key that is not one", set: func(s *Secrets) { s.SigningKey = "devstack:nope" }, wantErr: "delete it"},
		{name: "a verify key that is not one", set: func(s *Secrets) { s.VerifyKey = "devstack:nope" }, wantErr: "delete it"},
		// Only a file with neither key is from before decisions were
		// signed; one key without the other is damage.
		{name: "the signing key alone missing", set: func(s *Secrets) { s.SigningKey = "" }, wantErr: "delete it"},
		{name: "the verify key alone missing", set: func(s *Secrets) { s.VerifyKey = "" }, wantErr: "delete it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := []byte(tt.raw)
			if tt.raw == "" {
				s := good
				s.Users = slices.Clone(good.Users)
				tt.set(&s)
				if data, err = json.Marshal(s); err != nil {
					t.Fatal(err)
				}
			}
			path := filepath.Join(dir, SecretsFile)
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			_, created, err := loadOrCreateSecrets(dir, rand.Reader)
			if tt.wantErr == "" {
				if err != nil || created {
					t.Fatalf("loadOrCreateSecrets = created %v, %v; want the file's secrets", created, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) ||
				!strings.Contains(err.Error(), "delete it to generate new secrets") {
				t.Errorf("loadOrCreateSecrets = %v, want an error naming %s, with %q, saying to delete it", err, path, tt.wantErr)
			}
			if now, _ := os.ReadFile(path); !bytes.Equal(now, data) {
				t.Errorf("the file was rewritten:\n%s", now)
			}
		})
	}
}

// TestSecretsFiles: the state directory is the user's alone (0700), the
// secrets file too (0600), also once an old file gains the decision key
// pair; the Ably secret has 192 random bits, each password 64.
func TestSecretsFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, created, err := loadOrCreateSecrets(dir, rand.Reader)
	if err != nil || !created {
		t.Fatalf("loadOrCreateSecrets = created %v, %v", created, err)
	}
	path := filepath.Join(dir, SecretsFile)
	mode := func(p string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	if m := mode(dir); m != 0o700 {
		t.Errorf("state directory mode %v, want 0700", m)
	}
	if m := mode(path); m != 0o600 {
		t.Errorf("new secrets file mode %v, want 0600", m)
	}
	if !regexp.MustCompile(`^devstack\.local:[0-9a-f]{48}$`).MatchString(s.AblyKey) {
		t.Errorf("Ably key %q, want devstack.local: and 48 hex digits", s.AblyKey)
	}
	for _, u := range s.Users {
		if !regexp.MustCompile(`^` + u.Name + `-[0-9a-f]{16}$`).MatchString(u.Password) {
			t.Errorf("password of %s %q, want %s- and 16 hex digits", u.Name, u.Password, u.Name)
		}
	}

	// A file from before decisions were signed, readable by others (as
	// an old devstack or a copy may have left it): the rewrite adding the
	// key pair is the user's alone.
	old := s
	old.SigningKey, old.VerifyKey = "", ""
	b, _ := json.Marshal(old)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if s2, _, err := loadOrCreateSecrets(dir, rand.Reader); err != nil || s2.SigningKey == "" {
		t.Fatalf("upgrade: %+v, %v", s2, err)
	}
	if m := mode(path); m != 0o600 {
		t.Errorf("secrets file mode after adding the key pair %v, want 0600", m)
	}
}

// firstReadHook runs hook before its first Read from rand.Reader.
type firstReadHook struct {
	hook func()
	done bool
}

func (r *firstReadHook) Read(p []byte) (int, error) {
	if !r.done {
		r.done = true
		r.hook()
	}
	return rand.Reader.Read(p)
}

var _ io.Reader = (*firstReadHook)(nil)

// TestSecretsCreatedOnce: when another devstack writes the secrets file
// while this one generates its own, this one fails and leaves the other's
// file as it is: two stacks never hand out different keys.
func TestSecretsCreatedOnce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SecretsFile)
	theirs := []byte(`{"ablyKey":"devstack.local:theirs"}` + "\n")
	random := &firstReadHook{hook: func() {
		if err := os.WriteFile(path, theirs, 0o600); err != nil {
			t.Fatal(err)
		}
	}}
	_, created, err := loadOrCreateSecrets(dir, random)
	if err == nil || created || !strings.Contains(err.Error(), "write secrets") {
		t.Errorf("loadOrCreateSecrets = created %v, %v; want a write secrets error", created, err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, theirs) {
		t.Errorf("the other devstack's file was replaced:\n%s", now)
	}
}
