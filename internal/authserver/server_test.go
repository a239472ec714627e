package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestTokenIssued(t *testing.T) {
	tests := []struct {
		name     string
		mod      func(*Config)
		method   string
		user     string
		password string
		wantRole string
		channel  string
		ttl      time.Duration
	}{
		{"publisher GET", nil, http.MethodGet, "alice", "alice-password", "publisher", testChannel, time.Hour},
		{"admin POST", nil, http.MethodPost, "bob", "bob-password-1", "admin", testChannel, time.Hour},
		{"editor password with colons", nil, http.MethodGet, "carol", "carol:with:colons", "editor", testChannel, time.Hour},
		{"72-byte password", nil, http.MethodGet, "dan.long", testUsers[3].password, "publisher", testChannel, time.Hour},
		{"custom channel and ttl", func(c *Config) { c.Channel = "approvals:team-1"; c.TokenTTL = 5 * time.Minute },
			http.MethodGet, "alice", "alice-password", "publisher", "approvals:team-1", 5 * time.Minute},
		{"max ttl", func(c *Config) { c.TokenTTL = MaxTokenTTL },
			http.MethodPost, "bob", "bob-password-1", "admin", testChannel, MaxTokenTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, tt.mod)
			rec := doToken(t, s.Handler(), tt.method, "192.0.2.1:4000", basic(tt.user, tt.password))
			if rec.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200; body %q", rec.Code, rec.Body.String())
			}
			if got := rec.Header().Get("Content-Type"); got != "application/jwt" {
				t.Errorf("Content-Type = %q, want application/jwt", got)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			now := clock.Now()
			_, claims := verifyToken(t, rec.Body.String(), now)

			roleClaim := "ably.channel." + tt.channel
			wantKeys := []string{"ably.channel." + tt.channel, "exp", "iat", "x-ably-capability", "x-ably-clientId"}
			var keys []string
			for k := range claims {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("claims = %q, want exactly %q", keys, wantKeys)
			}
			iat, _ := claims.GetIssuedAt()
			exp, _ := claims.GetExpirationTime()
			if iat == nil || exp == nil {
				t.Fatalf("iat/exp missing: %v", claims)
			}
			if got, want := iat.Unix(), now.Unix(); got != want {
				t.Errorf("iat = %d, want %d", got, want)
			}
			if got := exp.Sub(iat.Time); got != tt.ttl || got > MaxTokenTTL {
				t.Errorf("exp - iat = %s, want %s", got, tt.ttl)
			}
			if got := claims["x-ably-clientId"]; got != tt.user {
				t.Errorf("x-ably-clientId = %v, want %q", got, tt.user)
			}
			wantCap := `{"` + tt.channel + `":["history","publish","subscribe"]}`
			capStr, ok := claims["x-ably-capability"].(string)
			if !ok || capStr != wantCap {
				t.Errorf("x-ably-capability = %#v, want JSON string %s", claims["x-ably-capability"], wantCap)
			}
			var capability map[string][]string
			if err := json.Unmarshal([]byte(capStr), &capability); err != nil {
				t.Fatalf("capability is not JSON: %v", err)
			}
			if len(capability) != 1 || !slices.Equal(capability[tt.channel], []string{"history", "publish", "subscribe"}) {
				t.Errorf("capability = %v: want only %s with history, publish, subscribe", capability, tt.channel)
			}
			if got := claims[roleClaim]; got != tt.wantRole {
				t.Errorf("%s = %v, want %q", roleClaim, got, tt.wantRole)
			}
			// Expired one second after exp.
			if _, err := parseAt(rec.Body.String(), exp.Add(time.Second)); err == nil {
				t.Errorf("token still valid after exp")
			}
		})
	}
}

