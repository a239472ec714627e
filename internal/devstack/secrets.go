package devstack

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/atomicfile"
	"github.com/hitl/durable-approvals/internal/signing"
)

// DemoUser is a demo approver of the dev stack.
type DemoUser struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

// demoUserRoles are the demo approvers, one per role of the default policy.
var demoUserRoles = []DemoUser{{Name: "erin", Role: "editor"}, {Name: "pat", Role: "publisher"}, {Name: "ada", Role: "admin"}}

func demoUser(name string) (DemoUser, bool) {
	for _, u := range demoUserRoles {
		if u.Name == name {
			return u, true
		}
	}
	return DemoUser{}, false
}

// Secrets are the dev stack's generated credentials, created once and kept
// in .devstack/secrets.json (mode 0600) so restarts keep working tokens and
// the users' passwords.
type Secrets struct {
	// AblyKey is the local Ably server's key, "devstack.local:<secret>".
	AblyKey string     `json:"ablyKey"`
	Users   []DemoUser `json:"users"`
	// SigningKey (the bridge's) and VerifyKey (the worker's) are the
	// decision signing key pair (internal/signing).
	SigningKey string `json:"decisionSigningKey"`
	VerifyKey  string `json:"decisionVerifyKey"`
}

// User returns the demo user called name.
func (s Secrets) User(name string) (DemoUser, bool) {
	for _, u := range s.Users {
		if u.Name == name {
			return u, true
		}
	}
	return DemoUser{}, false
}

func (s Secrets) validate() error {
	if _, _, err := ablyconn.SplitKey(s.AblyKey); err != nil {
		return err
	}
	for _, want := range demoUserRoles {
		u, ok := s.User(want.Name)
		if !ok || u.Role != want.Role || len(u.Password) < 12 {
			return fmt.Errorf("demo user %s missing or invalid", want.Name)
		}
	}
	if _, err := signing.ParseSigner(s.SigningKey); err != nil {
		return err
	}
	if _, err := signing.ParseVerifier(s.VerifyKey); err != nil {
		return err
	}
	return nil
}

// decisionKeyID names the dev stack's decision signing key.
const decisionKeyID = "devstack"

// SecretsFile is the file in the state directory that keeps the generated
// Ably key and demo passwords (mode 0600).
const SecretsFile = "secrets.json"

// readSecrets reads dir/secrets.json and writes nothing. A missing file is
// an error that matches fs.ErrNotExist.
func readSecrets(dir string) (s Secrets, err error) {
	path := filepath.Join(dir, SecretsFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Secrets{}, fmt.Errorf("read secrets: %w", err)
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return Secrets{}, fmt.Errorf("%s: %w (delete it to generate new secrets)", path, err)
	}
	return s, nil
}

// loadOrCreateSecrets reads dir/secrets.json, or generates the secrets from
// random and writes them. created reports a new file.
func loadOrCreateSecrets(dir string, random io.Reader) (s Secrets, created bool, err error) {
	path := filepath.Join(dir, SecretsFile)
	s, err = readSecrets(dir)
	switch {
	case err == nil:
		if s.SigningKey == "" && s.VerifyKey == "" {
			// A state directory from before decisions were signed: add
			// the key pair, keep the rest.
			if s.SigningKey, s.VerifyKey, err = signing.Generate(decisionKeyID, random); err != nil {
				return Secrets{}, false, err
			}
			if err := writeSecrets(path, s); err != nil {
				return Secrets{}, false, err
			}
		}
		if err := s.validate(); err != nil {
			return Secrets{}, false, fmt.Errorf("%s: %w (delete it to generate new secrets)", path, err)
		}
		return s, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return Secrets{}, false, err
	}
	secret, err := randomHex(random, 24)
	if err != nil {
		return Secrets{}, false, err
	}
	s.AblyKey = "devstack.local:" + secret
	for _, u := range demoUserRoles {
		pw, err := randomHex(random, 8)
		if err != nil {
			return Secrets{}, false, err
		}
		u.Password = u.Name + "-" + pw
		s.Users = append(s.Users, u)
	}
	if s.SigningKey, s.VerifyKey, err = signing.Generate(decisionKeyID, random); err != nil {
		return Secrets{}, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Secrets{}, false, fmt.Errorf("create %s: %w", dir, err)
	}
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return Secrets{}, false, err
	}
	// O_EXCL: two devstacks starting at once must not hand out different
	// keys.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Secrets{}, false, fmt.Errorf("write secrets: %w", err)
	}
	if _, err := f.Write(append(out, '\n')); err != nil {
		f.Close()
		return Secrets{}, false, fmt.Errorf("write secrets: %w", err)
	}
	if err := f.Close(); err != nil {
		return Secrets{}, false, fmt.Errorf("write secrets: %w", err)
	}
	return s, true, nil
}

// writeSecrets replaces the secrets file (mode 0600) atomically.
func writeSecrets(path string, s Secrets) error {
	out, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(out, '\n'), 0o600); err != nil {
		return fmt.Errorf("write secrets: %w", err)
	}
	return nil
}

func randomHex(random io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
