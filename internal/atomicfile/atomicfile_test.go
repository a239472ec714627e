package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	for _, content := range []string{"one", "two"} {
		if err := WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("content = %q, %v; want %q", got, err, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v; want only the file (no temporary left)", entries, err)
	}
}

func TestWriteFileMissingDirLeavesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "file")
	err := WriteFile(path, []byte("x"), 0o644)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming %s", err, path)
	}
}

func TestWriteNew(t *testing.T) {
	tests := []struct {
		name     string
		existing string // content already at the path; "" for none
		wantErr  error
		want     string
	}{
		{name: "creates", want: "new"},
		{name: "keeps an existing file", existing: "old", wantErr: fs.ErrExist, want: "old"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "post.md")
			if tt.existing != "" {
				if err := os.WriteFile(path, []byte(tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := WriteNew(path, []byte("new"), 0o644)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != tt.want {
				t.Errorf("content = %q, %v; want %q", got, err, tt.want)
			}
			if tt.wantErr == nil {
				if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("mode = %v, %v; want 0644", fi.Mode().Perm(), err)
				}
			}
			if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
				t.Errorf("directory holds %v, %v; want only the file (no temporary left)", entries, err)
			}
		})
	}
}

// TestWriteNewOneWinner: of several writers racing for one name, exactly
// one succeeds and the file holds its data, whole.
func TestWriteNewOneWinner(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "post.md")
	winner := oneWinner(t, 8, func(i int) error {
		return WriteNew(path, []byte(strings.Repeat(strconv.Itoa(i), 4096)), 0o644)
	})
	if got, err := os.ReadFile(path); err != nil || string(got) != strings.Repeat(strconv.Itoa(winner), 4096) {
		t.Errorf("file does not hold the winner's data whole (%d bytes, %v)", len(got), err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v; want only the file (no temporary left)", entries, err)
	}
}

// oneWinner runs claim(0) … claim(n-1) at once and returns the i whose
// claim succeeded; it fails the test unless exactly one did and every other
// failed with fs.ErrExist.
func oneWinner(t *testing.T, n int, claim func(i int) error) int {
	t.Helper()
	start := make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = claim(i)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("claims %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, fs.ErrExist):
			t.Errorf("claim %d: err = %v, want fs.ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no claim succeeded")
	}
	return winner
}

// TestWriteFileFailedRenameLeavesNothing: a rename that fails (the target
// is a directory) removes the temporary file.
func TestWriteFileFailedRenameLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "users.json")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(path, "inside"), "x")
	if err := WriteFile(path, []byte("data"), 0o600); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("WriteFile over a directory: err = %v, want an error naming %s", err, path)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 1 {
		t.Errorf("directory holds %v, %v; want only the directory (no temporary left)", entries, err)
	}
}

// TestTemporaryBesideTheTarget: the temporary file is made in the target's
// directory, not in TMPDIR (a rename or link from another file system
// fails), and is closed: a writer of the users file leaks no descriptors.
func TestTemporaryBesideTheTarget(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "no-such-dir"))
	dir := t.TempDir()
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skipf("no /proc/self/fd: %v", err)
		}
		return len(entries)
	}
	before := fds()
	for i := range 20 {
		if err := WriteFile(filepath.Join(dir, "users.json"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := WriteNew(filepath.Join(dir, strconv.Itoa(i)+".md"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if after := fds(); after >= before+20 {
		t.Errorf("%d open descriptors after 40 writes, %d before", after, before)
	}
}
