// Package config owns the settings every program of the project reads the
// same way: the environment (as an Env value, so tests never touch the
// process environment), the Temporal client options (through the Temporal
// envconfig package: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_PROFILE
// and the TOML profile file), and the approval policy file policy.json
// that lives next to this file (HITL_POLICY_FILE).
//
// It must not import the worker, the activities or any network client other
// than the Temporal client options type.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/contrib/envconfig"

	"github.com/hitl/durable-approvals/workflows"
)

// Environment variable names shared by the programs.
const (
	EnvTemporalAddress   = "TEMPORAL_ADDRESS"
	EnvTemporalNamespace = "TEMPORAL_NAMESPACE"
	EnvTemporalUIURL     = "TEMPORAL_UI_URL"
	EnvPolicyFile        = "HITL_POLICY_FILE"
	EnvAgentClientID     = "HITL_AGENT_CLIENT_ID"
	EnvBridgeClientID    = "HITL_BRIDGE_CLIENT_ID"
	EnvChannel           = "ABLY_CHANNEL"
	EnvOpenAIAPIKey      = "OPENAI_API_KEY"
	EnvOpenAIBaseURL     = "OPENAI_BASE_URL"
	EnvOpenAIModel       = "OPENAI_MODEL"
	EnvBlogDir           = "BLOG_DIR"
	EnvBlogWebhookURL    = "BLOG_WEBHOOK_URL"
	// EnvDecisionSigningKey is the bridge's decision signing key,
	// EnvDecisionVerifyKeys the worker's verify keys and
	// EnvDecisionRetiredKeys its retired ones (internal/signing).
	EnvDecisionSigningKey  = "HITL_DECISION_SIGNING_KEY"
	EnvDecisionVerifyKeys  = "HITL_DECISION_VERIFY_KEYS"
	EnvDecisionRetiredKeys = "HITL_DECISION_RETIRED_KEYS"
	EnvAuthURL             = "AUTH_URL"
	EnvApproverUser        = "APPROVER_USER"
	EnvApproverPassword    = "APPROVER_PASSWORD"
	// EnvApproverInsecureAllowPlaintext lets the approver CLI send the
	// password over plain HTTP to an AUTH_URL that is not loopback.
	EnvApproverInsecureAllowPlaintext = "APPROVER_INSECURE_ALLOW_PLAINTEXT"
	EnvAuthListen                     = "AUTH_LISTEN"
	EnvAuthUsersFile                  = "AUTH_USERS_FILE"
)

// The worker's tuning variables (worker/config.go documents them); an
// empty value keeps the worker's default. Compose and `devstack prod` pass
// them on from their environment (WorkerTuningEnv).
const (
	// EnvWorkflowCache is the worker's sticky workflow cache size.
	EnvWorkflowCache = "HITL_WORKFLOW_CACHE"
	// EnvLedgerKeep is how long the tools' results (the idempotency ledger
	// and delete_post's tombstones in BLOG_DIR) are kept at least; older
	// ones of runs Temporal no longer knows are removed. "0": never.
	EnvLedgerKeep = "HITL_LEDGER_KEEP"
	// EnvReannounceEvery is how often the worker looks for pending
	// approval requests that have left the part of the channel's history
	// approvers read (the newest 1,000 messages, or older than Ably
	// keeps), and publishes them again. "0": never.
	EnvReannounceEvery = "HITL_REANNOUNCE_EVERY"
	// EnvToolAttempts is how many times a run tries a tool before its
	// failure goes to the model (and an approved call's approval is spent).
	EnvToolAttempts = "HITL_TOOL_ATTEMPTS"
	// EnvModelRetryFor is how long a run tries a model call whose failure
	// may pass (the provider down, 429, 5xx) before the run fails.
	EnvModelRetryFor = "HITL_MODEL_RETRY_FOR"
	// EnvModelTimeout bounds one attempt of a model call (a reasoning
	// model may think for longer than the default).
	EnvModelTimeout = "HITL_MODEL_TIMEOUT"
	// EnvGoMemLimit is the Go runtime's own soft memory limit, which wins
	// over the worker's default.
	EnvGoMemLimit = "GOMEMLIMIT"
)

