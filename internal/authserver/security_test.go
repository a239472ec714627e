package authserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// sleepRecorder replaces Server.sleep: it records the delays and lets
// them pass on the fake clock, as a waiting client's would.
type sleepRecorder struct {
	clock  *fakeClock
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.delays = append(r.delays, d)
	r.clock.Advance(d)
	return nil
}

func (r *sleepRecorder) all() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.delays)
}

// An attacker who knows an approver's name cannot lock the approver out:
// failures from other addresses only slow the approver's login down.
func TestNoLockoutByOtherAddresses(t *testing.T) {
	tests := []struct {
		name      string
		attackers func(i int) string // remote address of the i-th failed attempt
	}{
		{"one attacker address", func(int) string { return "192.0.2.66:4000" }},
		{"ten attacker addresses", func(i int) string { return fmt.Sprintf("198.51.100.%d:4000", i+1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, path := newTestServer(t, nil)
			rec := &sleepRecorder{clock: clock}
			s.sleep = rec.sleep
			if err := AddUser(path, "pat", "publisher", "pat-password", nil, WithCost(bcrypt.MinCost)); err != nil {
				t.Fatal(err)
			}
			h := s.Handler()
			for i := range 10 {
				code := doToken(t, h, http.MethodGet, tt.attackers(i), basic("pat", "guess")).Code
				if code != http.StatusUnauthorized && code != http.StatusTooManyRequests {
					t.Fatalf("attempt %d: status %d", i, code)
				}
			}
			got := doToken(t, h, http.MethodGet, "203.0.113.5:5000", basic("pat", "pat-password"))
			if got.Code != http.StatusOK || got.Header().Get("Content-Type") != "application/jwt" {
				t.Fatalf("pat from another address: status %d %q, want a token", got.Code, got.Body)
			}
		})
	}
}

func TestUserSlowdown(t *testing.T) {
	s, clock, _ := newTestServer(t, func(c *Config) { c.UserSlowdown = time.Second; c.MaxUserSlowdown = 3 * time.Second })
	rec := &sleepRecorder{clock: clock}
	s.sleep = rec.sleep
	h := s.Handler()
	for i := range 9 {
		if code := doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", i+1), basic("alice", "wrong")).Code; code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d, want 401", i, code)
		}
	}
	if code := doToken(t, h, http.MethodGet, "203.0.113.5:1", basic("alice", "alice-password")).Code; code != http.StatusOK {
		t.Fatalf("correct credentials: status %d, want 200", code)
	}
	// Failures 6..9 and the good login wait 1s, 2s, 3s, then the 3s cap.
	want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}
	if got := rec.all(); !slices.Equal(got, want) {
		t.Fatalf("delays = %v, want %v", got, want)
	}
	// Bob is not slowed by alice's failures.
	if code := doToken(t, h, http.MethodGet, "203.0.113.5:1", basic("bob", "bob-password-1")).Code; code != http.StatusOK || len(rec.all()) != len(want) {
		t.Fatalf("bob: status %d, delays %v", code, rec.all())
	}
}

func TestSlowdownStopsWhenClientLeaves(t *testing.T) {
	s, _, _ := newTestServer(t, func(c *Config) { c.UserSlowdown = time.Minute / 20; c.MaxUserSlowdown = 5 * time.Second })
	h := s.Handler()
	s.sleep = func(context.Context, time.Duration) error { return nil }
	for i := range 5 {
		doToken(t, h, http.MethodGet, fmt.Sprintf("198.51.100.%d:1", i+1), basic("alice", "wrong"))
	}
	s.sleep = sleepCtx
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, TokenPath, nil)
	req.RemoteAddr = "203.0.113.5:1"
	req.Header.Set("Authorization", basic("alice", "alice-password"))
	start := time.Now()
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if time.Since(start) > 2*time.Second || rr.Header().Get("Content-Type") == "application/jwt" {
		t.Fatalf("a gone client still waited %s / got a token", time.Since(start))
	}
}

