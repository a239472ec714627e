package devstack

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
)

// Where the production stack's parts are, for its summary and for tests.

// TemporalAddress is the frontend's gRPC address.
func (st *ProdStack) TemporalAddress() string { return hostPort(st.ports.Frontend) }

// TemporalMetricsURL is the Temporal server's Prometheus endpoint.
func (st *ProdStack) TemporalMetricsURL() string {
	return "http://" + hostPort(st.ports.TemporalMetrics) + "/metrics"
}

// UIURL is the Web UI.
func (st *ProdStack) UIURL() string { return "http://" + hostPort(st.ports.UI) }

// AblyEndpoint is the local Ably server's host:port.
func (st *ProdStack) AblyEndpoint() string { return hostPort(st.ports.Ably) }

// AblyKey is the local Ably server's key (trusted parts only).
func (st *ProdStack) AblyKey() string { return st.secrets.AblyKey }

// AuthURL is the auth server's base URL.
func (st *ProdStack) AuthURL() string { return "http://" + hostPort(st.ports.Auth) }

// ModelURL is the scripted model's base URL.
func (st *ProdStack) ModelURL() string { return "http://" + hostPort(st.ports.Model) + "/v1/" }

// OpsURL is the operations endpoint (/healthz, /metrics) of worker-N,
// bridge-N or authserver.
func (st *ProdStack) OpsURL(name string) string {
	port := st.ports.AuthOps
	for i, p := range st.ports.WorkerOps {
		if name == workerName(i) {
			port = p
		}
	}
	for i, p := range st.ports.BridgeOps {
		if name == bridgeName(i) {
			port = p
		}
	}
	return "http://" + hostPort(port)
}

// Workers and Bridges name the worker and bridge processes.
func (st *ProdStack) Workers() []string { return names(st.cfg.Workers, workerName) }
func (st *ProdStack) Bridges() []string { return names(st.cfg.Bridges, bridgeName) }

func names(n int, name func(int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = name(i)
	}
	return out
}

// Program is the path of a main built for the stack: "starter" or
// "approver" (the human CLI and the bridge).
func (st *ProdStack) Program(name string) string {
	switch name {
	case "starter":
		return st.bins[binStarter]
	case "approver":
		return st.bins[binApprover]
	}
	return ""
}

// Users are the demo approvers (erin editor, pat publisher, ada admin).
func (st *ProdStack) Users() []DemoUser { return st.secrets.Users }

// BlogDir is where the workers publish posts (one directory for all, with
// its idempotency ledger).
func (st *ProdStack) BlogDir() string { return filepath.Join(st.work, "posts") }

// UsersFile is the auth server's users file.
func (st *ProdStack) UsersFile() string { return filepath.Join(st.stateDir(), "users.json") }

// LogDir holds one log per part (NAME.log) and devstack.log.
func (st *ProdStack) LogDir() string { return filepath.Join(st.work, "logs") }

// TraceDir holds the span files of the workers and bridges (with Trace).
func (st *ProdStack) TraceDir() string { return filepath.Join(st.work, "traces") }

func (st *ProdStack) stateDir() string { return filepath.Join(st.work, "state") }

// UserEnv is what a user exports to run starter and approver against the
// stack (no Ably key: only trusted parts get that).
func (st *ProdStack) UserEnv() []EnvVar {
	return []EnvVar{
		{config.EnvTemporalAddress, st.TemporalAddress()},
		{config.EnvTemporalNamespace, st.cfg.Namespace},
		{"TEMPORAL_TLS", "false"},
		{envTemporalConfigFile, st.noProfileFile()},
		{config.EnvTemporalUIURL, st.UIURL()},
		{config.EnvPolicyFile, st.cfg.PolicyFile},
		{ablyconn.EnvEndpoint, st.AblyEndpoint()},
		{ablyconn.EnvTLS, "false"},
		{config.EnvChannel, st.cfg.Channel},
		{config.EnvAuthURL, st.AuthURL()},
	}
}

// noProfileFile is the Temporal CLI profile the parts and the user's shell
// are pointed at: none (baseEnv).
func (st *ProdStack) noProfileFile() string { return filepath.Join(st.work, noProfileName) }

// Summary tells the user where everything is.
func (st *ProdStack) Summary(w io.Writer) {
	fmt.Fprintf(w, "\nThe production topology is up (no Docker): work directory %s\n", st.work)
	fmt.Fprintf(w, "  PostgreSQL %d    127.0.0.1:%d (pid %d, temporary data directory)\n", PostgresMajor, st.ports.Postgres, st.PostgresPid())
	fmt.Fprintf(w, "  Temporal server %s  namespace %s  metrics %s\n", st.TemporalAddress(), st.cfg.Namespace, st.TemporalMetricsURL())
	if st.cfg.UI {
		fmt.Fprintf(w, "  Temporal Web UI %s\n", st.UIURL())
	}
	fmt.Fprintf(w, "  Ably (local)    %s  channel %s\n", st.AblyEndpoint(), st.cfg.Channel)
	fmt.Fprintf(w, "  Auth server     %s  (metrics %s/metrics)\n", st.AuthURL(), st.OpsURL("authserver"))
	for _, name := range append(st.Workers(), st.Bridges()...) {
		fmt.Fprintf(w, "  %-15s pid %-7d %s/healthz %s/metrics\n", name, st.Pid(name), st.OpsURL(name), st.OpsURL(name))
	}
	fmt.Fprintf(w, "  Posts           %s\n  Logs            %s\n", st.BlogDir(), st.LogDir())
	fmt.Fprintf(w, "\nDemo approvers:\n")
	for _, u := range st.secrets.Users {
		fmt.Fprintf(w, "  %-5s %-10s %s\n", u.Name, u.Role, u.Password)
	}
	fmt.Fprintf(w, "\nIn another terminal:\n")
	fmt.Fprint(w, shellLines(st.UserEnv(), os.Environ()))
	fmt.Fprintf(w, "  go run ./starter --wait %q\n  APPROVER_USER=pat APPROVER_PASSWORD=... go run ./approver watch\n\nCtrl-C stops everything.\n", DemoPrompt)
}
