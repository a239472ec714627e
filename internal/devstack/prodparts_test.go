package devstack

import (
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// TestProdStackPidAndClose: Pid names each running part and none that
// exited; Close stops the bridges, the workers (each in reverse), the auth
// server, the in-process servers in reverse, the UI, Temporal (SIGTERM
// each) and then PostgreSQL (SIGINT, its fast shutdown), removes
// PostgreSQL's directory and releases the work directory, which it
// removes only when it made it.
func TestProdStackPidAndClose(t *testing.T) {
	for _, tempWork := range []bool{true, false} {
		rec := stopRecord(t)
		st := prodFixture(2, 2)
		st.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		st.work, st.tempWork = t.TempDir(), tempWork
		started := map[string]*proc{}
		for _, name := range []string{"worker-1", "worker-2", "bridge-1", "bridge-2", "authserver", "ui", "temporal", "postgres"} {
			started[name], _ = startNamed(t, "signals", name, recordTo(rec))
		}
		st.workers = []*proc{started["worker-1"], started["worker-2"]}
		st.bridges = []*proc{started["bridge-1"], started["bridge-2"]}
		st.auth, st.ui, st.temporal = started["authserver"], started["ui"], started["temporal"]
		pgDir := t.TempDir()
		st.pg = &postgres{proc: started["postgres"], dir: pgDir}
		st.inproc = []func() error{recordStop(rec, "ably"), recordStop(rec, "model")}
		if err := os.MkdirAll(st.stateDir(), 0o700); err != nil {
			t.Fatal(err)
		}
		var err error
		if st.unlock, err = lockState(st.stateDir()); err != nil {
			t.Fatal(err)
		}

		for name, p := range started {
			if got := st.Pid(name); got != p.Pid() {
				t.Errorf("Pid(%s) = %d, want %d", name, got, p.Pid())
			}
		}
		if got := st.Pid("worker-3"); got != 0 {
			t.Errorf("Pid(worker-3) = %d, want 0", got)
		}
		crashed, _ := startHelper(t, "crash")
		<-crashed.Exited()
		st.workers[0] = crashed
		if got := st.Pid("worker-1"); got != 0 {
			t.Errorf("Pid of an exited worker = %d, want 0", got)
		}
		st.workers[0] = started["worker-1"]

		if err := st.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		want := []string{"bridge-2 terminated", "bridge-1 terminated", "worker-2 terminated", "worker-1 terminated", "authserver terminated",
			"model in process", "ably in process", "ui terminated", "temporal terminated", "postgres interrupt"}
		if got := recorded(t, rec); !slices.Equal(got, want) {
			t.Errorf("stopped %q, want %q", got, want)
		}
		if _, err := os.Stat(pgDir); !os.IsNotExist(err) {
			t.Errorf("PostgreSQL's directory: %v, want it removed", err)
		}
		if _, err := os.Stat(st.work); os.IsNotExist(err) != tempWork {
			t.Errorf("temporary %v: work directory removed %v", tempWork, os.IsNotExist(err))
		}
		if !tempWork {
			release, err := lockState(st.stateDir())
			if err != nil {
				t.Fatalf("the work directory is still locked: %v", err)
			}
			release()
		}
	}
}

// TestProdUpFailureKeepsTheLogs: a ProdUp that fails says where its logs
// are and keeps them (also in a temporary work directory), never removes a
// work directory it was given, and releases it.
func TestProdUpFailureKeepsTheLogs(t *testing.T) {
	for _, given := range []bool{false, true} {
		cfg := DefaultProdConfig(fakeRoot(t)) // no tools.env: the build fails
		cfg.PolicyFile = filepath.Join(testutil.ModuleRoot(t), "config", "policy.json")
		if given {
			cfg.Work = t.TempDir()
		}
		st, err := ProdUp(t.Context(), cfg, io.Discard)
		if st != nil {
			t.Fatal("ProdUp failed but returned a stack")
		}
		if err == nil {
			t.Fatal("ProdUp without tools.env: no error")
		}
		m := regexp.MustCompile(`\(logs: (.*)\)$`).FindStringSubmatch(err.Error())
		if !strings.Contains(err.Error(), "tools.env") || m == nil {
			t.Fatalf("ProdUp = %v, want the missing tools.env, with the logs", err)
		}
		logs := m[1]
		work := filepath.Dir(logs)
		if !given {
			t.Cleanup(func() { os.RemoveAll(work) })
		} else if work != cfg.Work {
			t.Errorf("logs in %s, want them in the work directory %s", logs, cfg.Work)
		}
		if fi, err := os.Stat(logs); err != nil || !fi.IsDir() {
			t.Errorf("given %v: the logs %s: %v, want them kept", given, logs, err)
		}
		release, err := lockState(filepath.Join(work, "state"))
		if err != nil {
			t.Fatalf("the work directory is still locked: %v", err)
		}
		release()
	}
}

// TestProdStackAccess: where the parts are, for the user and the tests:
// each worker's and bridge's own operations port, the programs, the
// user's environment (the policy, no Ably key), and a summary that shows
// the demo passwords but no key.
func TestProdStackAccess(t *testing.T) {
	st := prodFixture(2, 2)
	st.secrets.Users = []DemoUser{{Name: "pat", Role: "publisher", Password: "pat-0123456789"}}
	st.bins = map[string]string{binWorker: "/b/worker", binApprover: "/b/approver", binAuthServer: "/b/auth", binStarter: "/b/starter"}
	for name, want := range map[string]string{"worker-1": "http://127.0.0.1:19000", "worker-2": "http://127.0.0.1:19001",
		"bridge-1": "http://127.0.0.1:19100", "bridge-2": "http://127.0.0.1:19101", "authserver": "http://127.0.0.1:13002"} {
		if got := st.OpsURL(name); got != want {
			t.Errorf("OpsURL(%s) = %s, want %s", name, got, want)
		}
	}
	for name, want := range map[string]string{"starter": "/b/starter", "approver": "/b/approver", "worker": ""} {
		if got := st.Program(name); got != want {
			t.Errorf("Program(%s) = %q, want %q", name, got, want)
		}
	}
	got := envMapOf(t, st.UserEnv())
	want := map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:17233", "TEMPORAL_NAMESPACE": "default", "TEMPORAL_TLS": "false",
		"TEMPORAL_UI_URL": "http://127.0.0.1:18233", "HITL_POLICY_FILE": "/repo/config/policy.json", "ABLY_ENDPOINT": "127.0.0.1:18090",
		"ABLY_TLS": "false", "ABLY_CHANNEL": st.cfg.Channel, "AUTH_URL": "http://127.0.0.1:13001",
		"TEMPORAL_CONFIG_FILE": filepath.Join(st.work, "no-temporal-profile.toml")}
	if !maps.Equal(got, want) {
		t.Errorf("UserEnv = %v, want %v", got, want)
	}
	var b strings.Builder
	st.Summary(&b)
	out := b.String()
	for _, want := range []string{"pat-0123456789", "unset TEMPORAL_API_KEY ", "export TEMPORAL_CONFIG_FILE="} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{st.secrets.AblyKey, "ably-secret", st.signingKey, st.pgPassword} {
		if strings.Contains(out, secret) {
			t.Errorf("summary shows %q:\n%s", secret, out)
		}
	}
}

