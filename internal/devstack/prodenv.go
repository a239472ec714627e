package devstack

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/telemetry"
	"github.com/hitl/durable-approvals/workflows"
)

// The environment of each service of the production topology, under the
// service names of docker-compose.yml. Each variable a service gets is one
// line here; deploy/composetest checks that compose gives each service
// exactly these variables. A variable that every worker and bridge needs
// (a decision-signing key, say) is one line in trustedEnv.

// Fixed values, the same as compose's.
const (
	prodDBPlugin = "postgres12" // compose: DB
	prodDBUser   = "temporal"   // compose: POSTGRES_USER
)

// The deploy/ files both stacks use (paths from the repository root).
const (
	ProdSchemaScript    = "deploy/temporal/setup-postgres.sh"
	ProdNamespaceScript = "deploy/temporal/create-namespace.sh"
	ProdServerTemplate  = "deploy/temporal/config_template.yaml"
	ProdDynamicConfig   = "deploy/temporal/dynamicconfig.yaml"
)

// postgresEnv is what PostgreSQL is initialised with (compose: the
// postgres image's initdb reads them).
func (st *ProdStack) postgresEnv() []EnvVar {
	return []EnvVar{
		{"POSTGRES_USER", prodDBUser},
		{"POSTGRES_PASSWORD", st.pgPassword},
	}
}

// schemaEnv is the schema job's (setup-postgres.sh).
func (st *ProdStack) schemaEnv() []EnvVar {
	return []EnvVar{
		{"POSTGRES_SEEDS", loopbackIP},
		{"POSTGRES_USER", prodDBUser},
		{"SQL_PASSWORD", st.pgPassword},
		{"DB_PORT", strconv.Itoa(st.ports.Postgres)},
		{"TEMPORAL_SQL_TOOL", st.tools[toolTemporalSQL.Name]},
		{"TEMPORAL_SCHEMA_DIR", filepath.Join(st.serverModule, "schema")},
	}
}

// temporalEnv renders the server's config template (config_template.yaml).
func (st *ProdStack) temporalEnv() []EnvVar {
	p := st.ports
	return []EnvVar{
		{"DB", prodDBPlugin},
		{"DB_PORT", strconv.Itoa(p.Postgres)},
		{"POSTGRES_SEEDS", loopbackIP},
		{"POSTGRES_USER", prodDBUser},
		{"POSTGRES_PWD", st.pgPassword},
		{"BIND_ON_IP", loopbackIP},
		{"DYNAMIC_CONFIG_FILE_PATH", filepath.Join(st.cfg.Root, ProdDynamicConfig)},
		{"PROMETHEUS_ENDPOINT", hostPort(p.TemporalMetrics)},
		{"FRONTEND_GRPC_PORT", strconv.Itoa(p.Frontend)},
		{"FRONTEND_HTTP_PORT", strconv.Itoa(p.FrontendHTTP)},
		{"FRONTEND_MEMBERSHIP_PORT", strconv.Itoa(p.FrontendMembership)},
		{"HISTORY_GRPC_PORT", strconv.Itoa(p.History)},
		{"HISTORY_MEMBERSHIP_PORT", strconv.Itoa(p.HistoryMembership)},
		{"MATCHING_GRPC_PORT", strconv.Itoa(p.Matching)},
		{"MATCHING_MEMBERSHIP_PORT", strconv.Itoa(p.MatchingMembership)},
		{"WORKER_GRPC_PORT", strconv.Itoa(p.Worker)},
		{"WORKER_MEMBERSHIP_PORT", strconv.Itoa(p.WorkerMembership)},
	}
}

// setupEnv is the namespace job's (create-namespace.sh).
func (st *ProdStack) setupEnv() []EnvVar {
	return []EnvVar{
		{config.EnvTemporalAddress, st.TemporalAddress()},
		{"NAMESPACE", st.cfg.Namespace},
		{"TEMPORAL_CLI", st.tools[toolTemporalCLI.Name]},
	}
}

// uiEnv is the Web UI server's (its docker.yaml template reads them).
func (st *ProdStack) uiEnv() []EnvVar {
	return []EnvVar{
		{config.EnvTemporalAddress, st.TemporalAddress()},
		{"TEMPORAL_DEFAULT_NAMESPACE", st.cfg.Namespace},
		{"TEMPORAL_UI_PORT", strconv.Itoa(st.ports.UI)},
	}
}

// ablyEnv is what every Ably user among the services gets (compose: x-ably).
func (st *ProdStack) ablyEnv() []EnvVar {
	return []EnvVar{
		{ablyconn.EnvAPIKey, st.secrets.AblyKey},
		{config.EnvChannel, st.cfg.Channel},
		{ablyconn.EnvEndpoint, st.AblyEndpoint()},
		{ablyconn.EnvTLS, "false"},
		// Loopback: plain text needs no leave (compose passes the setting
		// through for a local Ably server elsewhere).
		{ablyconn.EnvAllowPlaintext, "false"},
	}
}

// trustedEnv is what every worker and bridge gets: Temporal (compose:
// x-temporal-client) and Ably.
func (st *ProdStack) trustedEnv() []EnvVar {
	return append([]EnvVar{
		{config.EnvTemporalAddress, st.TemporalAddress()},
		{config.EnvTemporalNamespace, st.cfg.Namespace},
	}, st.ablyEnv()...)
}

