package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/internal/loglimit"
	"github.com/hitl/durable-approvals/internal/signing"
)

func TestRunExitCodes(t *testing.T) {
	cliEnv := config.Env{
		"APPROVER_USER":     "alice",
		"APPROVER_PASSWORD": "pw",
		"AUTH_URL":          "http://127.0.0.1:1", // nothing listens here
		"ABLY_ENDPOINT":     "127.0.0.1:1",
	}
	tests := []struct {
		name       string
		args       []string
		env        config.Env
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "help", args: []string{"--help"}, wantCode: exitOK, wantStdout: "usage: approver"},
		{name: "help command", args: []string{"help"}, wantCode: exitOK, wantStdout: "Commands:"},
		{name: "command help", args: []string{"approve", "--help"}, wantCode: exitOK, wantStderr: "usage: approver approve [flags] TOOLCALLID\n"},
		{name: "command help lists flags", args: []string{"reject", "-h"}, wantCode: exitOK, wantStderr: "-reason"},
		{name: "command help shows AUTH_URL without its password", args: []string{"list", "-h"}, env: config.Env{"AUTH_URL": "https://pat:s3cret@auth.example/"},
			wantCode: exitOK, wantStderr: `(default "https://xxxxx@auth.example/")`},
		{name: "unknown command", args: []string{"frob"}, wantCode: exitUsage, wantStderr: `unknown command "frob"`},
		// With no command, or flags first, the command is watch.
		{name: "watch by default", args: []string{"-user", "alice", "-h"}, wantCode: exitOK, wantStderr: "usage: approver watch [flags]\n"},
		{name: "no credentials", args: []string{"list"}, wantCode: exitUsage, wantStderr: "APPROVER_USER (-user) is required"},
		{name: "bad ABLY_TLS", args: []string{"list"}, env: config.Env{"ABLY_TLS": "maybe"}, wantCode: exitUsage, wantStderr: "ABLY_TLS"},
		{name: "reject without reason", args: []string{"reject", "call_1"}, env: cliEnv, wantCode: exitUsage, wantStderr: "reject needs --reason"},
		{name: "reject with a blank reason", args: []string{"reject", "call_1", "--reason", " \t "}, env: cliEnv, wantCode: exitUsage, wantStderr: "reject needs --reason"},
		{name: "approve without id", args: []string{"approve"}, env: cliEnv, wantCode: exitUsage, wantStderr: "exactly one TOOLCALLID"},
		{name: "approve two ids", args: []string{"approve", "call_1", "call_2"}, env: cliEnv, wantCode: exitUsage, wantStderr: "exactly one TOOLCALLID"},
		// The editor is set up for --edit (it opens once the request is
		// read, after login): not refused as "no editor".
		{name: "approve --edit reaches login", args: []string{"approve", "call_1", "--edit"}, env: cliEnv, wantCode: exitError, wantStderr: "approver: login at http://127.0.0.1:1/api/auth/token"},
		{name: "bad tool call id", args: []string{"approve", "x' OR '1"}, env: cliEnv, wantCode: exitUsage, wantStderr: "not allowed"},
		{name: "edit and arguments", args: []string{"approve", "call_1", "--edit", "--arguments", "{}"}, env: cliEnv, wantCode: exitUsage, wantStderr: "use --edit or --arguments, not both"},
		{name: "arguments not JSON", args: []string{"approve", "call_1", "--arguments", "{title}"}, env: cliEnv, wantCode: exitUsage, wantStderr: "--arguments: not valid JSON"},
		{name: "plain auth off loopback", args: []string{"list"}, env: with(cliEnv, "AUTH_URL", "http://auth.example:3001"), wantCode: exitUsage, wantStderr: "refusing plain HTTP to an auth server that is not loopback"},
		// A URL without its scheme is shown as typed (nothing in it can be
		// a credential), not as "(not a URL)".
		{name: "auth URL without a scheme", args: []string{"list"}, env: with(cliEnv, "AUTH_URL", "127.0.0.1:23001"), wantCode: exitUsage, wantStderr: `AUTH_URL (-auth-url) "127.0.0.1:23001": want http(s)://host[:port]`},
		{name: "auth URL with a user and no scheme", args: []string{"list"}, env: with(cliEnv, "AUTH_URL", "pat:s3cret@127.0.0.1:23001"), wantCode: exitUsage, wantStderr: `AUTH_URL (-auth-url) "pat:xxxxx": want http(s)://host[:port]`},
		{name: "allow plaintext not a bool", args: []string{"list"}, env: with(cliEnv, "APPROVER_INSECURE_ALLOW_PLAINTEXT", "maybe"), wantCode: exitUsage, wantStderr: `APPROVER_INSECURE_ALLOW_PLAINTEXT="maybe": want true or false`},
		{name: "plain Ably off loopback", args: []string{"list"}, env: with(cliEnv, "ABLY_ENDPOINT", "ably.example:8090"), wantCode: exitUsage, wantStderr: "refusing plain ws:// to an Ably endpoint that is not loopback"},
		{name: "digest too short", args: []string{"approve", "call_1", "--digest", "sha256:0123"}, env: cliEnv, wantCode: exitUsage, wantStderr: "--digest: digest \"sha256:0123\": want the Digest"},
		{name: "digest with force", args: []string{"approve", "call_1", "--digest", "0123abcd", "--force"}, env: cliEnv, wantCode: exitUsage, wantStderr: "not with --force"},
		{name: "reject has no digest", args: []string{"reject", "call_1", "--reason", "no", "--digest", "0123abcd"}, env: cliEnv, wantCode: exitUsage, wantStderr: "flag provided but not defined: -digest"},
		{name: "reject has no --edit", args: []string{"reject", "call_1", "--reason", "x", "--edit"}, env: cliEnv, wantCode: exitUsage, wantStderr: "flag provided but not defined: -edit"},
		{name: "unknown flag", args: []string{"list", "--frob"}, env: cliEnv, wantCode: exitUsage, wantStderr: "flag provided but not defined"},
		{name: "watch -workflow not printable", args: []string{"watch", "-workflow", "wf\x1b[2J"}, env: cliEnv, wantCode: exitUsage, wantStderr: "-workflow: workflow id"},
		{name: "-workflow is watch's only", args: []string{"list", "-workflow", "wf-1"}, env: cliEnv, wantCode: exitUsage, wantStderr: "flag provided but not defined: -workflow"},
		{name: "list takes no args", args: []string{"list", "x"}, env: cliEnv, wantCode: exitUsage, wantStderr: "takes no arguments"},
		{name: "history pages 0", args: []string{"list", "-history-pages", "0"}, env: cliEnv, wantCode: exitUsage, wantStderr: "-history-pages 0: want 1 to 1000"},
		{name: "history pages negative", args: []string{"watch", "-history-pages", "-1"}, env: cliEnv, wantCode: exitUsage, wantStderr: "-history-pages -1: want 1 to 1000"},
		{
			// Flags after the positional argument are parsed; the run then
			// fails at login with a one-line error and exit code 1.
			name: "approve reaches login", args: []string{"approve", "call_1", "--reason", "fine", "--force"}, env: cliEnv,
			wantCode: exitError, wantStderr: "approver: login at http://127.0.0.1:1/api/auth/token",
		},
		{name: "bridge without key", args: []string{"bridge"}, wantCode: exitUsage, wantStderr: "ABLY_API_KEY is required"},
		{name: "bridge bad key", args: []string{"bridge"}, env: config.Env{"ABLY_API_KEY": "nokey"}, wantCode: exitUsage, wantStderr: "appId.keyId:secret"},
		{name: "bridge without signing key", args: []string{"bridge"}, env: config.Env{"ABLY_API_KEY": "a.b:c"}, wantCode: exitUsage, wantStderr: "HITL_DECISION_SIGNING_KEY is required"},
		{name: "bridge bad signing key", args: []string{"bridge"}, env: config.Env{"ABLY_API_KEY": "a.b:c", "HITL_DECISION_SIGNING_KEY": "k1:short"}, wantCode: exitUsage, wantStderr: "HITL_DECISION_SIGNING_KEY: signing key k1: want a base64 Ed25519 seed of 32 bytes"},
		{name: "bridge takes no arguments", args: []string{"bridge", "x"}, wantCode: exitUsage, wantStderr: `bridge takes no arguments, got ["x"]`},
		{name: "bridge trace file that cannot be opened", args: []string{"bridge"}, env: config.Env{"ABLY_API_KEY": "a.b:c", "ABLY_ENDPOINT": "127.0.0.1:1",
			"HITL_DECISION_SIGNING_KEY": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "TEMPORAL_ADDRESS": "127.0.0.1:1",
			"HITL_TRACE_FILE": filepath.Join(t.TempDir(), "no-such-dir", "trace.jsonl")}, wantCode: exitUsage, wantStderr: "trace file (-trace-file, HITL_TRACE_FILE)"},
		{name: "keygen", args: []string{"keygen", "--id", "k2"}, wantCode: exitOK, wantStdout: "HITL_DECISION_SIGNING_KEY=k2:"},
		{name: "keygen bad id", args: []string{"keygen", "--id", "K 2"}, wantCode: exitUsage, wantStderr: "not allowed"},
		{name: "keygen takes no arguments", args: []string{"keygen", "k2"}, wantCode: exitUsage, wantStderr: `keygen takes no arguments, got ["k2"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, tt.env, strings.NewReader(""), &stdout, &stderr)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.wantCode, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, stderr.String())
			}
			if tt.wantCode != exitOK {
				if n := strings.Count(stderr.String(), "approver: "); n != 1 {
					t.Errorf("want one error line, got %d:\n%s", n, stderr.String())
				}
				if n := strings.Count(stderr.String(), "flag provided but not defined"); n > 1 {
					t.Errorf("the flag error is printed %d times:\n%s", n, stderr.String())
				}
				// The error is one line (several problems joined with
				// "; "); bad input adds where the usage is.
				_, after, _ := strings.Cut(stderr.String(), "approver: ")
				line, next, _ := strings.Cut(after, "\n")
				const hint = `(run "approver --help" for usage)` + "\n"
				if tt.wantCode == exitUsage && next != hint || tt.wantCode != exitUsage && next != "" {
					t.Errorf("error line %q followed by %q, want %q", line, next, map[bool]string{true: hint}[tt.wantCode == exitUsage])
				}
			}
		})
	}
}

// testSigningKey is a valid decision signing key (32 zero bytes).
const testSigningKey = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

func TestBridgeHealthAddrIsValidated(t *testing.T) {
	for _, tt := range []struct {
		addr string
		ok   bool
	}{{"", true}, {"127.0.0.1:8082", true}, {":0", true}, {"nonsense", false}, {"127.0.0.1:99999", false}, {"127.0.0.1:abc", false}, {"127.0.0.1:-1", false}} {
		b := bridgeFlags{Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}, Channel: "c", ClientID: "b", AgentClientID: "a", SigningKey: testSigningKey, HealthAddr: tt.addr}
		err := b.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("HealthAddr %q: Validate() = %v, want ok=%v", tt.addr, err, tt.ok)
		}
		// Named by the variable and the flag, either of which set it.
		if want := fmt.Sprintf("HITL_HEALTH_ADDR (-health-addr) %q", tt.addr); err != nil && !strings.Contains(err.Error(), want) {
			t.Errorf("HealthAddr %q: Validate() = %v, want it to name %s", tt.addr, err, want)
		}
	}
}

// with returns a copy of env with k set to v.
func with(env config.Env, k, v string) config.Env {
	out := maps.Clone(env)
	out[k] = v
	return out
}

// TestBridgeLoggerHoldsBackFloods: a flood of one dropped message writes
// loglimit.DefaultPerWindow lines and a notice, not one line each.
func TestBridgeLoggerHoldsBackFloods(t *testing.T) {
	var buf bytes.Buffer
	log := bridgeLogger(&buf)
	for i := range 1000 {
		log.Warn("dropping approval-response: tool call not pending (late or unknown)", "ablyMessageId", i)
		log.Info("decision forwarded", "ablyMessageId", i)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if got, want := strings.Count(buf.String(), "dropping approval-response"), loglimit.DefaultPerWindow+1; got != want {
		t.Errorf("%d lines name the dropped message, want %d (passed, and the notice)", got, want)
	}
	if got := strings.Count(buf.String(), `"msg":"decision forwarded"`); got != 1000 {
		t.Errorf("%d info lines, want 1000", got)
	}
	if !json.Valid([]byte(lines[0])) {
		t.Errorf("not JSON lines: %s", lines[0])
	}
}

// Two pairs made without -id, as an operator rotating keys makes them,
// get ids of their own, so a worker can list the old and the new public
// key side by side.
func TestKeygenTwiceWithoutIDRotates(t *testing.T) {
	var verify []string
	for range 2 {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), []string{"keygen"}, nil, strings.NewReader(""), &stdout, &stderr); code != exitOK {
			t.Fatalf("keygen: exit %d: %s", code, stderr.String())
		}
		var signKey string
		for line := range strings.Lines(stdout.String()) {
			line = strings.TrimSpace(line)
			if v, ok := strings.CutPrefix(line, config.EnvDecisionVerifyKeys+"="); ok {
				verify = append(verify, v)
			}
			if v, ok := strings.CutPrefix(line, config.EnvDecisionSigningKey+"="); ok {
				signKey = v
			}
		}
		if _, err := signing.ParseSigner(signKey); err != nil {
			t.Fatalf("keygen's signing key: %v\n%s", err, stdout.String())
		}
	}
	if len(verify) != 2 {
		t.Fatalf("want 2 verify keys, got %q", verify)
	}
	v, err := signing.ParseVerifier(strings.Join(verify, ","))
	if err != nil {
		t.Fatalf("a worker refuses both pairs listed together: %v", err)
	}
	for _, id := range v.KeyIDs() {
		if !strings.HasPrefix(id, "k-") || len(id) != len("k-")+12 {
			t.Errorf("key id %q: want k- and 12 hex digits", id)
		}
	}
}

// The bridge's channel is one plain channel name, as the auth server's
// and the worker's: a wildcard or a qualifier is refused, naming the
// variable.
func TestBridgeChannelIsValidated(t *testing.T) {
	for _, tt := range []struct {
		channel string
		ok      bool
	}{{"ai:big-bad-any", true}, {"", false}, {"ai:*", false}, {"[bad", false}, {"[meta]ai", false}, {"ai\x00x", false}} {
		b := bridgeFlags{Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}, Channel: tt.channel, ClientID: "b", AgentClientID: "a", SigningKey: testSigningKey}
		err := b.Validate()
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), "ABLY_CHANNEL")) {
			t.Errorf("Channel %q: Validate() = %v, want ok=%v (an error naming ABLY_CHANNEL)", tt.channel, err, tt.ok)
		}
	}
}

// The bridge's clientId and the agent's it learns requests from are each
// one Ably clientId, named by their variable when refused.
func TestBridgeClientIDsAreValidated(t *testing.T) {
	for _, tt := range []struct {
		client, agent, wantErr string
	}{
		{"hitl:bridge", "hitl:agent", ""},
		{"*", "hitl:agent", `HITL_BRIDGE_CLIENT_ID (-client-id) "*" is Ably's wildcard`},
		{"", "hitl:agent", "HITL_BRIDGE_CLIENT_ID (-client-id) is empty"},
		{"hitl:bridge", "*", `HITL_AGENT_CLIENT_ID "*" is Ably's wildcard`},
		{"hitl:bridge", strings.Repeat("a", 129), "HITL_AGENT_CLIENT_ID longer than 128 bytes"},
	} {
		b := bridgeFlags{Ably: ablyconn.Config{APIKey: "a.b:c", Endpoint: "127.0.0.1:1"}, Channel: "c", ClientID: tt.client, AgentClientID: tt.agent, SigningKey: testSigningKey}
		err := b.Validate()
		if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("ClientID %q, AgentClientID %q: Validate() = %v, want %q", tt.client, tt.agent, err, tt.wantErr)
		}
	}
}