// TestProdBaseEnv: a child of the production stack gets only what it
// needs to run from devstack's environment, and no Temporal CLI profile:
// a developer's TEMPORAL_*, OPENAI_* or HITL_* settings do not reach it.
func TestProdBaseEnv(t *testing.T) {
	for name, v := range map[string]string{"PATH": "/bin", "HOME": "/home/x", "TMPDIR": "/tmp/x", "LANG": "C.UTF-8", "TZ": "UTC",
		"TEMPORAL_ADDRESS": "10.0.0.1:7233", "TEMPORAL_PROFILE": "prod", "OPENAI_API_KEY": "sk-leak", "HITL_POLICY_FILE": "/other.json", "ABLY_API_KEY": "x:y"} {
		t.Setenv(name, v)
	}
	st := prodFixture(1, 1)
	got := st.baseEnv()
	slices.Sort(got)
	want := []string{"HOME=/home/x", "LANG=C.UTF-8", "PATH=/bin", "TEMPORAL_CONFIG_FILE=/work/no-temporal-profile.toml", "TMPDIR=/tmp/x", "TZ=UTC"}
	if !slices.Equal(got, want) {
		t.Errorf("baseEnv = %q, want %q", got, want)
	}
}

// TestSpareProdPortsFixed: the ports the user chose are the ones used.
func TestSpareProdPortsFixed(t *testing.T) {
	cfg := DefaultProdConfig("/repo")
	cfg.TemporalPort, cfg.UIPort, cfg.AuthPort = 17001, 17002, 17003
	p, err := spareProdPorts(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Frontend != 17001 || p.UI != 17002 || p.Auth != 17003 {
		t.Errorf("frontend %d, UI %d, auth %d; want 17001, 17002, 17003", p.Frontend, p.UI, p.Auth)
	}
}

// TestProdTemporalExitsDuringStartup: a Temporal server that exits while
// the stack waits for it is said at once, with its exit status and the
// last line of its log (where it says why).
func TestProdTemporalExitsDuringStartup(t *testing.T) {
	st := prodFixture(1, 1)
	st.ports.Frontend = testutil.FreePort(t) // nothing listens there
	st.cfg.Timeout = time.Minute
	p, _ := startHelper(t, "crash")
	<-p.Exited()
	p.name = "temporal"
	err := st.waitTemporalHealthy(t.Context(), p)
	if want := `temporal exited during startup: exit status 7: worker: HITL_REANNOUNCE_EVERY="10": want a duration`; err == nil || err.Error() != want {
		t.Errorf("waitTemporalHealthy = %v, want %s", err, want)
	}
}
