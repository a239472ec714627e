package devstack

import (
	"fmt"
	"testing"

	"github.com/hitl/durable-approvals/config"
)

// prodFixture is a ProdStack with distinct ports and keys, started nothing.
func prodFixture(workers, bridges int) *ProdStack {
	st := &ProdStack{cfg: DefaultProdConfig("/repo"), work: "/work", pgPassword: "pg-secret",
		signingKey: "prodstack:signing-secret", verifyKeys: "prodstack:verify-public",
		secrets:      Secrets{AblyKey: "devstack.local:ably-secret"},
		tools:        map[string]string{"temporal": "/bin/temporal", "temporal-sql-tool": "/bin/temporal-sql-tool"},
		serverModule: "/mod/server"}
	st.cfg.Workers, st.cfg.Bridges = workers, bridges
	st.cfg.WorkerTuning = map[string]string{}
	for _, name := range config.WorkerTuningEnv() {
		st.cfg.WorkerTuning[name] = ""
	}
	st.ports = prodPorts{Postgres: 15432, Frontend: 17233, FrontendHTTP: 17243, FrontendMembership: 26933,
		History: 17234, HistoryMembership: 26934, Matching: 17235, MatchingMembership: 26935,
		Worker: 17239, WorkerMembership: 26939, TemporalMetrics: 18000, UI: 18233, Ably: 18090, Auth: 13001, AuthOps: 13002, Model: 18095}
	for i := range workers {
		st.ports.WorkerOps = append(st.ports.WorkerOps, 19000+i)
	}
	for i := range bridges {
		st.ports.BridgeOps = append(st.ports.BridgeOps, 19100+i)
	}
	return st
}

// TestProdEnvValues: the values each service of `devstack prod` gets:
// everything on loopback and in plain text there without a leave to go
// off it, each worker and bridge its own health port and span file, the
// keys to those that hold them, the worker's tuning passed on.
// (deploy/composetest checks the names against compose.)
func TestProdEnvValues(t *testing.T) {
	st := prodFixture(2, 2)
	st.cfg.Trace = true
	st.cfg.WorkerTuning["HITL_WORKFLOW_CACHE"] = "64"
	ably := map[string]string{"ABLY_API_KEY": "devstack.local:ably-secret", "ABLY_ENDPOINT": "127.0.0.1:18090", "ABLY_TLS": "false",
		"ABLY_INSECURE_ALLOW_PLAINTEXT": "false"}
	tests := []struct {
		service string
		vars    []EnvVar
		want    map[string]string
	}{
		{"temporal-schema", st.schemaEnv(), map[string]string{"POSTGRES_SEEDS": "127.0.0.1", "DB_PORT": "15432", "POSTGRES_USER": "temporal",
			"SQL_PASSWORD": "pg-secret", "TEMPORAL_SQL_TOOL": "/bin/temporal-sql-tool", "TEMPORAL_SCHEMA_DIR": "/mod/server/schema"}},
		{"temporal", st.temporalEnv(), map[string]string{"BIND_ON_IP": "127.0.0.1", "POSTGRES_SEEDS": "127.0.0.1", "POSTGRES_PWD": "pg-secret",
			"PROMETHEUS_ENDPOINT": "127.0.0.1:18000", "FRONTEND_GRPC_PORT": "17233"}},
		{"temporal-setup", st.setupEnv(), map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:17233", "NAMESPACE": "default", "TEMPORAL_CLI": "/bin/temporal"}},
		{"temporal-ui", st.uiEnv(), map[string]string{"TEMPORAL_ADDRESS": "127.0.0.1:17233", "TEMPORAL_DEFAULT_NAMESPACE": "default", "TEMPORAL_UI_PORT": "18233"}},
		{"worker-2", st.workerEnv(1), with(ably, "TEMPORAL_ADDRESS", "127.0.0.1:17233", "WORKER_INSECURE_ALLOW_PLAINTEXT", "false",
			"HITL_HEALTH_ADDR", "127.0.0.1:19001", "HITL_TRACE_FILE", "/work/traces/worker-2.jsonl",
			"HITL_DECISION_VERIFY_KEYS", "prodstack:verify-public", "HITL_DECISION_RETIRED_KEYS", "", "BLOG_DIR", "/work/posts",
			"BLOG_WEBHOOK_URL", "", "HITL_WORKFLOW_CACHE", "64", "OPENAI_API_KEY", "", "OPENAI_BASE_URL", "http://127.0.0.1:18095/v1/")},
		{"bridge-2", st.bridgeEnv(1), with(ably, "TEMPORAL_ADDRESS", "127.0.0.1:17233", "HITL_HEALTH_ADDR", "127.0.0.1:19101",
			"HITL_TRACE_FILE", "/work/traces/bridge-2.jsonl", "HITL_DECISION_SIGNING_KEY", "prodstack:signing-secret")},
		{"authserver", st.authEnv(), with(ably, "AUTH_LISTEN", "127.0.0.1:13001", "AUTH_USERS_FILE", "/work/state/users.json",
			"AUTH_TOKEN_TTL", "1h", "AUTH_INSECURE_ALLOW_PLAINTEXT", "false", "AUTH_TRUSTED_PROXIES", "", "AUTH_TLS_CERT", "", "AUTH_TLS_KEY", "",
			"HITL_HEALTH_ADDR", "127.0.0.1:13002")},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			got := envMapOf(t, tt.vars)
			for name, want := range tt.want {
				if v, ok := got[name]; !ok || v != want {
					t.Errorf("%s = %q (set %v), want %q", name, v, ok, want)
				}
			}
		})
	}
}

// TestProdEnvOptions: without -trace the span files are empty; with an
// OpenAI key the workers get it and the URL given (or none).
func TestProdEnvOptions(t *testing.T) {
	for _, tt := range []struct {
		name                                 string
		trace                                bool
		key, baseURL                         string
		wantTrace, wantKey, wantURL, wantBTr string
	}{
		{"no trace, scripted", false, "", "", "", "", "http://127.0.0.1:18095/v1/", ""},
		{"trace, OpenAI", true, "sk-real", "", "/work/traces/worker-1.jsonl", "sk-real", "", "/work/traces/bridge-1.jsonl"},
		{"the user's model", false, "k", "http://127.0.0.1:11434/v1", "", "k", "http://127.0.0.1:11434/v1", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := prodFixture(1, 1)
			st.cfg.Trace, st.cfg.OpenAIKey, st.cfg.OpenAIBaseURL = tt.trace, tt.key, tt.baseURL
			w, b := envMapOf(t, st.workerEnv(0)), envMapOf(t, st.bridgeEnv(0))
			for _, c := range []struct{ what, got, want string }{
				{"worker HITL_TRACE_FILE", w["HITL_TRACE_FILE"], tt.wantTrace},
				{"bridge HITL_TRACE_FILE", b["HITL_TRACE_FILE"], tt.wantBTr},
				{"worker OPENAI_API_KEY", w["OPENAI_API_KEY"], tt.wantKey},
				{"worker OPENAI_BASE_URL", w["OPENAI_BASE_URL"], tt.wantURL},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
		})
	}
}

// with is base with kv (name, value, ...) added.
func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("with: odd %q", kv))
	}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