// writeHashedUser adds a user whose hash has the given bcrypt cost,
// bypassing AddUser's cost rules.
func writeHashedUser(t *testing.T, path, name, password string, cost int) {
	t.Helper()
	users, err := ReadUsersFile(path, Rules{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		t.Fatal(err)
	}
	users[name] = User{Name: name, Role: "publisher", PasswordHash: string(h)}
	if err := writeUsers(path, users); err != nil {
		t.Fatal(err)
	}
}

// TestDummyHashesFollowFileCosts: the server keeps one dummy hash at each
// bcrypt cost of the users file, following the file as it changes.
func TestDummyHashesFollowFileCosts(t *testing.T) {
	s, _, path := newTestServer(t, nil)
	costs := func() []int {
		t.Helper()
		// A login re-reads a changed file.
		doToken(t, s.Handler(), http.MethodGet, "192.0.2.1:1", basic("nobody", "x"))
		dummies := s.users.dummyHashes()
		for c, d := range dummies {
			if got, err := bcrypt.Cost(d); err != nil || got != c {
				t.Fatalf("dummy hash for cost %d has cost %d, %v", c, got, err)
			}
		}
		return slices.Sorted(maps.Keys(dummies))
	}
	if got, want := costs(), []int{bcrypt.MinCost}; !slices.Equal(got, want) {
		t.Fatalf("dummy costs = %v, want %v", got, want)
	}
	writeHashedUser(t, path, "slow", "slow-password", bcrypt.MinCost+2)
	if got, want := costs(), []int{bcrypt.MinCost, bcrypt.MinCost + 2}; !slices.Equal(got, want) {
		t.Fatalf("after a cost-%d user: dummy costs = %v, want %v", bcrypt.MinCost+2, got, want)
	}
	if err := DeleteUser(path, "slow", nil, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	if got, want := costs(), []int{bcrypt.MinCost}; !slices.Equal(got, want) {
		t.Fatalf("after removing it: dummy costs = %v, want %v", got, want)
	}
	// A cost above MaxCost is refused (it would make every reload and
	// unknown-user login slow).
	users, _ := ReadUsersFile(path, Rules{Cost: bcrypt.MinCost})
	users["huge"] = User{Name: "huge", Role: "publisher", PasswordHash: "$2a$16$" + strings.Repeat("a", 53)}
	if _, err := ParseUsers(mustMarshal(t, users), Rules{Cost: bcrypt.MinCost}); err == nil || !strings.Contains(err.Error(), "above the maximum") {
		t.Fatalf("cost 16 accepted: %v", err)
	}
}

func mustMarshal(t *testing.T, users map[string]User) []byte {
	t.Helper()
	b, err := MarshalUsers(users)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestUsersFileNotAFile: a directory given as the users file is named as
// such, not met with advice to chmod it (a shared /tmp is writable by all).
func TestUsersFileNotAFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	_, err := New(Config{UsersFile: dir, AblyKey: testKey, BcryptCost: bcrypt.MinCost})
	if err == nil || !strings.Contains(err.Error(), "is a directory") || strings.Contains(err.Error(), "chmod") {
		t.Fatalf("New with a directory = %v, want it named as a directory", err)
	}
}

// TestUsersFileInWritableDirRefused: whoever may write the users file's
// directory may replace the file (a rename needs no right on the file), so
// such a directory is refused like a writable file, unless it is sticky.
func TestUsersFileInWritableDirRefused(t *testing.T) {
	for _, tt := range []struct {
		mode    os.FileMode
		refused bool
	}{{0o700, false}, {0o755, false}, {0o770, true}, {0o777, true}, {0o777 | os.ModeSticky, false}} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			path := writeTestUsers(t)
			if err := os.Chmod(filepath.Dir(path), tt.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(filepath.Dir(path), 0o700) })
			_, err := New(Config{UsersFile: path, AblyKey: testKey, BcryptCost: bcrypt.MinCost})
			switch {
			case tt.refused && (err == nil || !strings.Contains(err.Error(), "is writable by group or others") || !strings.Contains(err.Error(), "chmod go-w")):
				t.Fatalf("New with the directory at %s = %v, want a refusal naming the directory", tt.mode, err)
			case !tt.refused && err != nil:
				t.Fatalf("New with the directory at %s = %v", tt.mode, err)
			}
		})
	}
}

