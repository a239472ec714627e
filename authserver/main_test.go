package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// answersOK GETs url, waiting at most 2 s for the answer, and reports
// whether it was 200: one poll of a server that may not be up yet.
func answersOK(t *testing.T, url string) (bool, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}

func runT(t *testing.T, ctx context.Context, env config.Env, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := mainErr(ctx, args, env, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	policy := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(policy, []byte(`{"roles":["viewer","approver"],"tools":{"x":{"minRole":"approver"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := config.Env{"AUTH_USERS_FILE": users, "HITL_AGENT_CLIENT_ID": "my-agent"}
	tests := []struct {
		name    string
		stdin   string
		args    []string
		wantErr string
		wantOut string
	}{
		{"add", "alice-password\n", []string{"useradd", "-name", "alice", "-role", "publisher"}, "", "user alice saved with role publisher"},
		{"add without newline", "bob-password", []string{"useradd", "-name", "bob", "-role", "admin"}, "", "user bob saved"},
		{"add crlf", "carol-password\r\n", []string{"useradd", "-name", "carol", "-role", "editor"}, "", "user carol saved"},
		{"unknown role", "long-password-1\n", []string{"useradd", "-name", "dave", "-role", "root"}, `role "root" is not in the role hierarchy`, ""},
		{"policy roles", "long-password-1\n", []string{"useradd", "-users", filepath.Join(dir, "other.json"), "-policy", policy, "-name", "dave", "-role", "approver"}, "", "user dave saved"},
		{"policy rejects default role", "long-password-1\n", []string{"useradd", "-policy", policy, "-name", "dave", "-role", "admin"}, "not in the role hierarchy", ""},
		{"reserved from env", "long-password-1\n", []string{"useradd", "-name", "my-agent", "-role", "admin"}, "reserved", ""},
		{"reserved default", "long-password-1\n", []string{"useradd", "-name", "hitl-bridge", "-role", "admin"}, "reserved", ""},
		{"empty stdin", "", []string{"useradd", "-name", "erin", "-role", "admin"}, "read password", ""},
		{"empty line", "\n", []string{"useradd", "-name", "erin", "-role", "admin"}, "empty password", ""},
		{"short password", "short\n", []string{"useradd", "-name", "erin", "-role", "admin"}, "too short", ""},
		{"11-character password", "erin-passwd\n", []string{"useradd", "-name", "erin", "-role", "admin"}, "too short", ""},
		{"common password", "Password1234\n", []string{"useradd", "-name", "erin", "-role", "admin"}, "common", ""},
		{"missing name", "long-password-1\n", []string{"useradd", "-role", "admin"}, "needs -name and -role", ""},
		{"delete", "", []string{"userdel", "-name", "bob"}, "", "user bob deleted"},
		{"delete missing", "", []string{"userdel", "-name", "bob"}, "not found", ""},
		{"unknown command", "", []string{"frobnicate"}, "unknown command", ""},
		{"stray argument", "", []string{"userdel", "-name", "x", "extra"}, "unexpected arguments", ""},
		{"bad policy file", "long-password-1\n", []string{"useradd", "-policy", filepath.Join(dir, "none.json"), "-name", "x", "-role", "admin"}, "policy file", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runT(t, t.Context(), env, tt.stdin, tt.args...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if !strings.Contains(out, tt.wantOut) {
				t.Errorf("output %q, want it to contain %q", out, tt.wantOut)
			}
		})
	}
	data, err := os.ReadFile(users)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"alice-password", "bob-password", "carol-password"} {
		if bytes.Contains(data, []byte(pw)) {
			t.Errorf("users file contains plain-text password %q", pw)
		}
	}
	got, err := authserver.ReadUsersFile(users, authserver.Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["alice"].Role != "publisher" || got["carol"].Role != "editor" {
		t.Errorf("users = %v, want alice and carol", got)
	}
}

func TestServeConfigErrors(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	if _, err := runT(t, t.Context(), config.Env{"AUTH_USERS_FILE": users}, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"users":[{"name":"x","role":"publisher","password":"plain"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	base := config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": "app.key:s3cret", "AUTH_LISTEN": "127.0.0.1:0"}
	with := func(k, v string) config.Env {
		m := config.Env{}
		for k, v := range base {
			m[k] = v
		}
		m[k] = v
		return m
	}
	tests := []struct {
		name    string
		env     config.Env
		args    []string
		wantErr string
	}{
		{"missing key", with("ABLY_API_KEY", ""), nil, "ABLY_API_KEY is required"},
		{"malformed key", with("ABLY_API_KEY", "justsecret"), nil, "appId.keyId:secret"},
		{"bad ttl", with("AUTH_TOKEN_TTL", "2d"), nil, `token ttl "2d" (-ttl, AUTH_TOKEN_TTL)`},
		{"ttl too long", with("AUTH_TOKEN_TTL", "2h"), nil, `token ttl 2h0m0s (-ttl, AUTH_TOKEN_TTL) out of range [1s, 1h0m0s]`},
		{"ttl over 1h", with("AUTH_TOKEN_TTL", "61m"), nil, "out of range"},
		{"ttl flag over 1h", base, []string{"serve", "-ttl", "24h"}, "out of range"},
		// The server's own bound, said by main with the setting's name.
		{"ttl under 1s", with("AUTH_TOKEN_TTL", "500ms"), nil, `token ttl 500ms (-ttl, AUTH_TOKEN_TTL) out of range [1s, 1h0m0s]`},
		{"plaintext on all interfaces", with("AUTH_LISTEN", "0.0.0.0:0"), nil, "is not loopback"},
		{"listen address malformed", base, []string{"-listen", "garbage"}, `listen address "garbage" (-listen, AUTH_LISTEN): want host:port`},
		{"plaintext on a routable address", base, []string{"-listen", "192.0.2.1:3001"}, "-insecure-allow-plaintext"},
		{"tls cert without key", with("AUTH_LISTEN", "0.0.0.0:0"), []string{"-tls-cert", "c.pem"}, "go together"},
		// 192.0.2.1 (TEST-NET) is never bound: the check comes first.
		{"plaintext off loopback without trusted proxies", with("AUTH_INSECURE_ALLOW_PLAINTEXT", "true"), []string{"-listen", "192.0.2.1:3001"}, "AUTH_TRUSTED_PROXIES"},
		{"plaintext flag off loopback without trusted proxies", base, []string{"-listen", "192.0.2.1:3001", "-insecure-allow-plaintext"}, "share the proxy's address"},
		{"tls key env without cert", with("AUTH_TLS_KEY", "k.pem"), nil, "go together"},
		{"tls files that do not load", base, []string{"-tls-cert", filepath.Join(dir, "c.pem"), "-tls-key", filepath.Join(dir, "k.pem")}, "-tls-cert, -tls-key (AUTH_TLS_CERT, AUTH_TLS_KEY): open " + filepath.Join(dir, "c.pem")},
		{"bad plaintext env", with("AUTH_INSECURE_ALLOW_PLAINTEXT", "maybe"), nil, "want true or false"},
		{"bad trusted proxies", with("AUTH_TRUSTED_PROXIES", "10.0.0.0/8,proxy"), nil, "trusted proxy"},
		{"bad trusted proxies flag", base, []string{"-trusted-proxies", "10.0.0.0/99"}, "trusted proxy"},
		{"policy from HITL_POLICY_FILE", with("HITL_POLICY_FILE", writePolicy(t, dir)), nil, `role "publisher" is not in the role hierarchy`},
		{"missing HITL_POLICY_FILE", with("HITL_POLICY_FILE", filepath.Join(dir, "nope.json")), nil, "policy file"},
		{"wildcard channel", with("ABLY_CHANNEL", "*"), nil, "wildcards"},
		{"bad Ably endpoint for the inbox", with("ABLY_ENDPOINT", "127.0.0.1"), nil, "ABLY_ENDPOINT"},
		// A host the page's Content-Security-Policy cannot name: bad
		// input said by main, not the server's exit 1.
		{"Ably endpoint the inbox page cannot name", config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": "app.key:s3cret", "AUTH_LISTEN": "127.0.0.1:0",
			"ABLY_ENDPOINT": "my_ably:8090", "ABLY_TLS": "true"}, nil, `ABLY_ENDPOINT: ably endpoint "my_ably:8090": want a host name or IP address`},
		{"Ably itself without TLS", with("ABLY_TLS", "false"), nil, "TLS only"},
		{"bad users file", with("AUTH_USERS_FILE", bad), nil, "unknown field"},
		{"missing users file", with("AUTH_USERS_FILE", filepath.Join(dir, "none.json")), nil, "no such file"},
		{"role outside policy", base, []string{"-policy", writePolicy(t, dir)}, `role "publisher" is not in the role hierarchy`},
		{"bad log format", base, []string{"-log-format", "xml"}, "log format"},
		{"health addr port out of range", with("HITL_HEALTH_ADDR", "127.0.0.1:99999"), nil, `HITL_HEALTH_ADDR (-health-addr) "127.0.0.1:99999"`},
		{"health addr port not a number", base, []string{"-health-addr", "127.0.0.1:abc"}, `HITL_HEALTH_ADDR (-health-addr) "127.0.0.1:abc"`},
		{"unknown flag", base, []string{"-nope"}, "flag provided but not defined"},
		// The inbox shows the agent's messages by its clientId.
		{"agent client id a wildcard", with("HITL_AGENT_CLIENT_ID", "*"), nil, `HITL_AGENT_CLIENT_ID "*" is Ably's wildcard`},
		{"bridge client id unprintable", with("HITL_BRIDGE_CLIENT_ID", "bridge\x1b"), nil, "HITL_BRIDGE_CLIENT_ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			_, err := runT(t, ctx, tt.env, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// A listen address that cannot be listened on for its port alone, or
// that the operations endpoint takes too, is bad input (exit status 2)
// found before anything is read or contacted: not, after the users file
// and the Ably key check, a failed listen (exit status 1), with the
// operations endpoint already serving.
func TestServeListenAddressErrors(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json") // never read
	tests := []struct {
		name    string
		env     config.Env
		args    []string
		wantErr string
	}{
		{"port out of range", config.Env{"AUTH_LISTEN": "127.0.0.1:99999"}, nil, `listen address "127.0.0.1:99999" (-listen, AUTH_LISTEN): port "99999"`},
		{"port not a number", nil, []string{"-listen", "127.0.0.1:http-alt-x"}, `listen address "127.0.0.1:http-alt-x" (-listen, AUTH_LISTEN)`},
		{"health endpoint on the listen address", config.Env{"HITL_HEALTH_ADDR": "127.0.0.1:28040"}, []string{"-listen", "127.0.0.1:28040"},
			`HITL_HEALTH_ADDR (-health-addr) "127.0.0.1:28040" is the listen address (-listen, AUTH_LISTEN) "127.0.0.1:28040"`},
		{"health endpoint on all interfaces at the listen port", config.Env{"AUTH_LISTEN": "127.0.0.1:28040"}, []string{"-health-addr", ":28040"},
			`is the listen address`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": "app.key:s3cret", "ABLY_ENDPOINT": "127.0.0.1:1", "ABLY_TLS": "false"}
			for k, v := range tt.env {
				env[k] = v
			}
			out, err := runT(t, t.Context(), env, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if code := config.ExitCode(err); code != config.ExitUsage {
				t.Errorf("exit status %d, want %d (bad input)", code, config.ExitUsage)
			}
			if out != "" {
				t.Errorf("output before the refusal: %q", out)
			}
		})
	}
}

// useradd's -name and -role are bad input (exit status 2) said before
// the password is asked for: not after it is typed, with exit status 1.
func TestUserAddChecksFlagsBeforeThePassword(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	env := config.Env{"AUTH_USERS_FILE": users, "HITL_AGENT_CLIENT_ID": "my-agent"}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"name with a space", []string{"-name", "Bad Name", "-role", "editor"}, `user name "Bad Name": only a-z`},
		{"name too long", []string{"-name", strings.Repeat("a", authserver.MaxNameLen+1), "-role", "editor"}, "want 1 to"},
		{"reserved name from env", []string{"-name", "my-agent", "-role", "editor"}, "reserved"},
		{"reserved default name", []string{"-name", "hitl-agent", "-role", "editor"}, "reserved"},
		{"unknown role", []string{"-name", "dave", "-role", "root"}, `role "root" is not in the role hierarchy`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// No password on stdin: reading it would fail with "read password".
			_, err := runT(t, t.Context(), env, "", append([]string{"useradd"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if code := config.ExitCode(err); code != config.ExitUsage {
				t.Errorf("exit status %d, want %d (bad input)", code, config.ExitUsage)
			}
		})
	}
	if _, err := os.Stat(users); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("users file: %v, want none made", err)
	}
}

func writePolicy(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "policy.json")
	if err := os.WriteFile(p, []byte(`{"roles":["viewer","approver"],"tools":{"x":{"minRole":"approver"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serve runs until the context is cancelled and then returns nil.
func TestServeUntilCancelled(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	ably := ablytest.Start(t, ablylocal.Config{}) // the start-up check asks it about the key
	env := config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": ablytest.APIKey, "ABLY_ENDPOINT": ably.Conn.Endpoint}
	if _, err := runT(t, t.Context(), env, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	env["AUTH_LISTEN"] = addr

	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() {
		_, err := runT(t, ctx, env, "", "serve", "-log-format", "json")
		done <- err
	}()
	// A bcrypt check at the default cost takes long under -race on a busy
	// machine: a request, once the server is up, gets all the time it needs.
	client := &http.Client{Timeout: 30 * time.Second}
	testutil.WaitFor(t, 60*time.Second, "a token from the server", func() (bool, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+authserver.TokenPath, nil)
		req.SetBasicAuth("alice", "alice-password")
		resp, err := client.Do(req)
		if err != nil {
			return false, err // not up yet
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/jwt" {
			t.Fatalf("token: %d %q", resp.StatusCode, body)
		}
		return true, nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after cancel")
	}
}

// A listen address another process holds stops serve before its
// operations endpoint listens: no health endpoint answers, for a moment,
// for a server that never served.
func TestServeListenAddressTaken(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	env := config.Env{"AUTH_USERS_FILE": users}
	if _, err := runT(t, t.Context(), env, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	ably := ablytest.Start(t, ablylocal.Config{})
	env["ABLY_API_KEY"], env["ABLY_ENDPOINT"] = ablytest.APIKey, ably.Conn.Endpoint
	env["AUTH_LISTEN"] = taken.Addr().String()
	env["HITL_HEALTH_ADDR"] = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	out, err := runT(t, t.Context(), env, "", "serve")
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("serve = %v, want the listen refused", err)
	}
	if strings.Contains(out, "health endpoint listening") {
		t.Errorf("the health endpoint listened for a server that never served:\n%s", out)
	}
}

// TestServeChecksTheAblyKey: a server whose key Ably refuses would sign
// tokens every approver then has refused, while it looked healthy: it
// stops at once, naming the key. An Ably that does not answer is only
// logged.
func TestServeChecksTheAblyKey(t *testing.T) {
	ably := ablytest.Start(t, ablylocal.Config{})
	for _, tt := range []struct {
		name, key, endpoint string
		refused             bool
	}{
		{"a wrong secret", ablytest.KeyName + ":not-the-secret", ably.Conn.Endpoint, true},
		{"an unknown key", "app.unknown:whatever", ably.Conn.Endpoint, true},
		{"Ably out of reach", ablytest.APIKey, fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			users := filepath.Join(t.TempDir(), "users.json")
			env := config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": tt.key, "ABLY_ENDPOINT": tt.endpoint,
				"AUTH_LISTEN": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
			if _, err := runT(t, t.Context(), env, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			done := make(chan error, 1)
			var out string
			go func() {
				var err error
				out, err = runT(t, ctx, env, "", "serve", "-log-format", "json")
				done <- err
			}()
			if tt.refused {
				err := <-done
				if !errors.Is(err, ablyconn.ErrKeyRefused) || strings.Contains(err.Error(), "not-the-secret") {
					t.Fatalf("serve = %v, want the key refused (without its secret)", err)
				}
				return
			}
			addr := "http://" + env["AUTH_LISTEN"] + "/healthz"
			testutil.WaitFor(t, 20*time.Second, "the server up", func() (bool, error) { return answersOK(t, addr) })
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve = %v after cancel, want nil", err)
			}
			if !strings.Contains(out, "could not check the Ably key") {
				t.Errorf("no warning about the unchecked key:\n%s", out)
			}
		})
	}
}

func TestServeConfigParsed(t *testing.T) {
	tests := []struct {
		name  string
		env   config.Env
		args  []string
		check func(Config) bool
	}{
		{"HITL_POLICY_FILE is the default policy", config.Env{"HITL_POLICY_FILE": "p.json"}, nil,
			func(c Config) bool { return c.PolicyFile == "p.json" }},
		{"-policy overrides HITL_POLICY_FILE", config.Env{"HITL_POLICY_FILE": "p.json"}, []string{"-policy", "q.json"},
			func(c Config) bool { return c.PolicyFile == "q.json" }},
		{"no policy", nil, nil, func(c Config) bool { return c.PolicyFile == "" }},
		{"plaintext allowed by flag", config.Env{"AUTH_LISTEN": "0.0.0.0:3001", "AUTH_TRUSTED_PROXIES": "10.0.0.5"}, []string{"-insecure-allow-plaintext"},
			func(c Config) bool { return c.AllowPlaintext && c.Listen == "0.0.0.0:3001" }},
		{"plaintext allowed by env", config.Env{"AUTH_LISTEN": "0.0.0.0:3001", "AUTH_INSECURE_ALLOW_PLAINTEXT": "true", "AUTH_TRUSTED_PROXIES": "10.0.0.5"}, nil,
			func(c Config) bool { return c.AllowPlaintext }},
		{"plaintext on loopback needs no trusted proxies", config.Env{"AUTH_LISTEN": "127.0.0.1:3001", "AUTH_INSECURE_ALLOW_PLAINTEXT": "true"}, nil,
			func(c Config) bool { return c.AllowPlaintext && len(c.TrustedProxies) == 0 }},
		{"TLS off loopback needs no trusted proxies", config.Env{"AUTH_LISTEN": "0.0.0.0:3001", "AUTH_TLS_CERT": "c.pem", "AUTH_TLS_KEY": "k.pem"}, nil,
			func(c Config) bool { return len(c.TrustedProxies) == 0 }},
		{"TLS from env", config.Env{"AUTH_LISTEN": ":3001", "AUTH_TLS_CERT": "c.pem", "AUTH_TLS_KEY": "k.pem"}, nil,
			func(c Config) bool { return c.TLSCert == "c.pem" && c.TLSKey == "k.pem" && !c.AllowPlaintext }},
		{"trusted proxies from env", config.Env{"AUTH_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}, nil,
			func(c Config) bool {
				return len(c.TrustedProxies) == 2 && c.TrustedProxies[1] == netip.MustParsePrefix("192.0.2.7/32")
			}},
		{"trusted proxies flag overrides env", config.Env{"AUTH_TRUSTED_PROXIES": "10.0.0.0/8"}, []string{"-trusted-proxies", "172.16.0.0/12"},
			func(c Config) bool {
				return len(c.TrustedProxies) == 1 && c.TrustedProxies[0] == netip.MustParsePrefix("172.16.0.0/12")
			}},
		{"the inbox trusts the default agent and reaches Ably itself", nil, nil,
			func(c Config) bool {
				return c.AgentClientID == workflows.DefaultAgentClientID && c.Ably.Endpoint == "" && c.Ably.TLS
			}},
		{"the inbox reads HITL_AGENT_CLIENT_ID and ABLY_ENDPOINT", config.Env{"HITL_AGENT_CLIENT_ID": "hitl:agent", "ABLY_ENDPOINT": "127.0.0.1:8090"}, nil,
			func(c Config) bool {
				return c.AgentClientID == "hitl:agent" && c.Ably.Endpoint == "127.0.0.1:8090" && !c.Ably.TLS
			}},
		{"useradd reads HITL_POLICY_FILE too", config.Env{"HITL_POLICY_FILE": "p.json"}, []string{"useradd", "-name", "a", "-role", "b"},
			func(c Config) bool { return c.PolicyFile == "p.json" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := config.Env{"ABLY_API_KEY": "app.key:s3cret"}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := loadConfig(tt.args, env, io.Discard)
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if !tt.check(c) {
				t.Fatalf("config = %+v", c)
			}
		})
	}
}

// -h prints the usage and succeeds, like the other commands' -h.
func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"serve", "-h"}, {"useradd", "-h"}, {"userdel", "--help"}} {
		out, err := runT(t, t.Context(), config.Env{}, "", args...)
		if err != nil {
			t.Errorf("%q: %v, want nil", args, err)
		}
		if !strings.Contains(out, "usage: authserver") || !strings.Contains(out, "-users") {
			t.Errorf("%q: output %q, want the usage and the flags", args, out)
		}
	}
}

// From a pipe (useradd in a script or `docker compose run -T`) the
// password is one line, read without a prompt and without touching a
// terminal.
func TestReadPasswordPipe(t *testing.T) {
	tests := []struct {
		name, in, want, wantErr string
	}{
		{"line", "pipe-secret-1\n", "pipe-secret-1", ""},
		{"crlf", "pipe-secret-1\r\n", "pipe-secret-1", ""},
		{"no newline", "pipe-secret-1", "pipe-secret-1", ""},
		{"only the first line", "pipe-secret-1\nsecond\n", "pipe-secret-1", ""},
		{"empty", "", "", "want one line"},
		{"blank line", "\n", "", "empty password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { r.Close() })
			go func() {
				_, _ = io.WriteString(w, tt.in)
				w.Close()
			}()
			var stderr bytes.Buffer
			got, err := readPassword(r, &stderr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("readPassword = %q, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("readPassword = %q, %v; want %q", got, err, tt.want)
			}
			if stderr.Len() != 0 {
				t.Errorf("prompt %q written for a pipe", stderr.String())
			}
		})
	}
}

// Attack 9 of issue 9: a custom agent clientId (HITL_AGENT_CLIENT_ID) must
// never be an approver's name, or that approver's token would let them
// publish as the agent. useradd refuses it; a users file that already has
// it (written before the clientId was configured) is refused at serve,
// with the way out named, and userdel can take it out.
func TestCustomTrustedClientIDIsNoUser(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	trusted := config.Env{
		"AUTH_USERS_FILE":       users,
		"ABLY_API_KEY":          "app.key:s3cret",
		"AUTH_LISTEN":           "127.0.0.1:0",
		"HITL_AGENT_CLIENT_ID":  "my-agent",
		"HITL_BRIDGE_CLIENT_ID": "my-bridge",
	}
	for _, name := range []string{"my-agent", "my-bridge", "hitl-agent", "hitl-bridge", workflows.DefaultAgentClientID, workflows.DefaultBridgeClientID} {
		_, err := runT(t, t.Context(), trusted, "long-password-1\n", "useradd", "-name", name, "-role", "admin")
		if err == nil || !strings.Contains(err.Error(), "reserved") && !strings.Contains(err.Error(), "only a-z") {
			t.Errorf("useradd %s with the trusted clientIds configured: %v, want refused", name, err)
		}
	}
	if _, err := os.Stat(users); !os.IsNotExist(err) {
		t.Fatalf("users file written by a refused useradd")
	}

	// Before the operator set HITL_AGENT_CLIENT_ID, my-agent was a name
	// like any other.
	unaware := config.Env{"AUTH_USERS_FILE": users}
	for _, name := range []string{"my-agent", "alice"} {
		if _, err := runT(t, t.Context(), unaware, "long-password-1\n", "useradd", "-name", name, "-role", "admin"); err != nil {
			t.Fatalf("useradd %s: %v", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := runT(t, ctx, trusted, "", "serve")
	for _, want := range []string{`"my-agent"`, "reserved", "userdel -name my-agent"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve with my-agent in the users file: %v, want a refusal containing %q", err, want)
		}
	}
	if _, err := runT(t, t.Context(), trusted, "", "userdel", "-name", "my-agent"); err != nil {
		t.Fatalf("userdel my-agent: %v", err)
	}
	if _, err := authserver.New(authserver.Config{UsersFile: users, AblyKey: "app.key:s3cret", Reserved: []string{"my-agent", "my-bridge"}}); err != nil {
		t.Fatalf("the users file after userdel: %v, want it served", err)
	}
}

// A flag's parse error is printed once, by main, as the command's one
// error line; loadConfig prints only the usage.
func TestFlagErrorNotPrinted(t *testing.T) {
	for _, args := range [][]string{{"-bogus"}, {"serve", "-log-level", "loud"}, {"useradd", "-ttl", "1h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var stderr strings.Builder
			_, err := loadConfig(args, config.Env{}, &stderr)
			testutil.UsageOnly(t, stderr.String(), err, "usage: authserver")
		})
	}
}
