package authserver

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

const (
	testKeyName   = "app.key"
	testKeySecret = "s3cret"
	testKey       = testKeyName + ":" + testKeySecret
	testChannel   = "ai:big-bad-any"
)

// testUsers are written to every test server's users file.
var testUsers = []struct{ name, role, password string }{
	{"alice", "publisher", "alice-password"},
	{"bob", "admin", "bob-password-1"},
	{"carol", "editor", "carol:with:colons"},
	{"dan.long", "publisher", "0123456789012345678901234567890123456789012345678901234567890123456789xy"}, // exactly 72 bytes
}

// fakeClock is an injected clock that only moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Sleep stands in for Server.sleep: the wait passes on the fake clock at
// once.
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.Advance(d)
	return nil
}

// writeTestUsers creates a users file in a temp dir with testUsers.
func writeTestUsers(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "data", "users.json")
	for _, u := range testUsers {
		if err := AddUser(path, u.name, u.role, u.password, nil, WithCost(bcrypt.MinCost)); err != nil {
			t.Fatalf("AddUser(%s): %v", u.name, err)
		}
	}
	return path
}

// newTestServer returns a server over a fresh users file with a fake clock.
// mod may adjust the config before New.
func newTestServer(t *testing.T, mod func(*Config)) (*Server, *fakeClock, string) {
	t.Helper()
	clock := newFakeClock()
	path := writeTestUsers(t)
	cfg := Config{
		UsersFile:  path,
		AblyKey:    testKey,
		BcryptCost: bcrypt.MinCost,
		Now:        clock.Now,
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, clock, path
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// doToken sends one token request through the handler.
func doToken(t *testing.T, h http.Handler, method, remote string, auth ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, TokenPath, nil)
	req.RemoteAddr = remote
	for _, a := range auth {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// verifyToken checks the signature, algorithm, kid and time claims of an
// issued token and returns its header and claims.
func verifyToken(t *testing.T, token string, now time.Time) (map[string]any, jwt.MapClaims) {
	t.Helper()
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		if kid, _ := tok.Header["kid"].(string); kid != testKeyName {
			t.Errorf("kid = %q, want %q", kid, testKeyName)
		}
		return []byte(testKeySecret), nil
	},
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	if err != nil {
		t.Fatalf("token does not verify: %v", err)
	}
	if got := tok.Header["alg"]; got != "HS256" {
		t.Errorf("alg = %v, want HS256", got)
	}
	return tok.Header, claims
}

// parseAt verifies token as a client would at time at.
func parseAt(token string, at time.Time) (*jwt.Token, error) {
	return jwt.Parse(token, func(*jwt.Token) (any, error) { return []byte(testKeySecret), nil },
		jwt.WithValidMethods([]string{"HS256"}),
		jwt.WithTimeFunc(func() time.Time { return at }),
		jwt.WithExpirationRequired(),
	)
}