// TestUsersDirBecomesWritable: a running server fails closed when the
// users file's directory becomes writable by group or others while the
// file itself stays as it was (anyone may then swap in a file of their
// own), its health says so, and both recover once the directory is fixed.
func TestUsersDirBecomesWritable(t *testing.T) {
	s, _, path := newTestServer(t, nil)
	h := s.Handler()
	dir := filepath.Dir(path)
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	login := func() int {
		return doToken(t, h, http.MethodGet, "192.0.2.51:1", basic("alice", "alice-password")).Code
	}
	if got := login(); got != http.StatusOK {
		t.Fatalf("directory 0700: %d", got)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(t.Context()); err == nil || !strings.Contains(err.Error(), "chmod go-w") {
		t.Fatalf("Health with a group-writable directory = %v, want the refusal naming the directory", err)
	}
	if got := login(); got != http.StatusServiceUnavailable {
		t.Fatalf("directory 0770: %d, want 503", got)
	}
	// The login listener's /healthz, which a proxy may probe, says so too,
	// without naming the file.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, HealthPath, nil))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), dir) {
		t.Fatalf("public %s with a group-writable directory: %d %q, want 503 without the path", HealthPath, rec.Code, rec.Body)
	}
	if err := os.Chmod(dir, 0o770|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(t.Context()); err != nil {
		t.Fatalf("Health with a sticky directory: %v", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(t.Context()); err != nil {
		t.Fatalf("Health once the directory is fixed: %v", err)
	}
	if got := login(); got != http.StatusOK {
		t.Fatalf("directory fixed: %d, want 200", got)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, HealthPath, nil))
	if rec.Code != http.StatusOK || rec.Body.String() != "ok" {
		t.Fatalf("public %s once the directory is fixed: %d %q", HealthPath, rec.Code, rec.Body)
	}
}

// TestUsersFileSwappedWhileDirWritable: a users file put in place while
// its directory was writable by group or others (anyone could have put it
// there) is not trusted once the directory is fixed: logins stay refused
// until the file changes again (checked and saved by its owner), where the
// file read while the directory was unsafe was kept and its users let in.
func TestUsersFileSwappedWhileDirWritable(t *testing.T) {
	s, _, path := newTestServer(t, nil)
	h := s.Handler()
	dir := filepath.Dir(path)
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	login := func(name, password string) int {
		return doToken(t, h, http.MethodGet, "192.0.2.52:1", basic(name, password)).Code
	}
	if got := login("alice", "alice-password"); got != http.StatusOK {
		t.Fatalf("directory 0700: %d", got)
	}
	if err := os.Chmod(dir, 0o770); err != nil {
		t.Fatal(err)
	}
	// Someone of the group swaps in a users file of their own.
	theirs := filepath.Join(dir, "theirs.json")
	if err := AddUser(theirs, "mallory", "admin", "mallory-password", nil, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(theirs, path); err != nil {
		t.Fatal(err)
	}
	if got := login("mallory", "mallory-password"); got != http.StatusServiceUnavailable {
		t.Fatalf("swapped file, directory 0770: %d, want 503", got)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if got := login("mallory", "mallory-password"); got != http.StatusServiceUnavailable {
		t.Fatalf("directory fixed, the file read while it was writable: %d, want 503", got)
	}
	if err := s.Health(t.Context()); err == nil || !strings.Contains(err.Error(), "save it again") {
		t.Fatalf("Health = %v, want the refusal saying to check the file and save it again", err)
	}
	// Its owner checked it and saved it again: it is read anew.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, later, later); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(t.Context()); err != nil {
		t.Fatalf("Health once the file is saved again: %v", err)
	}
}

func TestWritableUsersFileRefused(t *testing.T) {
	for _, mode := range []os.FileMode{0o620, 0o602, 0o666} {
		t.Run(mode.String(), func(t *testing.T) {
			path := writeTestUsers(t)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := New(Config{UsersFile: path, AblyKey: testKey, BcryptCost: bcrypt.MinCost})
			if err == nil || !strings.Contains(err.Error(), "writable by group or others") {
				t.Fatalf("New with mode %s = %v, want a refusal", mode, err)
			}
		})
	}
	// A running server fails closed when the file becomes writable, and
	// recovers when it is fixed.
	s, _, path := newTestServer(t, nil)
	h := s.Handler()
	login := func() int {
		return doToken(t, h, http.MethodGet, "192.0.2.50:1", basic("alice", "alice-password")).Code
	}
	if got := login(); got != http.StatusOK {
		t.Fatalf("mode 0600: %d", got)
	}
	if err := s.Health(t.Context()); err != nil {
		t.Fatalf("Health with a good users file: %v", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		t.Fatal(err)
	}
	// The operations endpoint says so before anyone tries to log in.
	if err := s.Health(t.Context()); err == nil || !strings.Contains(err.Error(), "logins refused: users file") {
		t.Fatalf("Health with a group-writable users file = %v, want the refusal", err)
	}
	if got := login(); got != http.StatusServiceUnavailable {
		t.Fatalf("mode 0660: %d, want 503", got)
	}
	if err := os.Chmod(path, 0o640); err != nil { // readable is only warned about
		t.Fatal(err)
	}
	if err := s.Health(t.Context()); err != nil {
		t.Fatalf("Health once the file is fixed: %v", err)
	}
	if got := login(); got != http.StatusOK {
		t.Fatalf("mode 0640: %d, want 200", got)
	}
}

func TestClientAddress(t *testing.T) {
	trusted, err := ParseTrustedProxies("10.0.0.0/8, 192.0.2.7, 2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no trusted proxies: peer, header ignored", "10.1.2.3:5", []string{"198.51.100.1"}, nil, "10.1.2.3:5"},
		{"untrusted peer: header ignored", "203.0.113.9:5", []string{"198.51.100.1"}, trusted, "203.0.113.9:5"},
		{"trusted peer, one hop", "10.1.2.3:5", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"spoofed left entries are skipped", "10.1.2.3:5", []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1"},
		{"chain of trusted proxies", "10.1.2.3:5", []string{"1.2.3.4", "198.51.100.1, 192.0.2.7, 10.9.9.9"}, trusted, "198.51.100.1"},
		{"entry with port", "10.1.2.3:5", []string{"198.51.100.1:4444"}, trusted, "198.51.100.1"},
		{"IPv6 entry", "[2001:db8::1]:5", []string{"[2001:db9::7]:80"}, trusted, "2001:db9::7"},
		{"all trusted: left-most", "10.1.2.3:5", []string{"10.0.0.2, 10.0.0.3"}, trusted, "10.0.0.2"},
		{"no header from trusted peer", "10.1.2.3:5", nil, trusted, "10.1.2.3:5"},
		{"garbage entry keys on itself", "10.1.2.3:5", []string{"198.51.100.1, unknown"}, trusted, "unknown"},
		// A dual-stack listener may see an IPv4 proxy as IPv4-mapped IPv6.
		{"IPv4-mapped trusted peer", "[::ffff:10.1.2.3]:5", []string{"198.51.100.1"}, trusted, "198.51.100.1"},
		{"IPv4-mapped trusted entry", "10.1.2.3:5", []string{"198.51.100.1, ::ffff:10.9.9.9"}, trusted, "198.51.100.1"},
		// Only the maxForwardedHops nearest entries are looked at.
		{"hops bounded", "10.1.2.3:5", []string{"198.51.100.1, " + trustedHops(maxForwardedHops)}, trusted, "10.0.0.1"},
	}
	for _, tt := range tests {
		if got := clientAddress(tt.remote, tt.xff, tt.trusted); got != tt.want {
			t.Errorf("%s: clientAddress = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// trustedHops returns n X-Forwarded-For entries of trusted proxies,
// 10.0.0.1 left-most.
func trustedHops(n int) string {
	hops := make([]string, n)
	for i := range hops {
		hops[i] = fmt.Sprintf("10.0.0.%d", i+1)
	}
	return strings.Join(hops, ", ")
}

func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8 ,, 192.0.2.7,::1 ,10.1.2.3/8")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.local", "10.0.0.1,nope", "fe80::1%eth0"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q): no error", bad)
		}
	}
	if got, err := ParseTrustedProxies(""); err != nil || got != nil {
		t.Errorf("empty: %v, %v", got, err)
	}
}

// Behind a trusted proxy every client has its own limit; a client that is
// not the proxy cannot escape its limit with a forged header.
func TestRateLimitBehindTrustedProxy(t *testing.T) {
	s, clock, _ := newTestServer(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32")} })
	s.sleep = clock.Sleep
	h := s.Handler()
	do := func(remote, xff, auth string) int {
		req := httptest.NewRequest(http.MethodGet, TokenPath, nil)
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		req.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range DefaultMaxFailures {
		do("10.0.0.1:1", "198.51.100.1", basic("alice", "wrong"))
	}
	if got := do("10.0.0.1:1", "198.51.100.1", basic("alice", "wrong")); got != http.StatusTooManyRequests {
		t.Fatalf("client over its limit through the proxy: %d, want 429", got)
	}
	if got := do("10.0.0.1:1", "198.51.100.2", basic("alice", "wrong")); got != http.StatusUnauthorized {
		t.Fatalf("other client through the proxy: %d, want 401", got)
	}
	if got := do("10.0.0.1:1", "198.51.100.1", basic("alice", "alice-password")); got != http.StatusOK {
		t.Fatalf("correct password from the client over its limit: %d, want 200", got)
	}
	// Direct, untrusted peer: a fresh X-Forwarded-For per request does not
	// give fresh limits.
	for i := range DefaultMaxFailures {
		do("203.0.113.9:1", fmt.Sprintf("198.51.100.%d", 100+i), basic("carol", "wrong"))
	}
	if got := do("203.0.113.9:1", "198.51.100.200", basic("carol", "wrong")); got != http.StatusTooManyRequests {
		t.Fatalf("forged header from an untrusted peer: %d, want 429", got)
	}
}

func TestIsLoopbackListen(t *testing.T) {
	tests := []struct {
		listen string
		want   bool
	}{
		{"127.0.0.1:3001", true}, {"127.1.2.3:1", true}, {"[::1]:3001", true}, {"localhost:3001", true},
		{"0.0.0.0:3001", false}, {":3001", false}, {"[::]:3001", false}, {"192.0.2.1:3001", false},
		{"auth.example.com:443", false}, {"3001", false},
	}
	for _, tt := range tests {
		if got := IsLoopbackListen(tt.listen); got != tt.want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", tt.listen, got, tt.want)
		}
	}
}

func TestListenAndServeRefusesPlaintextOffLoopback(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0"} {
		s, _, _ := newTestServer(t, func(c *Config) { c.Listen = listen })
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := s.ListenAndServe(ctx)
		cancel()
		if !errors.Is(err, ErrPlaintext) {
			t.Errorf("ListenAndServe on %s without TLS = %v, want ErrPlaintext", listen, err)
		}
	}
}

// Issue 9: off loopback, plain HTTP behind a proxy that is not a trusted
// proxy would key every login on the proxy's address. ListenAndServe
// refuses to start so, before it binds anything (192.0.2.1 is TEST-NET:
// binding it fails, so reaching the bind shows as another error).
func TestListenAndServeRefusesPlaintextWithoutTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		refused bool
	}{
		{"plaintext allowed, no trusted proxies", func(c *Config) { c.AllowPlaintext = true }, true},
		{"plaintext allowed, trusted proxy", func(c *Config) {
			c.AllowPlaintext = true
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32")}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, func(c *Config) { c.Listen = "192.0.2.1:3001"; tt.mod(c) })
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err := s.ListenAndServe(ctx)
			if got := errors.Is(err, ErrPlaintextWithoutProxy); got != tt.refused {
				t.Fatalf("ListenAndServe = %v; refused for want of trusted proxies: %v, want %v", err, got, tt.refused)
			}
			if tt.refused && !strings.Contains(err.Error(), "proxy's address") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
	// On loopback plain HTTP needs no proxy (the dev stack, the tests).
	if err := CheckTransport("127.0.0.1:3001", false, false, nil); err != nil {
		t.Errorf("loopback: %v", err)
	}
	if err := CheckTransport("0.0.0.0:3001", true, false, nil); err != nil {
		t.Errorf("TLS off loopback: %v", err)
	}
}

// writeSelfSigned writes a certificate for 127.0.0.1 and its key, and
// returns their paths and a pool that trusts the certificate.
func writeSelfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	cert := writeSelfSignedTo(t, certFile, keyFile, "authserver test")
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// writeSelfSignedTo writes a certificate for 127.0.0.1 named cn, and its
// key, to certFile and keyFile, and returns the certificate.
func writeSelfSignedTo(t *testing.T, certFile, keyFile, cn string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// A certificate and key that do not load are New's error, before anything
// listens.
func TestNewTLSFilesRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeSelfSigned(t)
	_, otherKey, _ := writeSelfSigned(t)
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, cert, key, want string
	}{
		{"missing", filepath.Join(dir, "nope.pem"), filepath.Join(dir, "nope.key"), "nope.pem"},
		{"not PEM", garbage, keyFile, "failed to find any PEM data"},
		{"key of another certificate", certFile, otherKey, "private key does not match public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{UsersFile: writeTestUsers(t), AblyKey: testKey, BcryptCost: bcrypt.MinCost, TLSCertFile: tt.cert, TLSKeyFile: tt.key}
			_, err := New(cfg)
			var tfe *TLSFilesError
			if !errors.As(err, &tfe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want a *TLSFilesError saying %q", err, tt.want)
			}
		})
	}
}

// listenAndServe runs s.ListenAndServe until the test ends, and fails
// the test if it returns an error or does not return then; the context
// is done when the test ends.
func listenAndServe(t *testing.T, s *Server) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.ListenAndServe(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenAndServe: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ListenAndServe did not return")
		}
	})
	return ctx
}

