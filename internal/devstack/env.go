package devstack

import (
	"slices"
	"strconv"
	"strings"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/workflows"
)

// EnvVar is one environment variable for a part or for the user's shell.
type EnvVar struct{ Name, Value string }

// userEnv is what a user exports to run starter and approver against the
// stack. It holds no Ably key: only trusted parts get that.
func userEnv(c Config) []EnvVar {
	return []EnvVar{
		{config.EnvTemporalAddress, c.TemporalAddress()},
		{config.EnvTemporalNamespace, c.Namespace},
		{"TEMPORAL_TLS", "false"}, // the dev server is plaintext, whatever a profile says
		{envTemporalConfigFile, c.NoProfileFile()},
		{config.EnvTemporalUIURL, c.UIURL()},
		{ablyconn.EnvEndpoint, c.AblyEndpoint()},
		{ablyconn.EnvTLS, "false"},
		{config.EnvChannel, c.Channel},
		{config.EnvAuthURL, c.AuthURL()},
	}
}

// workerEnv is the worker's environment: trustedEnv plus the policy file
// and the bridge's public key that decisions must be signed with. It
// empties the retired keys: the stack's pair is its own, and a shell's
// HITL_DECISION_RETIRED_KEYS (another deployment's rotation) would be
// taken for the tools' checks, or stop the worker over a key id it shares.
func workerEnv(c Config, s Secrets) []EnvVar {
	return append(trustedEnv(c, s), EnvVar{config.EnvPolicyFile, c.PolicyFile()},
		EnvVar{config.EnvDecisionVerifyKeys, s.VerifyKey}, EnvVar{config.EnvDecisionRetiredKeys, ""})
}

// bridgeEnv is the bridge's environment: trustedEnv plus its decision
// signing key, which only the bridge holds.
func bridgeEnv(c Config, s Secrets) []EnvVar {
	return append(trustedEnv(c, s), EnvVar{config.EnvDecisionSigningKey, s.SigningKey})
}

// trustedEnv is what the worker and the bridge share: the Ably key, the
// model, the blog directory.
func trustedEnv(c Config, s Secrets) []EnvVar {
	vars := append(userEnv(c),
		EnvVar{ablyconn.EnvAPIKey, s.AblyKey},
		EnvVar{config.EnvAgentClientID, workflows.DefaultAgentClientID},
		EnvVar{config.EnvBridgeClientID, workflows.DefaultBridgeClientID},
		EnvVar{config.EnvBlogDir, c.BlogDir()},
		EnvVar{config.EnvOpenAIModel, c.OpenAIModel},
	)
	if c.Scripted() {
		// Empty the key so a stray OPENAI_API_KEY cannot reach the real API.
		return append(vars, EnvVar{config.EnvOpenAIBaseURL, c.ModelURL()}, EnvVar{config.EnvOpenAIAPIKey, ""})
	}
	vars = append(vars, EnvVar{config.EnvOpenAIAPIKey, c.OpenAIKey})
	if c.OpenAIBaseURL != "" {
		vars = append(vars, EnvVar{config.EnvOpenAIBaseURL, c.OpenAIBaseURL})
	}
	return vars
}

// approverEnv is the approver CLI's environment for demo user u. It
// empties ABLY_API_KEY: a human approver holds only the auth server's token.
func approverEnv(c Config, u DemoUser) []EnvVar {
	return append(userEnv(c), EnvVar{config.EnvApproverUser, u.Name}, EnvVar{config.EnvApproverPassword, u.Password},
		EnvVar{ablyconn.EnvAPIKey, ""})
}

// inheritedEnv is what a part of the dev stack takes from devstack's own
// environment (environ, "K=V" entries): all of it (PATH, HOME, a
// developer's tuning) but the Temporal client's settings, every TEMPORAL_*
// and the Temporal CLI profile (TEMPORAL_CONFIG_FILE is set to noProfile,
// a file that does not exist), so that a developer's Temporal Cloud
// settings neither reach the part nor send their API key to the dev
// server; the part's own variables (userEnv) then say where Temporal is.
func inheritedEnv(environ []string, noProfile string) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "TEMPORAL_") {
			out = append(out, kv)
		}
	}
	return append(out, envTemporalConfigFile+"="+noProfile)
}