// WorkerTuningEnv lists the worker's tuning variables.
func WorkerTuningEnv() []string {
	return []string{EnvWorkflowCache, EnvLedgerKeep, EnvReannounceEvery, EnvToolAttempts, EnvModelRetryFor, EnvModelTimeout, EnvGoMemLimit}
}

// Defaults of the shared settings.
const (
	DefaultTemporalAddress   = "127.0.0.1:7233"
	DefaultTemporalNamespace = "default"
	DefaultTemporalUIURL     = "http://127.0.0.1:8233"
	DefaultPolicyFile        = "config/policy.json"
	DefaultBlogDir           = "data/posts"
	DefaultAuthURL           = "http://127.0.0.1:3001"
)

// Environment variables the auth server reads besides EnvAuthListen and
// EnvAuthUsersFile (authserver/main.go documents them).
const (
	EnvAuthTokenTTL               = "AUTH_TOKEN_TTL"
	EnvAuthTLSCert                = "AUTH_TLS_CERT"
	EnvAuthTLSKey                 = "AUTH_TLS_KEY"
	EnvAuthInsecureAllowPlaintext = "AUTH_INSECURE_ALLOW_PLAINTEXT"
	EnvAuthTrustedProxies         = "AUTH_TRUSTED_PROXIES"
)

// EnvWorkerInsecureAllowPlaintext lets the worker send its OpenAI key
// (OPENAI_BASE_URL) and the posts (BLOG_WEBHOOK_URL) over plain HTTP to a
// host that is not loopback: "true" or "false" (default).
const EnvWorkerInsecureAllowPlaintext = "WORKER_INSECURE_ALLOW_PLAINTEXT"

// Env is a snapshot of environment variables. Programs build it once with
// FromOS; tests build it literally.
type Env map[string]string

// FromOS returns the process environment.
func FromOS() Env {
	e := Env{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	return e
}

// Get returns the trimmed value of name, or "".
func (e Env) Get(name string) string { return strings.TrimSpace(e[name]) }

// Or returns the trimmed value of name, or def when it is unset or blank.
func (e Env) Or(name, def string) string {
	if v := e.Get(name); v != "" {
		return v
	}
	return def
}

// LookupEnv implements envconfig.EnvLookup. Blank values count as unset so
// that `TEMPORAL_ADDRESS=` in a .env file does not select an empty address.
func (e Env) LookupEnv(name string) (string, bool) {
	v := e.Get(name)
	return v, v != ""
}

// Environ implements envconfig.EnvLookup, with values trimmed as Get
// trims them: envconfig reads the TEMPORAL_GRPC_META_* headers from it, and
// one set blank ("" or spaces) removes the profile's header of that name,
// as envconfig does for an empty one, rather than sending a blank header.
func (e Env) Environ() []string {
	out := make([]string, 0, len(e))
	for k := range e {
		out = append(out, k+"="+e.Get(k))
	}
	return out
}

var _ envconfig.EnvLookup = Env(nil)

// TemporalOptions loads the Temporal client options the standard way
// (profile file, then TEMPORAL_* variables) and fills the project defaults
// 127.0.0.1:7233 and namespace "default" where nothing is configured.
func TemporalOptions(env Env) (client.Options, error) {
	if err := checkTemporalBools(env); err != nil {
		return client.Options{}, err
	}
	opts, err := envconfig.LoadClientOptions(envconfig.LoadClientOptionsRequest{EnvLookup: env})
	if err != nil {
		return client.Options{}, fmt.Errorf("temporal client config: %w", err)
	}
	if opts.HostPort == "" {
		opts.HostPort = DefaultTemporalAddress
	}
	if opts.Namespace == "" {
		opts.Namespace = DefaultTemporalNamespace
	}
	if err := checkTemporalAddress(opts.HostPort); err != nil {
		return client.Options{}, err
	}
	return opts, nil
}

// temporalBools are the envconfig variables read as booleans. envconfig
// takes only 1, 0, true and false (any case) and silently ignores any
// other value, so TEMPORAL_TLS=yes would leave TLS off, with nothing said.
var temporalBools = []string{"TEMPORAL_TLS", "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION"}

// checkTemporalBools refuses a value of temporalBools that envconfig
// would ignore.
func checkTemporalBools(env Env) error {
	var errs []error
	for _, name := range temporalBools {
		v, ok := env.LookupEnv(name)
		if !ok {
			continue
		}
		switch strings.ToLower(v) {
		case "1", "0", "true", "false":
		default:
			errs = append(errs, fmt.Errorf("%s=%q: want true or false (1 or 0); the Temporal client would ignore it", name, v))
		}
	}
	return errors.Join(errs...)
}

// checkTemporalAddress accepts host:port with a port number, or a gRPC
// target in one of the schemes gRPC resolves by default (dns:, unix:,
// unix-abstract:, passthrough:), so that a typo is reported as one instead
// of as a failed dial ("no children to pick from"). A host without a port
// is refused: gRPC would dial port 443, which is never a Temporal
// frontend's default.
func checkTemporalAddress(addr string) error {
	if u, err := url.Parse(addr); err == nil && grpcSchemes[u.Scheme] {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err == nil {
		var n int
		n, err = strconv.Atoi(port)
		if err == nil && (n < 1 || n > 65535) {
			err = fmt.Errorf("port %d out of range", n)
		}
		if err == nil && host == "" {
			err = errors.New("no host")
		}
	}
	if err != nil {
		return fmt.Errorf("temporal address %q (%s or the profile's address): want host:port, such as %s: %w", addr, EnvTemporalAddress, DefaultTemporalAddress, err)
	}
	return nil
}

// grpcSchemes are the target schemes gRPC-Go registers by itself; any other
// "x:" prefix is, to gRPC too, a host name followed by a port.
var grpcSchemes = map[string]bool{"dns": true, "unix": true, "unix-abstract": true, "passthrough": true}

// ParseHTTPURL parses s as an http or https URL with a host, the only
// kind the programs' base URLs may be. Its errors show s only redacted.
func ParseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	// "http://:8095" has a Host but no host name; a client would dial
	// this machine (approvercli's AUTH_URL check refuses it too).
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, fmt.Errorf("bad URL %q: want http(s)://host[:port]/path", RedactURL(s))
	}
	return u, nil
}