func TestListenAndServeTLS(t *testing.T) {
	certFile, keyFile, pool := writeSelfSigned(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	s, _, _ := newTestServer(t, func(c *Config) { c.Listen = addr; c.Now = nil; c.TLSCertFile = certFile; c.TLSKeyFile = keyFile })
	ctx := listenAndServe(t, s)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	var tok []byte
	testutil.Eventually(t, 20*time.Second, "a token over TLS", func() bool {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+TokenPath, nil)
		req.SetBasicAuth("alice", "alice-password")
		resp, err := client.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		tok, _ = io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK
	})
	if strings.Count(string(tok), ".") != 2 {
		t.Fatalf("token over TLS = %q", tok)
	}
	// Served over TLS by the server itself: browsers are told to stay on
	// HTTPS.
	if resp, err := client.Get("https://" + addr + "/"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
			t.Errorf("Strict-Transport-Security = %q, want max-age=31536000", got)
		}
	}
	// Plain HTTP to the TLS port gets no token.
	plain := &http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+TokenPath, nil)
	req.SetBasicAuth("alice", "alice-password")
	if resp, err := plain.Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP got a token: %q", body)
		}
	}
}

// The password rules are for new passwords: a users file written before
// them, with an 8-character password, keeps working.
func TestShortPasswordInUsersFileStillLogsIn(t *testing.T) {
	s, _, path := newTestServer(t, nil)
	writeHashedUser(t, path, "old", "pass1234", bcrypt.MinCost)
	if err := ValidatePassword("old", "pass1234"); err == nil {
		t.Fatal("pass1234 is a valid new password; the test would prove nothing")
	}
	rec := doToken(t, s.Handler(), http.MethodGet, "192.0.2.1:1", basic("old", "pass1234"))
	if rec.Code != http.StatusOK {
		t.Fatalf("existing user with a short password: status %d, want 200", rec.Code)
	}
}