func TestTokenRejected(t *testing.T) {
	long := testUsers[3].password + "z" // 73 bytes: bcrypt would ignore the extra byte
	tests := []struct {
		name string
		auth []string
	}{
		{"wrong password", []string{basic("alice", "wrong-password")}},
		{"unknown user", []string{basic("mallory", "alice-password")}},
		{"other user's password", []string{basic("alice", "bob-password-1")}},
		{"empty password", []string{basic("alice", "")}},
		{"password over 72 bytes with valid prefix", []string{basic("dan.long", long)}},
		{"missing header", nil},
		{"bearer scheme", []string{"Bearer abc.def.ghi"}},
		{"bad base64", []string{"Basic !!!notbase64"}},
		{"no colon", []string{"Basic " + "YWxpY2U="}},
		{"empty user", []string{basic("", "alice-password")}},
		{"scheme only", []string{"Basic"}},
		{"two headers", []string{basic("alice", "alice-password"), basic("bob", "bob-password-1")}},
		{"upper-case name", []string{basic("Alice", "alice-password")}},
		{"reserved name", []string{basic("hitl-agent", "alice-password")}},
		{"wildcard name", []string{basic("*", "alice-password")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, nil)
			rec := doToken(t, s.Handler(), http.MethodGet, "192.0.2.1:4000", tt.auth...)
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", rec.Code)
			}
			if got, want := rec.Header().Get("WWW-Authenticate"), `Basic realm="approvers"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if got := rec.Body.String(); got != msgUnauthorized+"\n" {
				t.Errorf("body = %q, want %q", got, msgUnauthorized)
			}
			if got := rec.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// A wrong password and an unknown user must look the same: status, headers
// and body, and each runs exactly one bcrypt comparison.
func TestUnknownUserIndistinguishable(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	var calls atomic.Int32
	var lastHash atomic.Value
	s.compare = func(hash, pw []byte) error {
		calls.Add(1)
		lastHash.Store(string(hash))
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	wrong := doToken(t, s.Handler(), http.MethodGet, "192.0.2.1:1", basic("alice", "not-her-password"))
	if got := calls.Load(); got != 1 {
		t.Errorf("wrong password: %d bcrypt comparisons, want 1", got)
	}
	unknown := doToken(t, s.Handler(), http.MethodGet, "192.0.2.2:1", basic("nobody", "not-her-password"))
	if got := calls.Load(); got != 2 {
		t.Errorf("unknown user: %d bcrypt comparisons in total, want 2", got)
	}
	if got := lastHash.Load(); got != string(s.users.dummyHashes()[bcrypt.MinCost]) {
		t.Errorf("unknown user compared against %v, want the dummy hash", got)
	}
	if wrong.Code != unknown.Code || wrong.Body.String() != unknown.Body.String() {
		t.Errorf("wrong password %d %q vs unknown user %d %q", wrong.Code, wrong.Body, unknown.Code, unknown.Body)
	}
	for _, h := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control", "Content-Length", "Retry-After"} {
		if a, b := wrong.Header().Get(h), unknown.Header().Get(h); a != b {
			t.Errorf("header %s: wrong password %q vs unknown user %q", h, a, b)
		}
	}
	if got := slices.Sorted(maps.Keys(s.users.dummyHashes())); !slices.Equal(got, []int{bcrypt.MinCost}) {
		t.Errorf("dummy hash costs = %v; want only the configured cost %d", got, bcrypt.MinCost)
	}
}

func TestRateLimit(t *testing.T) {
	const window = time.Minute
	type step struct {
		advance   time.Duration
		remote    string
		auth      string
		wantCode  int
		wantRetry string // Retry-After, for 429
	}
	wrongAlice := basic("alice", "wrong")
	goodAlice := basic("alice", "alice-password")
	goodBob := basic("bob", "bob-password-1")
	repeat := func(n int, st step) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = st
		}
		return out
	}
	join := func(parts ...[]step) []step { return slices.Concat(parts...) }
	// distinctAddrs returns n steps from n client addresses.
	distinctAddrs := func(n int, auth string, code int) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = step{remote: fmt.Sprintf("198.51.100.%d:9", i+1), auth: auth, wantCode: code}
		}
		return out
	}
	// distinctUsers returns n failing steps from remote, one per user name.
	distinctUsers := func(n int, remote string) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = step{remote: remote, auth: basic(fmt.Sprintf("m%d", i), "x"), wantCode: 401}
		}
		return out
	}
	perAddr := DefaultAddrFailuresFactor * DefaultMaxFailures
	// Waits for a user name's turn (after 5 failures for it: 1 s, 2 s, ...)
	// pass on the fake clock, so a Retry-After counts from the answer.
	tests := []struct {
		name  string
		steps []step
	}{
		{"per user and address: failures over the limit get 429, the correct password still gets in", join(
			repeat(5, step{remote: "192.0.2.7:1", auth: wrongAlice, wantCode: 401}),
			[]step{
				{remote: "192.0.2.7:2", auth: wrongAlice, wantCode: 429, wantRetry: "59"},                            // after a 1 s turn
				{remote: "192.0.2.7:2", auth: goodBob, wantCode: 200},                                                // another user from the address is unaffected
				{advance: 29 * time.Second, remote: "192.0.2.7:3", auth: wrongAlice, wantCode: 429, wantRetry: "28"}, // after a 2 s turn
				{remote: "192.0.2.7:3", auth: goodAlice, wantCode: 200},                                              // issue 9, attack 4: a correct password is never refused
				{remote: "192.0.2.7:3", auth: wrongAlice, wantCode: 401},                                             // the success reset the pair's count
			})},
		{"per address over all user names", join(
			distinctUsers(perAddr, "192.0.2.17:1"),
			[]step{
				{remote: "192.0.2.17:2", auth: basic("m-next", "x"), wantCode: 429, wantRetry: "60"},
				{remote: "192.0.2.17:2", auth: goodAlice, wantCode: 200},            // a correct password from the address
				{remote: "192.0.2.18:1", auth: basic("m-next", "x"), wantCode: 401}, // another client is unaffected
				{advance: window, remote: "192.0.2.17:3", auth: basic("m-last", "x"), wantCode: 401},
			})},
		{"failures for a user from other addresses never refuse correct credentials", join(
			distinctAddrs(10, wrongAlice, 401),
			[]step{
				{remote: "203.0.113.9:1", auth: goodAlice, wantCode: 200},
				{remote: "203.0.113.9:1", auth: goodBob, wantCode: 200},
			})},
		{"unknown user is limited like a known one", join(
			repeat(5, step{remote: "203.0.113.9:1", auth: basic("ghost", "x"), wantCode: 401}),
			[]step{{remote: "203.0.113.9:1", auth: basic("ghost", "x"), wantCode: 429, wantRetry: "59"}})},
		{"IPv6 clients in one /64 share a limit", join(
			[]step{
				{remote: "[2001:db8::1]:1", auth: wrongAlice, wantCode: 401},
				{remote: "[2001:db8::2]:1", auth: wrongAlice, wantCode: 401},
				{remote: "[2001:db8::3]:1", auth: wrongAlice, wantCode: 401},
				{remote: "[2001:db8::4]:1", auth: wrongAlice, wantCode: 401},
				{remote: "[2001:db8::5]:1", auth: wrongAlice, wantCode: 401},
				{remote: "[2001:db8::6]:1", auth: wrongAlice, wantCode: 429, wantRetry: "59"},
				{remote: "[2001:db8::7]:1", auth: goodAlice, wantCode: 200},
				{remote: "[2001:db8:0:1::1]:1", auth: wrongAlice, wantCode: 401},
			})},
		{"malformed headers count per address", join(
			repeat(perAddr, step{remote: "192.0.2.9:1", auth: "Basic %%%", wantCode: 401}),
			[]step{
				{remote: "192.0.2.9:1", auth: "Basic %%%", wantCode: 429, wantRetry: "60"},
				{remote: "192.0.2.9:1", auth: goodAlice, wantCode: 200},
			})},
		{"missing header is a challenge, not a failure", join(
			repeat(perAddr+3, step{remote: "192.0.2.10:1", wantCode: 401}),
			[]step{{remote: "192.0.2.10:1", auth: goodAlice, wantCode: 200}})},
		{"success resets the pair's count", join(
			repeat(4, step{remote: "192.0.2.11:1", auth: wrongAlice, wantCode: 401}),
			[]step{{remote: "192.0.2.11:1", auth: goodAlice, wantCode: 200}},
			repeat(4, step{remote: "192.0.2.11:1", auth: wrongAlice, wantCode: 401}),
			[]step{{remote: "192.0.2.11:1", auth: goodAlice, wantCode: 200}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, nil)
			s.sleep = clock.Sleep
			h := s.Handler()
			for i, st := range tt.steps {
				clock.Advance(st.advance)
				var auth []string
				if st.auth != "" {
					auth = []string{st.auth}
				}
				rec := doToken(t, h, http.MethodGet, st.remote, auth...)
				if rec.Code != st.wantCode {
					t.Fatalf("step %d (%s): status = %d, want %d; body %q", i, st.remote, rec.Code, st.wantCode, rec.Body)
				}
				if got := rec.Header().Get("Retry-After"); got != st.wantRetry {
					t.Errorf("step %d: Retry-After = %q, want %q", i, got, st.wantRetry)
				}
				if st.wantCode == http.StatusTooManyRequests && rec.Body.String() != msgTooMany+"\n" {
					t.Errorf("step %d: body = %q, want %q", i, rec.Body, msgTooMany)
				}
			}
		})
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	clock := newFakeClock()
	l := newFailureLimiter(2, time.Minute, 3)
	for _, k := range []string{"a", "b", "c"} {
		l.fail(k, clock.Now())
		clock.Advance(time.Second)
	}
	l.fail("a", clock.Now())
	if _, over := l.fail("a", clock.Now()); !over {
		t.Fatalf("a not over its limit after 3 failures")
	}
	// Full: a new key evicts the oldest window (a).
	l.fail("d", clock.Now())
	if got := l.len(); got != 3 {
		t.Errorf("len = %d, want 3", got)
	}
	if _, over := l.fail("a", clock.Now()); over {
		t.Errorf("a still tracked after eviction")
	}
	// After the window every old key is pruned on the next insert.
	clock.Advance(2 * time.Minute)
	l.fail("e", clock.Now())
	if got := l.len(); got != 1 {
		t.Errorf("len after expiry = %d, want 1", got)
	}
	// Many distinct keys never grow past the size.
	for i := range 1000 {
		l.fail(strings.Repeat("k", i%50)+string(rune('a'+i%26)), clock.Now())
	}
	if got := l.len(); got > 3 {
		t.Errorf("len = %d, want <= 3", got)
	}
}

// Parallel guesses cannot exceed the per-name cap: attempts are counted
// before the password is checked, so 20 guesses sent at once get the 5 free
// checks and the turns within the 5 s wait (at +1 s and +3 s; the next would
// be at +6 s), and the rest 429 without a check. (The clock stands still:
// the waits return at once.)
func TestRateLimitParallel(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	s.sleep = func(context.Context, time.Duration) error { return nil }
	const n = 20
	const wantChecks = DefaultMaxFailures + 2
	s.slots = newHashSlots(n, n, n, time.Minute) // the bcrypt slots are not what limits here
	release := make(chan struct{})
	var inCompare, limited atomic.Int32
	s.compare = func(hash, pw []byte) error {
		inCompare.Add(1)
		<-release
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	codes := make(chan int, n)
	for i := range n {
		go func() {
			rec := doToken(t, s.Handler(), http.MethodGet, "192.0.2.99:"+strconv.Itoa(1000+i), basic("alice", "guess-"+strconv.Itoa(i)))
			if rec.Code == http.StatusTooManyRequests {
				limited.Add(1)
			}
			codes <- rec.Code
		}()
	}
	// Every request is either refused or inside bcrypt; only then release.
	testutil.Eventually(t, 20*time.Second, "every request refused or in bcrypt", func() bool {
		return inCompare.Load()+limited.Load() == n || inCompare.Load() > wantChecks
	})
	close(release)
	counts := map[int]int{}
	for range n {
		select {
		case c := <-codes:
			counts[c]++
		case <-time.After(20 * time.Second):
			t.Fatal("requests did not finish")
		}
	}
	if got := inCompare.Load(); got != wantChecks {
		t.Errorf("%d passwords checked, want %d", got, wantChecks)
	}
	if counts[401]+counts[429] != n || counts[429] < n-wantChecks {
		t.Errorf("status counts = %v, want %d x 401 or 429, at least %d x 429", counts, n, n-wantChecks)
	}
}

func TestClientKey(t *testing.T) {
	tests := []struct{ remote, want string }{
		{"192.0.2.1:1234", "ip:192.0.2.1"},
		{"[::ffff:192.0.2.1]:1234", "ip:192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:80", "ip:2001:db8:1:2::/64"},
		{"[fe80::1%eth0]:80", "ip:fe80::/64"},
		{"not-an-address", "addr:not-an-address"},
	}
	for _, tt := range tests {
		if got := clientKey(tt.remote); got != tt.want {
			t.Errorf("clientKey(%q) = %q, want %q", tt.remote, got, tt.want)
		}
	}
}

func TestCapability(t *testing.T) {
	tests := []struct{ channel, want string }{
		{"ai:big-bad-any", `{"ai:big-bad-any":["history","publish","subscribe"]}`},
		{"team&co:<x>", `{"team&co:<x>":["history","publish","subscribe"]}`},
		{`a"b`, `{"a\"b":["history","publish","subscribe"]}`},
	}
	for _, tt := range tests {
		if got := Capability(tt.channel); got != tt.want {
			t.Errorf("Capability(%q) = %s, want %s", tt.channel, got, tt.want)
		}
	}
}

func TestHealthAndMethods(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	h := s.Handler()
	tests := []struct {
		method, path string
		wantCode     int
		wantBody     string
	}{
		{http.MethodGet, HealthPath, 200, "ok"},
		{http.MethodPut, TokenPath, 405, ""},
		{http.MethodDelete, TokenPath, 405, ""},
		{http.MethodHead, TokenPath, 405, ""},
		{http.MethodGet, "/api/auth/other", 404, ""},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		req.Header.Set("Authorization", basic("alice", "alice-password"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.wantCode {
			t.Errorf("%s %s: status = %d, want %d", tt.method, tt.path, rec.Code, tt.wantCode)
		}
		if tt.wantBody != "" && rec.Body.String() != tt.wantBody {
			t.Errorf("%s %s: body = %q, want %q", tt.method, tt.path, rec.Body, tt.wantBody)
		}
		if rec.Header().Get("Content-Type") == "application/jwt" {
			t.Errorf("%s %s: issued a token", tt.method, tt.path)
		}
	}
}

// useradd and userdel take effect on a running server without a restart; a
// broken users file fails closed until it is fixed.
func TestUsersFileReload(t *testing.T) {
	s, _, path := newTestServer(t, nil)
	h := s.Handler()
	login := func(user, pw string) int {
		t.Helper()
		return doToken(t, h, http.MethodGet, "192.0.2.50:1", basic(user, pw)).Code
	}
	steps := []struct {
		name   string
		change func() error
		user   string
		pw     string
		want   int
	}{
		{"unknown before useradd", nil, "erin", "erin-password", 401},
		{"useradd", func() error {
			return AddUser(path, "erin", "admin", "erin-password", nil, WithCost(bcrypt.MinCost))
		}, "erin", "erin-password", 200},
		{"password change", func() error {
			return AddUser(path, "erin", "admin", "erin-password-2", nil, WithCost(bcrypt.MinCost))
		}, "erin", "erin-password", 401},
		{"new password works", nil, "erin", "erin-password-2", 200},
		{"userdel", func() error { return DeleteUser(path, "alice", nil, WithCost(bcrypt.MinCost)) }, "alice", "alice-password", 401},
		{"corrupt file fails closed", func() error { return os.WriteFile(path, []byte(`{"users":[`), 0o600) }, "bob", "bob-password-1", 503},
		{"missing file fails closed", func() error { return os.Remove(path) }, "bob", "bob-password-1", 503},
		{"restored file works", func() error {
			return AddUser(path, "bob", "admin", "bob-password-1", nil, WithCost(bcrypt.MinCost))
		}, "bob", "bob-password-1", 200},
	}
	for _, st := range steps {
		if st.change != nil {
			if err := st.change(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
		if got := login(st.user, st.pw); got != st.want {
			t.Errorf("%s: status = %d, want %d", st.name, got, st.want)
		}
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	good := writeTestUsers(t)
	dir := t.TempDir()
	bad := dir + "/bad.json"
	if err := os.WriteFile(bad, []byte(`{"users":[{"name":"x","role":"publisher","passwordHash":"plain"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"missing key", Config{UsersFile: good}, "ably key is required"},
		{"bad key", Config{UsersFile: good, AblyKey: "nocolon"}, "appId.keyId:secret"},
		{"ttl too long", Config{UsersFile: good, AblyKey: testKey, TokenTTL: time.Hour + time.Second}, "token ttl"},
		{"ttl a day", Config{UsersFile: good, AblyKey: testKey, TokenTTL: 24 * time.Hour}, "token ttl"},
		{"tls cert without key", Config{UsersFile: good, AblyKey: testKey, TLSCertFile: "cert.pem"}, "both a certificate and a key"},
		{"ttl negative", Config{UsersFile: good, AblyKey: testKey, TokenTTL: -time.Minute}, "token ttl"},
		{"ttl under a second", Config{UsersFile: good, AblyKey: testKey, TokenTTL: time.Second / 2}, "token ttl"},
		{"slowdown beyond half the shutdown", Config{UsersFile: good, AblyKey: testKey, MaxUserSlowdown: 6 * time.Second}, "user slowdown"},
		{"failure window under a second", Config{UsersFile: good, AblyKey: testKey, FailureWindow: time.Second / 2}, "failure window"},
		{"session ttl over a day", Config{UsersFile: good, AblyKey: testKey, SessionTTL: 25 * time.Hour}, "session ttl"},
		{"session ttl under a minute", Config{UsersFile: good, AblyKey: testKey, SessionTTL: time.Second}, "session ttl"},
		{"ably endpoint that adds to the policy", Config{UsersFile: good, AblyKey: testKey, AblyEndpoint: "evil.example:80; script-src *"}, "ably endpoint"},
		{"role none", Config{UsersFile: good, AblyKey: testKey, Roles: []string{"publisher", "editor", "admin", "none"}, BcryptCost: bcrypt.MinCost}, "bad role hierarchy"},
		{"wildcard channel", Config{UsersFile: good, AblyKey: testKey, Channel: "ai:*"}, "wildcards"},
		{"qualified channel", Config{UsersFile: good, AblyKey: testKey, Channel: "[meta]log"}, "qualifiers"},
		{"duplicate roles", Config{UsersFile: good, AblyKey: testKey, Roles: []string{"a", "a"}}, "role hierarchy"},
		{"bad listen", Config{UsersFile: good, AblyKey: testKey, Listen: "3001"}, "host:port"},
		{"missing users file", Config{UsersFile: dir + "/none.json", AblyKey: testKey}, "no such file"},
		{"plain-text password in file", Config{UsersFile: bad, AblyKey: testKey}, "not a bcrypt hash"},
		{"role not in hierarchy", Config{UsersFile: good, AblyKey: testKey, Roles: []string{"editor", "publisher"}, BcryptCost: bcrypt.MinCost}, `role "admin"`},
		{"hash cost below minimum", Config{UsersFile: good, AblyKey: testKey}, "below the minimum"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
			// The caller reports New's error: logged here as well, the
			// same reason showed twice on a failed start.
			if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("New logged %q besides returning its error", logs.String())
			}
		})
	}
}

// A users file that becomes unusable after a good start is logged once,
// when it changes, not at every login.
func TestUsersFileLossLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	s, _, path := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	if !strings.Contains(logs.String(), "users file loaded") || strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("a good start logged %q, want that the users file was loaded", logs.String())
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := s.Health(context.Background()); err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Fatalf("Health with the users file gone: %v", err)
		}
	}
	if n := strings.Count(logs.String(), "users file unreadable"); n != 1 {
		t.Errorf("the users file's loss logged %d times, want once: %q", n, logs.String())
	}
}