// RedactURL is the URL s for a log line, a banner or an error: whatever a
// URL may carry as a credential is masked (the user and password, as in
// https://token@hooks.example/, the query, as in ?token=, and the
// fragment, as in #access_token=), so is all after the scheme of a URL
// with no "//" that names a user (user:s3cret@host parses as the scheme
// "user"; localhost:3001 keeps its "3001"), and
// something url.Parse refuses is shown up to its query or fragment
// (127.0.0.1:3001, a URL without its scheme, says what was typed), and
// not at all when that part names a user: "(not a URL)".
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		head, tail := s, ""
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			head, tail = s[:i], s[i:i+1]+"xxxxx"
		}
		if strings.Contains(head, "@") {
			return "(not a URL)"
		}
		return head + tail
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	if u.RawQuery != "" {
		u.RawQuery = "xxxxx"
	}
	if u.Fragment != "" {
		u.Fragment, u.RawFragment = "xxxxx", ""
	}
	if strings.Contains(u.Opaque, "@") {
		u.Opaque = "xxxxx"
	}
	return u.String()
}

// LoadPolicy reads and validates the policy file at path. The error names
// the file and, for an invalid policy, every problem in it.
func LoadPolicy(path string) (workflows.Policy, error) {
	if path == "" {
		return workflows.Policy{}, errors.New("policy file: no path (set " + EnvPolicyFile + ")")
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return workflows.Policy{}, fmt.Errorf("policy file %s does not exist", path)
	}
	if err != nil {
		return workflows.Policy{}, fmt.Errorf("policy file: %w", err)
	}
	p, err := workflows.ParsePolicy(data)
	if err != nil {
		return workflows.Policy{}, &PolicyError{Path: path, Err: err}
	}
	return p, nil
}

// PolicyError is an invalid policy file. Its message is one line that
// lists every problem, separated by "; ".
type PolicyError struct {
	Path string
	Err  error
}

func (e *PolicyError) Error() string {
	return "policy file " + e.Path + ": " + strings.ReplaceAll(e.Err.Error(), "\n", "; ")
}

func (e *PolicyError) Unwrap() error { return e.Err }
