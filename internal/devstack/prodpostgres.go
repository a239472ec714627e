package devstack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// PostgresMajor is the PostgreSQL major version the production topology runs
// (Debian's postgresql-15; compose's image carries the same major, checked by
// deploy/composetest).
const PostgresMajor = 15

// DefaultPostgresBin is where Debian installs PostgreSQL's server programs.
var DefaultPostgresBin = fmt.Sprintf("/usr/lib/postgresql/%d/bin", PostgresMajor)

// postgres is a PostgreSQL server in a temporary data directory, on a
// loopback port, run as an unprivileged user.
type postgres struct {
	bin      string // directory of initdb and postgres
	dir      string // temporary directory: data/, the socket, pwfile
	port     int
	user     string // database superuser (compose: POSTGRES_USER)
	password string
	cred     *syscall.Credential // nil: run as ourselves
	logPath  string
	proc     *proc
}

// newPostgres prepares a data directory owned by osUser (used only when we
// are root: initdb refuses to run as root) and runs initdb in it.
func newPostgres(ctx context.Context, bin, osUser string, port int, dbUser, password, logPath string) (*postgres, error) {
	pg := &postgres{bin: bin, port: port, user: dbUser, password: password, logPath: logPath}
	for _, prog := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			return nil, fmt.Errorf("PostgreSQL %d is not installed (%w): apt-get install postgresql-%d, or pass -postgres-bin", PostgresMajor, err, PostgresMajor)
		}
	}
	dir, err := os.MkdirTemp("", "hitl-pg-")
	if err != nil {
		return nil, err
	}
	pg.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup(osUser)
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("PostgreSQL must not run as root, and user %q to run it as: %w", osUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if uid == 0 {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("user %q is root; PostgreSQL needs an unprivileged user", osUser)
		}
		pg.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	pw := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		pg.remove()
		return nil, err
	}
	if pg.cred != nil {
		if err := os.Chown(pw, int(pg.cred.Uid), int(pg.cred.Gid)); err != nil {
			pg.remove()
			return nil, err
		}
	}
	out, err := pg.command(ctx, "initdb", "-D", pg.dataDir(), "-U", dbUser, "--pwfile", pw,
		"--auth", "scram-sha-256", "--encoding", "UTF8", "--no-instructions", "--no-sync").CombinedOutput()
	os.Remove(pw)
	if err != nil {
		pg.remove()
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return pg, nil
}

func (pg *postgres) dataDir() string { return filepath.Join(pg.dir, "data") }

// command is prog of the PostgreSQL bin directory, as the unprivileged user.
func (pg *postgres) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(pg.bin, prog), args...)
	cmd.Dir = pg.dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8", "TZ=UTC"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: pg.cred}
	return cmd
}

// start runs the server and waits until it accepts TCP connections on
// its loopback port.
func (pg *postgres) start(ctx context.Context, timeout time.Duration) error {
	logf, err := os.OpenFile(pg.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("postgres log: %w", err)
	}
	fmt.Fprintf(logf, "\n=== %s: postgres on 127.0.0.1:%d, data %s\n", time.Now().Format(time.RFC3339), pg.port, pg.dataDir())
	// Not CommandContext: the server outlives the start call.
	cmd := pg.command(context.WithoutCancel(ctx), "postgres", "-D", pg.dataDir(),
		"-c", "listen_addresses=127.0.0.1", "-p", strconv.Itoa(pg.port),
		"-c", "unix_socket_directories="+pg.dir, "-c", "max_connections=200")
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := childSysProcAttr()
	attr.Credential = pg.cred
	cmd.SysProcAttr = attr
	p, err := launch("postgres", cmd, logf)
	if err != nil {
		return err
	}
	p.logPath = pg.logPath // an exit during startup says why (exitedDuringStartup)
	pg.proc = p
	return waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", pg.port), p, timeout)
}

// stopFast is PostgreSQL's fast shutdown (SIGINT: roll back open
// transactions, close connections, checkpoint, exit), what `pg_ctl stop -m
// fast` sends; it waits up to grace, then kills.
func (pg *postgres) stopFast(grace time.Duration) error {
	if pg.proc == nil {
		return nil
	}
	p := pg.proc
	pg.proc = nil
	return p.stopWith(syscall.SIGINT, grace)
}

// remove deletes the temporary directory (the server must be stopped).
func (pg *postgres) remove() error {
	if pg.dir == "" {
		return nil
	}
	err := os.RemoveAll(pg.dir)
	pg.dir = ""
	return err
}
