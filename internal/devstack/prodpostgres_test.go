package devstack

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakePostgresBin makes a directory with an initdb that records how it
// was run (in its working directory, initdb.out) and a postgres that
// prints its arguments and exits, readable by every user (PostgreSQL runs
// as an unprivileged one when the tests run as root).
func fakePostgresBin(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	scripts := map[string]string{
		"initdb": `#!/bin/sh
pw=""
prev=""
for a in "$@"; do
	if [ "$prev" = "--pwfile" ]; then pw="$a"; fi
	prev="$a"
done
{
	echo "args $*"
	echo "uid $(id -u)"
	echo "pwfile $(stat -c %a "$pw") $(cat "$pw")"
	echo "env $(env | sort | tr '\n' ' ')"
} > "$PWD/initdb.out"
`,
		"postgres": "#!/bin/sh\necho \"postgres $*\"\nexit 1\n",
	}
	for name, script := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNewPostgres: initdb runs as the unprivileged user when devstack is
// root, with the password in a file of its own (0600, removed after),
// never on the command line, scram-sha-256 authentication, and an
// environment of its own; the server listens on 127.0.0.1 only, its
// socket in the private directory.
func TestNewPostgres(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-leak")
	bin := fakePostgresBin(t)
	const password = "pg-secret-0123"
	pg, err := newPostgres(t.Context(), bin, "postgres", 15432, "temporal", password, filepath.Join(t.TempDir(), "postgres.log"))
	if os.Geteuid() == 0 {
		if _, lerr := user.Lookup("postgres"); lerr != nil {
			t.Skipf("root, and no user postgres to run PostgreSQL as: %v", lerr)
		}
	}
	if err != nil {
		t.Fatalf("newPostgres: %v", err)
	}
	t.Cleanup(func() { pg.remove() })
	out, err := os.ReadFile(filepath.Join(pg.dir, "initdb.out"))
	if err != nil {
		t.Fatal(err)
	}
	wantUID := os.Geteuid()
	if wantUID == 0 {
		u, _ := user.Lookup("postgres")
		wantUID, _ = strconv.Atoi(u.Uid)
	}
	pwfile := filepath.Join(pg.dir, "pwfile")
	for _, want := range []string{
		fmt.Sprintf("args -D %s -U temporal --pwfile %s --auth scram-sha-256 --encoding UTF8 --no-instructions --no-sync\n", pg.dataDir(), pwfile),
		fmt.Sprintf("uid %d\n", wantUID),
		"pwfile 600 " + password + "\n",
		"env LANG=C.UTF-8 PATH=/usr/bin:/bin PWD=" + pg.dir + " TZ=UTC \n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("initdb ran without %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(pwfile); !os.IsNotExist(err) {
		t.Errorf("password file after initdb: %v, want it removed", err)
	}
	if fi, err := os.Stat(pg.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("PostgreSQL's directory: %v, %v; want mode 0700", fi, err)
	}

	err = pg.start(t.Context(), 10*time.Second)
	want := fmt.Sprintf("postgres -D %s -c listen_addresses=127.0.0.1 -p 15432 -c unix_socket_directories=%s -c max_connections=200", pg.dataDir(), pg.dir)
	if err == nil || !strings.Contains(err.Error(), "postgres exited during startup") || !strings.Contains(err.Error(), want) {
		t.Errorf("start = %v, want the server's exit, run as %q", err, want)
	}
}

// TestNewPostgresRefuses: no PostgreSQL installed, or (as root) no
// unprivileged user to run it as, is an error that says so, and leaves no
// directory behind.
func TestNewPostgresRefuses(t *testing.T) {
	tests := []struct {
		name, bin, osUser, wantErr string
		rootOnly                   bool
	}{
		{"not installed", t.TempDir(), "postgres", "PostgreSQL 15 is not installed", false},
		{"the user is root", fakePostgresBin(t), "root", `user "root" is root; PostgreSQL needs an unprivileged user`, true},
		{"no such user", fakePostgresBin(t), "no-such-user-devstack", `PostgreSQL must not run as root, and user "no-such-user-devstack" to run it as`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.rootOnly && os.Geteuid() != 0 {
				t.Skip("only as root")
			}
			tmp := t.TempDir() // newPostgres makes its directory in TMPDIR
			t.Setenv("TMPDIR", tmp)
			pg, err := newPostgres(t.Context(), tt.bin, tt.osUser, 15432, "temporal", "pw-0123456789", filepath.Join(t.TempDir(), "pg.log"))
			if err == nil {
				pg.remove()
				t.Fatalf("newPostgres: no error, want %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("newPostgres = %v, want %q", err, tt.wantErr)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("left %v behind", left)
			}
		})
	}
}
