package atomicfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestMoveNew(t *testing.T) {
	tests := []struct {
		name      string
		src, dst  string // contents before; "" for no file
		wantErr   error
		wantSrc   string // contents after; "" for no file
		wantDst   string
		otherDirs bool
	}{
		{name: "moves", src: "post", wantDst: "post"},
		{name: "moves to another directory", src: "post", wantDst: "post", otherDirs: true},
		{name: "keeps an existing target", src: "post", dst: "other", wantErr: fs.ErrExist, wantSrc: "post", wantDst: "other"},
		{name: "no source", wantErr: fs.ErrNotExist},
		{name: "no source, existing target", dst: "other", wantErr: fs.ErrNotExist, wantDst: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			src, dst := filepath.Join(dir, "post.md"), filepath.Join(dir, "moved.md")
			if tt.otherDirs {
				dst = filepath.Join(dir, ".deleted", "moved.md")
				if err := os.Mkdir(filepath.Dir(dst), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			put(t, src, tt.src)
			put(t, dst, tt.dst)
			err := MoveNew(src, dst)
			if (tt.wantErr == nil) != (err == nil) || !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got := contents(t, src); got != tt.wantSrc {
				t.Errorf("source holds %q, want %q", got, tt.wantSrc)
			}
			if got := contents(t, dst); got != tt.wantDst {
				t.Errorf("target holds %q, want %q", got, tt.wantDst)
			}
		})
	}
}

// TestMoveNewOneWinner: of several files moved to one name at once,
// exactly one gets there, and the others stay where they were.
func TestMoveNewOneWinner(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "moved.md")
	const n = 8
	srcs := make([]string, n)
	for i := range srcs {
		srcs[i] = filepath.Join(dir, strconv.Itoa(i)+".md")
		put(t, srcs[i], strconv.Itoa(i))
	}
	winner := oneWinner(t, n, func(i int) error { return MoveNew(srcs[i], dst) })
	if got := contents(t, dst); got != strconv.Itoa(winner) {
		t.Errorf("target holds %q, want the winner's %q", got, strconv.Itoa(winner))
	}
	for i, src := range srcs {
		if want := strconv.Itoa(i); i != winner && contents(t, src) != want {
			t.Errorf("%s holds %q, want %q (not moved)", src, contents(t, src), want)
		}
	}
}

// put writes content to path; "" writes nothing.
func put(t *testing.T, path, content string) {
	t.Helper()
	if content == "" {
		return
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// contents reads path; "" if there is no file.
func contents(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