// envTemporalConfigFile names the Temporal client's profile file
// (envconfig's TEMPORAL_CONFIG_FILE).
const envTemporalConfigFile = "TEMPORAL_CONFIG_FILE"

// temporalClientSettings are the Temporal client's settings that a shell
// pointed at a stack must not keep: those of the SDK's envconfig (v1.0.2's
// client_config_load.go), which starter and approver read, and those only
// the pinned Temporal CLI reads (v1.5.1: TEMPORAL_ENV, its environment
// file's, and its legacy TLS variables), which the README has users run
// against the stack. The stack's own variables (userEnv) set its address,
// namespace, TLS and profile file; any of these left from a developer's
// Temporal Cloud settings would go with them (an API key sent to the
// stack's server, a client certificate, a profile). The
// TEMPORAL_GRPC_META_* headers join them by name from the environment.
var temporalClientSettings = []string{
	"TEMPORAL_API_KEY", "TEMPORAL_CLIENT_AUTHORITY", "TEMPORAL_CODEC_AUTH", "TEMPORAL_CODEC_ENDPOINT", "TEMPORAL_PROFILE",
	"TEMPORAL_TLS_CLIENT_CERT_DATA", "TEMPORAL_TLS_CLIENT_CERT_PATH", "TEMPORAL_TLS_CLIENT_KEY_DATA", "TEMPORAL_TLS_CLIENT_KEY_PATH",
	"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION", "TEMPORAL_TLS_SERVER_CA_CERT_DATA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
	"TEMPORAL_TLS_SERVER_NAME",
	"TEMPORAL_ENV", "TEMPORAL_TLS_CA", "TEMPORAL_TLS_CA_DATA", "TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CERT_DATA",
	"TEMPORAL_TLS_KEY", "TEMPORAL_TLS_KEY_DATA",
}

// shellLines renders what points a POSIX shell at a stack: an unset line
// for the Temporal client's settings the shell may hold
// (temporalClientSettings, and the TEMPORAL_GRPC_META_* headers named in
// environ, "K=V" entries) but vars does not set, then vars' export lines.
// A header's name that is not a shell variable's name (a process may be
// given any) is never written into a command, which eval would run: a
// comment names it, quoted, as one the shell cannot unset.
func shellLines(vars []EnvVar, environ []string) string {
	names := slices.Clone(temporalClientSettings)
	var odd []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case !strings.HasPrefix(name, "TEMPORAL_GRPC_META_") || slices.Contains(names, name):
		case isShellName(name):
			names = append(names, name)
		default:
			odd = append(odd, strconv.Quote(name))
		}
	}
	names = slices.DeleteFunc(names, func(name string) bool {
		_, set := lookupVar(vars, name)
		return set
	})
	slices.Sort(names)
	var b strings.Builder
	if len(odd) > 0 {
		slices.Sort(odd)
		b.WriteString("# left set, not names a shell can unset (env -u removes them): " + strings.Join(odd, " ") + "\n")
	}
	b.WriteString("unset " + strings.Join(names, " ") + "\n")
	return b.String() + exportLines(vars)
}

// isShellName reports whether s is a POSIX shell variable's name: a
// letter or underscore, then letters, digits and underscores (ASCII).
func isShellName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// mergeEnv returns base ("K=V" entries) with vars set, each name once,
// vars winning.
func mergeEnv(base []string, vars []EnvVar) []string {
	set := map[string]bool{}
	for _, v := range vars {
		set[v.Name] = true
	}
	out := make([]string, 0, len(base)+len(vars))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		if !set[name] {
			out = append(out, kv)
		}
	}
	for _, v := range vars {
		out = append(out, v.Name+"="+v.Value)
	}
	return out
}

// exportLines renders vars as POSIX shell export lines.
func exportLines(vars []EnvVar) string {
	var b strings.Builder
	for _, v := range vars {
		b.WriteString("export " + v.Name + "=" + shellQuote(v.Value) + "\n")
	}
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@%+=,", r))
	}) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// lookupVar returns the value of name in vars.
func lookupVar(vars []EnvVar, name string) (string, bool) {
	i := slices.IndexFunc(vars, func(v EnvVar) bool { return v.Name == name })
	if i < 0 {
		return "", false
	}
	return vars[i].Value, true
}