// TestDecideWaitFlag: "-wait 0" does not wait for a request not yet
// published, as "--wait-outcome 0" does not wait for the agent's word; it
// used to reach Decide as its zero value, which waits DefaultDecideWait.
func TestDecideWaitFlag(t *testing.T) {
	env := config.Env{"APPROVER_USER": "alice", "APPROVER_PASSWORD": "pw", "AUTH_URL": "http://127.0.0.1:1", "ABLY_ENDPOINT": "127.0.0.1:1"}
	for _, tt := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"call_1"}, approvercli.DefaultDecideWait},
		{[]string{"call_1", "-wait", "3s"}, 3 * time.Second},
		{[]string{"call_1", "-wait", "0"}, -1},
		{[]string{"call_1", "-wait", "0s"}, -1},
		{[]string{"call_1", "-wait", "-1s"}, -time.Second},
	} {
		for _, cmd := range []string{"approve", "reject"} {
			args := append(tt.args, "--reason", "no")
			var stderr bytes.Buffer
			c, err := parseCLI(cmd, args, env, strings.NewReader(""), io.Discard, &stderr)
			if err != nil {
				t.Fatalf("%s %q: %v; stderr:\n%s", cmd, args, err, stderr.String())
			}
			if w := c.decide.Wait; w != tt.want {
				t.Errorf("%s %q: Wait %s, want %s", cmd, args, w, tt.want)
			}
		}
	}
}