// workerEnv is worker i's (0-based).
func (st *ProdStack) workerEnv(i int) []EnvVar {
	c := st.cfg
	vars := append(st.trustedEnv(),
		EnvVar{config.EnvAgentClientID, workflows.DefaultAgentClientID},
		EnvVar{config.EnvDecisionVerifyKeys, st.verifyKeys},
		EnvVar{config.EnvDecisionRetiredKeys, ""}, // none until a rotation retires one
		EnvVar{config.EnvOpenAIModel, c.OpenAIModel},
		EnvVar{config.EnvPolicyFile, c.PolicyFile},
		EnvVar{config.EnvBlogDir, st.BlogDir()}, // shared, like compose's volume: one idempotency ledger
		EnvVar{config.EnvBlogWebhookURL, c.BlogWebhookURL},
		EnvVar{config.EnvWorkerInsecureAllowPlaintext, "false"},
		EnvVar{"HITL_HEALTH_ADDR", hostPort(st.ports.WorkerOps[i])},
		EnvVar{telemetry.EnvTraceFile, st.traceFile(workerName(i))},
	)
	for _, name := range config.WorkerTuningEnv() {
		vars = append(vars, EnvVar{name, c.WorkerTuning[name]})
	}
	if c.Scripted() {
		// Empty the key so a stray OPENAI_API_KEY cannot reach the real API.
		return append(vars, EnvVar{config.EnvOpenAIAPIKey, ""}, EnvVar{config.EnvOpenAIBaseURL, st.ModelURL()})
	}
	return append(vars, EnvVar{config.EnvOpenAIAPIKey, c.OpenAIKey}, EnvVar{config.EnvOpenAIBaseURL, c.OpenAIBaseURL})
}

// bridgeEnv is bridge i's (0-based).
func (st *ProdStack) bridgeEnv(i int) []EnvVar {
	return append(st.trustedEnv(),
		EnvVar{config.EnvBridgeClientID, workflows.DefaultBridgeClientID},
		EnvVar{config.EnvAgentClientID, workflows.DefaultAgentClientID}, // the bridge reads the agent's requests
		EnvVar{config.EnvDecisionSigningKey, st.signingKey},
		EnvVar{"HITL_HEALTH_ADDR", hostPort(st.ports.BridgeOps[i])},
		EnvVar{telemetry.EnvTraceFile, st.traceFile(bridgeName(i))},
	)
}

// authEnv is the auth server's. On loopback it serves plain HTTP without
// a proxy; compose (0.0.0.0 in its container) names the network's gateway
// as the trusted proxy.
func (st *ProdStack) authEnv() []EnvVar {
	return append(st.ablyEnv(),
		EnvVar{config.EnvAuthListen, hostPort(st.ports.Auth)},
		EnvVar{config.EnvAuthUsersFile, st.UsersFile()},
		EnvVar{config.EnvAuthTokenTTL, "1h"},
		EnvVar{config.EnvAuthInsecureAllowPlaintext, "false"},
		EnvVar{config.EnvAuthTrustedProxies, ""},
		EnvVar{config.EnvAuthTLSCert, ""},
		EnvVar{config.EnvAuthTLSKey, ""},
		EnvVar{config.EnvAgentClientID, workflows.DefaultAgentClientID},
		EnvVar{config.EnvBridgeClientID, workflows.DefaultBridgeClientID},
		EnvVar{"HITL_HEALTH_ADDR", hostPort(st.ports.AuthOps)},
	)
}

// traceFile is the span file of the named part, or "" when tracing is off.
func (st *ProdStack) traceFile(name string) string {
	if !st.cfg.Trace {
		return ""
	}
	return filepath.Join(st.work, "traces", name+".jsonl")
}

// ProdService is one service of the production topology as `devstack prod`
// runs it; docker-compose.yml declares it under the same name.
type ProdService struct {
	Name   string   // compose's service name
	Env    []string // the variables it gets, sorted
	Script string   // the deploy/ script a one-shot job runs, or ""
}

// ProdServices lists the services with the variables `devstack prod` gives
// them: deploy/composetest checks docker-compose.yml against it.
func ProdServices() []ProdService {
	st := &ProdStack{cfg: DefaultProdConfig("/repo"), work: "/work", tools: map[string]string{}}
	st.cfg.Workers, st.cfg.Bridges = 1, 1
	st.ports = prodPorts{WorkerOps: []int{1}, BridgeOps: []int{1}}
	names := func(vars []EnvVar) []string {
		out := make([]string, 0, len(vars))
		for _, v := range vars {
			out = append(out, v.Name)
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return []ProdService{
		{Name: "postgresql", Env: names(st.postgresEnv())},
		{Name: "temporal-schema", Env: names(st.schemaEnv()), Script: ProdSchemaScript},
		{Name: "temporal", Env: names(st.temporalEnv())},
		{Name: "temporal-setup", Env: names(st.setupEnv()), Script: ProdNamespaceScript},
		{Name: "temporal-ui", Env: names(st.uiEnv())},
		{Name: "worker", Env: names(st.workerEnv(0))},
		{Name: "bridge", Env: names(st.bridgeEnv(0))},
		{Name: "authserver", Env: names(st.authEnv())},
	}
}

const loopbackIP = "127.0.0.1"

func hostPort(port int) string { return fmt.Sprintf("%s:%d", loopbackIP, port) }

func workerName(i int) string { return fmt.Sprintf("worker-%d", i+1) }
func bridgeName(i int) string { return fmt.Sprintf("bridge-%d", i+1) }