// Attack 4 of issue 9: behind a proxy that is not a trusted proxy, every
// login comes from the proxy's address. Failed logins from it, for any
// names, must never refuse a correct password: only failed logins are
// counted against an address, and over its limit only failures are
// refused.
func TestProxyLockout(t *testing.T) {
	s, clock, _ := newTestServer(t, nil) // no trusted proxies
	rec := &sleepRecorder{clock: clock}
	s.sleep = rec.sleep
	h := s.Handler()
	const proxy = "192.0.2.200" // every request's peer
	port := 0
	from := func() string { port++; return fmt.Sprintf("%s:%d", proxy, 40000+port) }
	// One person fails, from behind the proxy: a spray over 30 names, then
	// 10 guesses for each approver.
	for i := range 30 {
		doToken(t, h, http.MethodGet, from(), basic(fmt.Sprintf("user%d", i), "guess"))
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		for i := range 10 {
			doToken(t, h, http.MethodGet, from(), basic(name, fmt.Sprintf("guess-%d", i)))
		}
	}
	// Guessing from the address is still refused...
	if rec := doToken(t, h, http.MethodGet, from(), basic("alice", "one-more-guess")); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("a failed guess over the address's limit: status %d, Retry-After %q; want 429", rec.Code, rec.Header().Get("Retry-After"))
	}
	// ...and every approver behind the same proxy still gets in.
	for _, u := range testUsers[:3] {
		got := doToken(t, h, http.MethodGet, from(), basic(u.name, u.password))
		if got.Code != http.StatusOK || got.Header().Get("Content-Type") != "application/jwt" {
			t.Errorf("%s behind the proxy, correct password: status %d %q, want a token", u.name, got.Code, got.Body)
		}
	}
	for _, d := range rec.all() {
		if d > s.cfg.MaxUserSlowdown {
			t.Errorf("a login waited %s, want at most %s", d, s.cfg.MaxUserSlowdown)
		}
	}
}