// Serve and ListenAndServe run a real server on loopback and return nil
// after the context is cancelled.
func TestServeGracefulShutdown(t *testing.T) {
	for _, mode := range []string{"Serve", "ListenAndServe"} {
		t.Run(mode, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			if mode == "ListenAndServe" {
				ln.Close() // ListenAndServe binds the same address itself
			}
			s, _, _ := newTestServer(t, func(c *Config) { c.Listen = addr; c.Now = nil })
			ctx, cancel := context.WithCancel(t.Context())
			t.Cleanup(cancel)
			done := make(chan error, 1)
			go func() {
				if mode == "Serve" {
					done <- s.Serve(ctx, ln)
				} else {
					done <- s.ListenAndServe(ctx)
				}
			}()
			base := "http://" + addr
			client := &http.Client{Timeout: 2 * time.Second}
			testutil.Eventually(t, 20*time.Second, "the health endpoint", func() bool {
				resp, err := client.Get(base + HealthPath)
				if err != nil {
					return false
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return resp.StatusCode == 200 && string(body) == "ok"
			})
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+TokenPath, nil)
			req.SetBasicAuth("alice", "alice-password")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("token request: %v", err)
			}
			tok, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(bytes.Split(tok, []byte("."))) != 3 {
				t.Fatalf("token request: %d %q", resp.StatusCode, tok)
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s returned %v after cancel, want nil", mode, err)
				}
			case <-time.After(5 * time.Second):
				t.Fatalf("%s did not return after cancel", mode)
			}
			if _, err := client.Get(base + HealthPath); err == nil {
				t.Errorf("server still answering after shutdown")
			}
		})
	}
}

