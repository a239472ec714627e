package ablylocal

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/testutil"
)

const (
	testKeyName = "app.key"
	testSecret  = "s3cret"
	testKey     = testKeyName + ":" + testSecret
	// subKey may only subscribe and read history on "sub:*".
	subKeyName = "app.sub"
	subSecret  = "subsecret"
)

var testFormats = []struct {
	name   string
	binary bool
}{{"json", false}, {"msgpack", true}}

type fixture struct {
	srv  *Server
	port int
}

func startServer(t testing.TB, mutate func(*Config)) *fixture {
	t.Helper()
	cfg := Config{
		Keys: []Key{
			{Name: testKeyName, Secret: testSecret},
			{Name: subKeyName, Secret: subSecret, Capability: `{"sub:*":["subscribe","history"]}`},
		},
	}
	if os.Getenv("ABLYLOCAL_TEST_LOG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if mutate != nil {
		mutate(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := Listen(ctx, "127.0.0.1:0", cfg)
	if err != nil {
		cancel()
		t.Fatalf("Listen: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	_, portStr, _ := net.SplitHostPort(srv.Addr())
	port, _ := strconv.Atoi(portStr)
	return &fixture{srv: srv, port: port}
}

func (f *fixture) endpoint(binary bool) []ably.ClientOption {
	return []ably.ClientOption{
		ably.WithEndpoint("127.0.0.1"),
		ably.WithPort(f.port),
		ably.WithTLS(false),
		ably.WithUseBinaryProtocol(binary),
		ably.WithLogLevel(ably.LogNone),
	}
}

// tokenSpec describes a JWT for tests.
type tokenSpec struct {
	clientID   string
	capability string
	claims     map[string]any
	ttl        time.Duration
}

func signTest(t testing.TB, s tokenSpec) (string, time.Time) {
	t.Helper()
	ttl := s.ttl
	if ttl == 0 {
		ttl = time.Hour
	}
	tok, exp, err := ablyconn.SignToken(testKeyName, testSecret, s.clientID, s.capability, s.claims, time.Now(), ttl)
	if err != nil {
		t.Fatalf("SignToken: %v", err)
	}
	return tok, exp
}

// authCounter counts authCallback calls.
type authCounter struct {
	mu sync.Mutex
	n  int
}

func (a *authCounter) inc() {
	a.mu.Lock()
	a.n++
	a.mu.Unlock()
}

func (a *authCounter) get() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// jwtCallback returns an authCallback signing a fresh token each call.
func jwtCallback(t testing.TB, s tokenSpec, calls *authCounter) ably.ClientOption {
	return ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		if calls != nil {
			calls.inc()
		}
		tok, exp := signTest(t, s)
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: s.clientID}, nil
	})
}

func (f *fixture) realtimeJWT(t testing.TB, binary bool, s tokenSpec, extra ...ably.ClientOption) *ably.Realtime {
	t.Helper()
	opts := append(f.endpoint(binary), jwtCallback(t, s, nil))
	if s.clientID != "" && s.clientID != "*" {
		opts = append(opts, ably.WithClientID(s.clientID))
	}
	return f.realtime(t, append(opts, extra...)...)
}

func (f *fixture) realtimeKey(t testing.TB, binary bool, key string, extra ...ably.ClientOption) *ably.Realtime {
	t.Helper()
	opts := append(f.endpoint(binary), ably.WithKey(key), ably.WithInsecureAllowBasicAuthWithoutTLS())
	return f.realtime(t, append(opts, extra...)...)
}

func (f *fixture) realtime(t testing.TB, opts ...ably.ClientOption) *ably.Realtime {
	t.Helper()
	c, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatalf("NewRealtime: %v", err)
	}
	t.Cleanup(c.Close)
	waitState(t, c, ably.ConnectionStateConnected)
	return c
}

func (f *fixture) restJWT(t testing.TB, binary bool, s tokenSpec) *ably.REST {
	t.Helper()
	opts := append(f.endpoint(binary), jwtCallback(t, s, nil))
	if s.clientID != "" && s.clientID != "*" {
		opts = append(opts, ably.WithClientID(s.clientID))
	}
	c, err := ably.NewREST(opts...)
	if err != nil {
		t.Fatalf("NewREST: %v", err)
	}
	return c
}

func (f *fixture) restKey(t testing.TB, binary bool, key string) *ably.REST {
	t.Helper()
	c, err := ably.NewREST(append(f.endpoint(binary), ably.WithKey(key), ably.WithInsecureAllowBasicAuthWithoutTLS())...)
	if err != nil {
		t.Fatalf("NewREST: %v", err)
	}
	return c
}

func waitState(t testing.TB, c *ably.Realtime, want ably.ConnectionState) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "connection "+want.String(), func() bool {
		s := c.Connection.State()
		if s == ably.ConnectionStateFailed && want != s {
			t.Fatalf("connection FAILED: %v", c.Connection.ErrorReason())
		}
		return s == want
	})
}

func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// subscribe attaches and returns a channel of received messages.
func subscribe(t testing.TB, ch *ably.RealtimeChannel) <-chan *ably.Message {
	t.Helper()
	out := make(chan *ably.Message, 1024)
	unsub, err := ch.SubscribeAll(testCtx(t), func(m *ably.Message) { out <- m })
	if err != nil {
		t.Fatalf("SubscribeAll %s: %v", ch.Name, err)
	}
	t.Cleanup(unsub)
	return out
}

func recv(t testing.TB, c <-chan *ably.Message) *ably.Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// recvNone asserts nothing arrives; it waits on a later message from the
// same publisher as a fence instead of sleeping.
func expectNone(t testing.TB, c <-chan *ably.Message) {
	t.Helper()
	select {
	case m := <-c:
		t.Fatalf("unexpected message %q (%v)", m.Name, m.Data)
	default:
	}
}

// dataMap reads message data published as a map by ably-go (raw map) or
// by others (JSON string with encoding json).
func dataMap(t testing.TB, m *ably.Message) map[string]any {
	t.Helper()
	switch d := m.Data.(type) {
	case map[string]any:
		return d
	case string:
		var out map[string]any
		if err := json.Unmarshal([]byte(d), &out); err != nil {
			t.Fatalf("data %q: %v", d, err)
		}
		return out
	}
	t.Fatalf("data %T %v is not a map", m.Data, m.Data)
	return nil
}

// rawJWT builds a JWT with an arbitrary header, for negative tests.
func rawJWT(header, claims map[string]any, secret string, alg func([]byte, []byte) []byte) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signing := enc(header) + "." + enc(claims)
	sig := []byte{}
	if alg != nil {
		sig = alg([]byte(secret), []byte(signing))
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func hs256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
