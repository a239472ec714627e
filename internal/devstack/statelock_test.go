//go:build unix

package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// One work directory, one stack: a second lock on it is refused, naming
// the holder, until the first is released.
func TestLockState(t *testing.T) {
	dir := t.TempDir()
	release, err := lockState(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = lockState(dir)
	if !errors.Is(err, ErrStateInUse) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second lock: %v, want ErrStateInUse naming pid %d", err, os.Getpid())
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	again, err := lockState(dir)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := again(); err != nil {
		t.Fatal(err)
	}
}

// Up on a work directory another devstack holds fails at once, before it
// starts anything on the shared Temporal database.
func TestUpRefusesAWorkDirInUse(t *testing.T) {
	c := testConfig(t, config.Env{})
	c.Work = t.TempDir()
	if err := os.MkdirAll(c.StateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	release, err := lockState(c.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release() })
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out bytes.Buffer
	st, err := Up(ctx, c, &out)
	if st != nil {
		st.Close()
	}
	if !errors.Is(err, ErrStateInUse) {
		t.Fatalf("Up on a locked work directory: %v, want ErrStateInUse\n%s", err, out.String())
	}
	if _, err := os.Stat(filepath.Join(c.StateDir(), SecretsFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Up wrote secrets before it had the work directory: %v", err)
	}
}

// env only reads: a state directory from before decisions were signed is
// printed as it is, and left as it is (Up adds the key pair, under the
// work directory's lock).
func TestEnvWritesNothing(t *testing.T) {
	work := t.TempDir()
	state := filepath.Join(work, "state")
	s, _, err := loadOrCreateSecrets(state, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s.SigningKey, s.VerifyKey = "", ""
	old, _ := json.Marshal(s)
	path := filepath.Join(state, SecretsFile)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), &out, io.Discard); err != nil {
		t.Fatalf("env: %v", err)
	}
	pat, _ := s.User("pat")
	if !strings.Contains(out.String(), "export APPROVER_PASSWORD="+pat.Password) {
		t.Errorf("env output lacks pat's password:\n%s", out.String())
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, old) {
		t.Errorf("env rewrote %s", path)
	}
}

// env only reads: on a work directory with no stack it says so and
// creates nothing (new passwords would not be the running stack's).
func TestEnvNeedsAStack(t *testing.T) {
	work := t.TempDir()
	var out bytes.Buffer
	err := Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no dev stack state in "+filepath.Join(work, "state")) ||
		!strings.Contains(err.Error(), "start one with `devstack up -work "+shellQuote(work)+"` first") {
		t.Fatalf("env without a stack: %v, want an error naming the state directory and the up to run", err)
	}
	if out.Len() != 0 {
		t.Errorf("env printed settings without a stack:\n%s", out.String())
	}
	if entries, _ := os.ReadDir(work); len(entries) != 0 {
		t.Errorf("env created %v in the work directory", entries)
	}
}

// TestStateFilesArePrivate: the stack record and the lock file in the
// state directory are the user's alone (0600), as the secrets are.
func TestStateFilesArePrivate(t *testing.T) {
	c := testConfig(t, config.Env{})
	c.Work = t.TempDir()
	if err := os.MkdirAll(c.StateDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeStackRecord(c, false); err != nil {
		t.Fatal(err)
	}
	release, err := lockState(c.StateDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { release() })
	for _, name := range []string{StackFile, stateLockFile} {
		fi, err := os.Stat(filepath.Join(c.StateDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, m)
		}
	}
}

// A first up that fails leaves no stack for env to print: with a port
// taken it records and generates nothing; failing later (here, at a
// Temporal CLI that is not there) its record says it never came up, and
// env refuses rather than print settings and passwords nothing answers to.
// The up that then comes up shows the passwords the failed one never did.
func TestFailedFirstUp(t *testing.T) {
	work := t.TempDir()
	c := testConfig(t, config.Env{})
	c.Work = work
	c.Ports = Ports{Temporal: testutil.FreePort(t), UI: testutil.FreePort(t), Ably: testutil.FreePort(t), Auth: testutil.FreePort(t), Model: testutil.FreePort(t)}
	c.TemporalCLI = filepath.Join(t.TempDir(), "no-temporal")
	env := func() error {
		return Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), io.Discard, io.Discard)
	}

	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", c.Ports.Ably))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Up(t.Context(), c, io.Discard); err == nil || !strings.Contains(err.Error(), "is in use") {
		t.Fatalf("Up with a port taken: %v, want the port named in use", err)
	}
	ln.Close()
	for _, f := range []string{SecretsFile, StackFile} {
		if _, err := os.Stat(filepath.Join(c.StateDir(), f)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Up refused for a port taken left %s (%v)", f, err)
		}
	}
	if err := env(); err == nil || !strings.Contains(err.Error(), "no dev stack state") {
		t.Errorf("env after that: %v, want no dev stack state", err)
	}

	if _, err := Up(t.Context(), c, io.Discard); err == nil || !strings.Contains(err.Error(), "no-temporal") {
		t.Fatalf("Up without its Temporal CLI: %v, want that error", err)
	}
	if r, ok, err := readStackRecord(c.StateDir()); err != nil || !ok || !r.NotUp {
		t.Errorf("record after a failed first up: %+v, %v, %v; want one saying it never came up", r, ok, err)
	}
	if err := env(); err == nil || !strings.Contains(err.Error(), "has not come up yet") {
		t.Errorf("env after that: %v, want has not come up yet", err)
	}

	s, created, err := loadOrCreateSecrets(c.StateDir(), rand.Reader)
	if err != nil || created {
		t.Fatalf("the failed up's secrets: created %v, %v", created, err)
	}
	pat, _ := s.User("pat")
	for _, tt := range []struct {
		name           string
		created, first bool
		want           bool
	}{
		{"secrets made by this up", true, true, true},
		{"the first up to come up, secrets from a failed one", false, true, true},
		{"a later up", false, false, false},
	} {
		var b strings.Builder
		(&Stack{cfg: c, secrets: s, created: tt.created, firstUp: tt.first}).Summary(&b)
		if got := strings.Contains(b.String(), pat.Password); got != tt.want {
			t.Errorf("%s: summary shows the passwords %v, want %v:\n%s", tt.name, got, tt.want, b.String())
		}
	}
}