// TestParseCLI: what a command line and the environment make of an
// approver command: reject sends a rejection, the password is sent as
// set (the auth server's useradd keeps its spaces), and the plaintext
// opt-in comes from its variable or its flag.
func TestParseCLI(t *testing.T) {
	env := config.Env{"APPROVER_USER": "alice", "APPROVER_PASSWORD": "pw", "AUTH_URL": "http://127.0.0.1:1", "ABLY_ENDPOINT": "127.0.0.1:1"}
	for _, tt := range []struct {
		name, cmd     string
		args          []string
		env           config.Env
		wantDecision  string
		wantPassword  string
		wantPlaintext bool
	}{
		{name: "approve", cmd: "approve", args: []string{"call_1"}, env: env, wantDecision: "approved", wantPassword: "pw"},
		{name: "reject", cmd: "reject", args: []string{"call_1", "--reason", "no"}, env: env, wantDecision: "rejected", wantPassword: "pw"},
		{name: "password with spaces", cmd: "list", env: with(env, "APPROVER_PASSWORD", "  pass phrase \t"), wantPassword: "  pass phrase \t"},
		{name: "plaintext from the environment", cmd: "list", env: with(with(env, "AUTH_URL", "http://auth.example:3001"), "APPROVER_INSECURE_ALLOW_PLAINTEXT", "true"),
			wantPassword: "pw", wantPlaintext: true},
		{name: "plaintext from the flag", cmd: "watch", args: []string{"--insecure-allow-plaintext"}, env: with(env, "AUTH_URL", "http://auth.example:3001"),
			wantPassword: "pw", wantPlaintext: true},
		{name: "flag turns the environment's off", cmd: "list", args: []string{"--insecure-allow-plaintext=false"}, env: with(env, "APPROVER_INSECURE_ALLOW_PLAINTEXT", "true"),
			wantPassword: "pw"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			c, err := parseCLI(tt.cmd, tt.args, tt.env, strings.NewReader(""), io.Discard, &stderr)
			if err != nil {
				t.Fatalf("parseCLI(%s, %q) = %v; stderr:\n%s", tt.cmd, tt.args, err, stderr.String())
			}
			if got := string(c.decide.Decision); got != tt.wantDecision {
				t.Errorf("decision %q, want %q", got, tt.wantDecision)
			}
			if c.cfg.Password != tt.wantPassword {
				t.Errorf("password %q, want %q", c.cfg.Password, tt.wantPassword)
			}
			if c.cfg.AllowPlaintext != tt.wantPlaintext {
				t.Errorf("AllowPlaintext %v, want %v", c.cfg.AllowPlaintext, tt.wantPlaintext)
			}
		})
	}
}

// TestRunQuotesFailure: a failure's line quotes what a server said when it
// holds control characters (an auth server's status line, here): it
// cannot drive the approver's terminal.
func TestRunQuotesFailure(t *testing.T) {
	for _, tt := range []struct {
		name, status, want string
	}{
		{"control characters", "500 Oops\x1b]0;owned\x07", `"login: auth server answered 500 Oops\x1b]0;owned\a"`},
		{"plain text", "500 Oops", "approver: login: auth server answered 500 Oops\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						_, _ = bufio.NewReader(c).ReadString('\n')
						_, _ = io.WriteString(c, "HTTP/1.1 "+tt.status+"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
					}()
				}
			}()
			env := config.Env{"APPROVER_USER": "alice", "APPROVER_PASSWORD": "pw", "AUTH_URL": "http://" + ln.Addr().String(), "ABLY_ENDPOINT": "127.0.0.1:1"}
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), []string{"approve", "call_1", "--force"}, env, strings.NewReader(""), &stdout, &stderr)
			if code != exitError || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q in it", code, stderr.String(), exitError, tt.want)
			}
			if strings.ContainsAny(stderr.String(), "\x1b\x07") {
				t.Errorf("control characters reached the terminal: %q", stderr.String())
			}
		})
	}
}