func TestListenAndServeBindError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	s, _, _ := newTestServer(t, func(c *Config) { c.Listen = ln.Addr().String() })
	err = s.ListenAndServe(t.Context())
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("ListenAndServe on a busy port = %v, want address already in use", err)
	}
}

// Forwarding headers that are not believed (no trusted proxy, or a peer
// that is not one) are ignored (a client could write them), and the server
// says so once: a proxy in front that is not listed makes every client
// share its address. From a trusted proxy they are believed, silently.
func TestForwardedIgnoredWarnsOnce(t *testing.T) {
	tests := []struct {
		name, peer string
		trusted    []netip.Prefix
		want       int
	}{
		{"no trusted proxies", "127.0.0.1:4000", nil, 1},
		{"a peer that is not a trusted proxy", "192.0.2.9:4000", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 1},
		{"a trusted proxy", "127.0.0.1:4000", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &testutil.SyncBuffer{}
			s, _, _ := newTestServer(t, func(c *Config) {
				c.Logger = slog.New(slog.NewTextHandler(logs, nil))
				c.TrustedProxies = tt.trusted
			})
			for range 3 {
				req := httptest.NewRequest(http.MethodGet, TokenPath, nil)
				req.RemoteAddr = tt.peer
				req.Header.Set("X-Forwarded-For", "203.0.113.5")
				req.Header.Set("Authorization", basic("alice", "alice-password"))
				rec := httptest.NewRecorder()
				s.Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					t.Fatalf("login: %d %s", rec.Code, rec.Body)
				}
			}
			if n := strings.Count(logs.String(), "X-Forwarded-For ignored"); n != tt.want {
				t.Fatalf("%d warnings, want %d:\n%s", n, tt.want, logs)
			}
		})
	}
}
