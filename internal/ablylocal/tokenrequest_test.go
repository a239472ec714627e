package ablylocal

// Conformance tests for Ably native tokens (issue 10, point 6): signed
// TokenRequests and key-authenticated requests at
// POST /keys/{keyName}/requestToken, TokenDetails, and the tokens
// authenticating realtime and REST, with the real ably-go client.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// tokenRequestCallback answers ably-go's authCallback with a TokenRequest
// signed by issuer (a client holding the key, as an auth server is); ably-go
// redeems it at POST /keys/{keyName}/requestToken.
func tokenRequestCallback(issuer *ably.REST, params ably.TokenParams, calls *authCounter) ably.ClientOption {
	return ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		if calls != nil {
			calls.inc()
		}
		p := params
		return issuer.Auth.CreateTokenRequest(&p)
	})
}

func TestRequestTokenDetails(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			rest := fx.restKey(t, f.binary, testKey)
			before := time.Now()
			// ably-go signs a TokenRequest with the key and redeems it.
			td, err := rest.Auth.RequestToken(ctx, &ably.TokenParams{TTL: 60_000, ClientID: "tr", Capability: `{"tr:*":["subscribe","publish"]}`})
			if err != nil {
				t.Fatalf("RequestToken: %v", err)
			}
			if td.Token == "" || td.KeyName != testKeyName || td.ClientID != "tr" {
				t.Errorf("TokenDetails = %+v", td)
			}
			if td.Capability != `{"tr:*":["publish","subscribe"]}` {
				t.Errorf("capability = %s, want the request's (the key has all rights)", td.Capability)
			}
			if issued := time.UnixMilli(td.Issued); issued.Before(before.Add(-time.Second)) || issued.After(time.Now().Add(time.Second)) || td.Expires-td.Issued != 60_000 {
				t.Errorf("issued %d expires %d, want now and now+60s", td.Issued, td.Expires)
			}
			// Defaults: ably-go asks for {"*":["*"]} and an hour.
			td, err = rest.Auth.RequestToken(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if td.Capability != `{"*":["*"]}` || td.Expires-td.Issued != time.Hour.Milliseconds() || td.ClientID != "" {
				t.Errorf("default TokenDetails = %+v", td)
			}
			// The key's capability bounds the token's.
			sub := fx.restKey(t, f.binary, subKeyName+":"+subSecret)
			for _, tt := range []struct{ requested, want string }{
				{`{"*":["*"]}`, `{"sub:*":["history","subscribe"]}`},
				{`{"sub:a":["publish","subscribe"]}`, `{"sub:a":["subscribe"]}`},
				{`{"sub:a:*":["*"],"x":["subscribe"]}`, `{"sub:a:*":["history","subscribe"]}`},
			} {
				td, err := sub.Auth.RequestToken(ctx, &ably.TokenParams{Capability: tt.requested})
				if err != nil {
					t.Fatalf("RequestToken %s: %v", tt.requested, err)
				}
				if td.Capability != tt.want || td.KeyName != subKeyName {
					t.Errorf("requested %s from the subscribe-only key: got %s, want %s", tt.requested, td.Capability, tt.want)
				}
			}
			_, err = sub.Auth.RequestToken(ctx, &ably.TokenParams{Capability: `{"other":["subscribe"]}`})
			var ei *ably.ErrorInfo
			if !errors.As(err, &ei) || ei.Code != 40160 || ei.StatusCode != 401 {
				t.Errorf("capability outside the key: %v, want 40160/401", err)
			}
		})
	}
}

// Native tokens from a TokenRequest authenticate ably-go's realtime and
// REST clients (authCallback and authUrl), with the token's clientId and
// capability, and carry no userClaim.
func TestNativeTokenAuthenticates(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			issuer := fx.restKey(t, true, testKey)
			params := ably.TokenParams{ClientID: "native", Capability: `{"nt:*":["subscribe","publish","history"]}`}
			var calls authCounter
			rt := fx.realtime(t, append(fx.endpoint(f.binary), tokenRequestCallback(issuer, params, &calls), ably.WithClientID("native"))...)
			if got := rt.Auth.ClientID(); got != "native" {
				t.Errorf("clientId = %q", got)
			}
			if calls.get() < 1 {
				t.Error("authCallback not used")
			}
			msgs := subscribe(t, rt.Channels.Get("nt:a"))
			forged := &ably.Message{Name: "n", Data: "d", Extras: map[string]any{"userClaim": "admin", "headers": map[string]any{"toolCallId": "c1"}}}
			if err := rt.Channels.Get("nt:a").PublishMultiple(ctx, []*ably.Message{forged}); err != nil {
				t.Fatalf("publish with a native token: %v", err)
			}
			m := recv(t, msgs)
			if m.ClientID != "native" || m.Extras["userClaim"] != nil {
				t.Errorf("message clientId %q userClaim %#v, want native and none", m.ClientID, m.Extras["userClaim"])
			}
			if h, _ := m.Extras["headers"].(map[string]any); h["toolCallId"] != "c1" {
				t.Errorf("headers = %#v", m.Extras["headers"])
			}
			if err := rt.Channels.Get("other").Publish(ctx, "x", "y"); ablyCode(err) != 40160 {
				t.Errorf("publish outside the token's capability: %v, want 40160", err)
			}
			if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("connection %v after a NACK", s)
			}

			// REST through authCallback and through authUrl.
			rest, err := ably.NewREST(append(fx.endpoint(f.binary), tokenRequestCallback(issuer, params, nil), ably.WithClientID("native"))...)
			if err != nil {
				t.Fatal(err)
			}
			authURL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				p := params
				tr, err := issuer.Auth.CreateTokenRequest(&p)
				if err != nil {
					http.Error(w, err.Error(), 500)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(tr)
			}))
			t.Cleanup(authURL.Close)
			viaURL, err := ably.NewREST(append(fx.endpoint(f.binary), ably.WithAuthURL(authURL.URL), ably.WithClientID("native"))...)
			if err != nil {
				t.Fatal(err)
			}
			for name, c := range map[string]*ably.REST{"authCallback": rest, "authUrl": viaURL} {
				if err := c.Channels.Get("nt:a").Publish(ctx, "rest-"+name, "d"); err != nil {
					t.Errorf("%s: REST publish: %v", name, err)
				} else if m := recv(t, msgs); m.Name != "rest-"+name || m.ClientID != "native" {
					t.Errorf("%s: got %q from %q", name, m.Name, m.ClientID)
				}
				if _, err := c.Channels.Get("nt:a").History().Pages(ctx); err != nil {
					t.Errorf("%s: history: %v", name, err)
				}
				if _, err := c.Channels.Get("other").History().Pages(ctx); ablyCode(err) != 40160 {
					t.Errorf("%s: history outside the capability: %v, want 40160", name, err)
				}
			}
		})
	}
}

// RTN22a with native tokens, as ably-go's own test runs it: 3 s tokens
// from RequestToken expire (DISCONNECTED 40142), and each reconnection
// uses a new token on the same connection.
func TestNativeTokenExpiryReconnects(t *testing.T) {
	t.Parallel()
	fx := startServer(t, nil)
	issuer := fx.restKey(t, false, testKey)
	var mu sync.Mutex
	var tokens []string
	issued := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), tokens...)
	}
	cb := ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		td, err := issuer.Auth.RequestToken(ctx, &ably.TokenParams{TTL: 3000})
		if err == nil {
			mu.Lock()
			tokens = append(tokens, td.Token)
			mu.Unlock()
		}
		return td, err
	})
	c, err := ably.NewRealtime(append(fx.endpoint(false), cb, ably.WithAutoConnect(false))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var log stateLog
	c.Connection.OnAll(log.add)
	c.Connect()
	waitState(t, c, ably.ConnectionStateConnected)
	id := c.Connection.ID()
	testutil.Eventually(t, 15*time.Second, "DISCONNECTED 40142", func() bool { return log.find(ably.ConnectionStateDisconnected, 40142) })
	testutil.Eventually(t, 15*time.Second, "a second token", func() bool { return len(issued()) >= 2 })
	waitState(t, c, ably.ConnectionStateConnected)
	if got := c.Connection.ID(); got != id {
		t.Errorf("reconnection changed the connection id %q -> %q", id, got)
	}
	if tok := issued(); tok[0] == tok[1] {
		t.Errorf("the same token was issued twice")
	}
}

// signTR signs a TokenRequest the way the spec says (keyName, ttl,
// capability, clientId, timestamp, nonce, each newline-terminated; absent
// fields empty); TestSignTRMatchesAblyGo checks it against ably-go.
func signTR(tr map[string]any, secret string) map[string]any {
	field := func(k string) string {
		switch v := tr[k].(type) {
		case nil:
			return ""
		case string:
			return v
		case int64:
			return strconv.FormatInt(v, 10)
		}
		panic(fmt.Sprintf("field %s: %T", k, tr[k]))
	}
	text := ""
	for _, k := range []string{"keyName", "ttl", "capability", "clientId", "timestamp", "nonce"} {
		text += field(k) + "\n"
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(text))
	out := map[string]any{}
	for k, v := range tr {
		out[k] = v
	}
	out["mac"] = base64.StdEncoding.EncodeToString(m.Sum(nil))
	return out
}

func TestSignTRMatchesAblyGo(t *testing.T) {
	fx := startServer(t, nil)
	tr, err := fx.restKey(t, false, testKey).Auth.CreateTokenRequest(&ably.TokenParams{TTL: 5000, ClientID: "c", Capability: `{"a":["subscribe"]}`})
	if err != nil {
		t.Fatal(err)
	}
	got := signTR(map[string]any{"keyName": tr.KeyName, "ttl": tr.TTL, "capability": tr.Capability, "clientId": tr.ClientID, "timestamp": tr.Timestamp, "nonce": tr.Nonce}, testSecret)
	if got["mac"] != tr.MAC {
		t.Fatalf("signTR mac %v, ably-go's %s", got["mac"], tr.MAC)
	}
}

func TestRequestTokenErrors(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	now := time.Now().UnixMilli()
	base := func(nonce string) map[string]any {
		return map[string]any{"keyName": testKeyName, "ttl": int64(60000), "capability": `{"*":["*"]}`, "clientId": "x", "timestamp": now, "nonce": nonce}
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		out[k] = v
		return out
	}
	nonce := func(i int) string { return fmt.Sprintf("nonce-%016d", i) }
	replayed := signTR(base(nonce(1)), testSecret)
	tampered := with(signTR(base(nonce(2)), testSecret), "ttl", int64(120000))
	tests := []struct {
		name, key, auth string
		body            any
		status, code    int
	}{
		{"signed", testKeyName, "", replayed, 200, 0},
		{"nonce replayed", testKeyName, "", replayed, 401, 40105},
		{"mac does not cover the fields", testKeyName, "", tampered, 401, 40101},
		{"signed with another secret", testKeyName, "", signTR(base(nonce(3)), "wrong"), 401, 40101},
		{"timestamp 20 min old", testKeyName, "", signTR(with(base(nonce(4)), "timestamp", now-20*60_000), testSecret), 401, 40104},
		{"timestamp 20 min ahead", testKeyName, "", signTR(with(base(nonce(5)), "timestamp", now+20*60_000), testSecret), 401, 40104},
		{"short nonce", testKeyName, "", signTR(base("short"), testSecret), 400, 40003},
		{"ttl over 24h", testKeyName, "", signTR(with(base(nonce(6)), "ttl", int64(25*3600_000)), testSecret), 400, 40003},
		{"malformed capability", testKeyName, "", signTR(with(base(nonce(7)), "capability", `{"a":`), testSecret), 400, 40000},
		{"capability outside the key", subKeyName, "", signTR(with(with(base(nonce(8)), "keyName", subKeyName), "capability", `{"x":["publish"]}`), subSecret), 401, 40160},
		{"unknown key", "app.nope", "", signTR(with(base(nonce(9)), "keyName", "app.nope"), testSecret), 404, 40400},
		{"keyName differs from the path", subKeyName, "", signTR(base(nonce(10)), testSecret), 401, 40101},
		{"Basic auth, TokenParams", testKeyName, "Basic " + b64(testKey), map[string]any{"clientId": "p", "ttl": 1000}, 200, 0},
		{"Basic auth, wrong secret", testKeyName, "Basic " + b64(testKeyName+":nope"), map[string]any{}, 401, 40101},
		{"Basic auth, another key", subKeyName, "Basic " + b64(testKey), map[string]any{}, 401, 40101},
		{"token auth", testKeyName, "Bearer " + mustSign(t), map[string]any{}, 401, 40162},
		{"no mac, no credentials", testKeyName, "", map[string]any{"clientId": "p"}, 401, 40101},
		{"malformed body", testKeyName, "", "{", 400, 40000},
		{"keyName of another key, signed with the path key's secret", testKeyName, "", signTR(with(base(nonce(11)), "keyName", subKeyName), testSecret), 401, 40101},
		{"signed without keyName", testKeyName, "", signTR(with(base(nonce(12)), "keyName", ""), testSecret), 401, 40101},
		{"timestamp 11 min old", testKeyName, "", signTR(with(base(nonce(13)), "timestamp", now-11*60_000), testSecret), 401, 40104},
		{"timestamp 11 min ahead", testKeyName, "", signTR(with(base(nonce(14)), "timestamp", now+11*60_000), testSecret), 401, 40104},
		{"nonce of 15 characters", testKeyName, "", signTR(base("nonce-0123456789"[:15]), testSecret), 400, 40003},
		{"nonce of 16 characters", testKeyName, "", signTR(base("nonce-0123456789"), testSecret), 200, 0},
		{"ttl 24h", testKeyName, "", signTR(with(base(nonce(15)), "ttl", int64(24*3600_000)), testSecret), 200, 0},
		{"ttl 24h and 1 ms", testKeyName, "", signTR(with(base(nonce(16)), "ttl", int64(24*3600_000+1)), testSecret), 400, 40003},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if s, ok := tt.body.(string); ok {
				body = []byte(s)
			} else {
				body, _ = json.Marshal(tt.body)
			}
			req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+fx.srv.Addr()+"/keys/"+url.PathEscape(tt.key)+"/requestToken", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.code != 0 {
				if got := resp.Header.Get("X-Ably-Errorcode"); got != strconv.Itoa(tt.code) {
					t.Errorf("code %s, want %d: %s", got, tt.code, b)
				}
				return
			}
			var td struct {
				Token, KeyName, ClientID, Capability string
				Issued, Expires                      int64
			}
			if err := json.Unmarshal(b, &td); err != nil || td.Token == "" || td.KeyName != tt.key || td.Expires <= td.Issued {
				t.Errorf("TokenDetails %s (%v)", b, err)
			}
		})
	}
}

// A native token this server did not issue, or one whose payload was
// changed, is unrecognised (40143); an expired one is 40142; realtime and
// REST alike.
func TestNativeTokenRefused(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	issuer := fx.restKey(t, false, testKey)
	good, err := issuer.Auth.RequestToken(ctx, &ably.TokenParams{ClientID: "n"})
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(good.Token, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	forgedPayload := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"c":"n"`), []byte(`"c":"x"`), 1))
	short, err := issuer.Auth.RequestToken(ctx, &ably.TokenParams{TTL: 1})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the 1 ms token to expire", func() bool { return time.Now().UnixMilli() > short.Expires })
	for _, tt := range []struct {
		name, token  string
		code, status int
	}{
		{"forged payload", forgedPayload + "." + sig, 40143, 401},
		{"garbage", "abc.def", 40143, 401},
		{"expired", short.Token, 40142, 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, fx, url.Values{"access_token": {tt.token}})
			m := c.next()
			if code, status := errCode(m); action(m) != actionError || code != tt.code || status != tt.status {
				t.Errorf("realtime: %v, want ERROR %d/%d", m, tt.code, tt.status)
			}
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+fx.srv.Addr()+"/channels/x/history", nil)
			req.Header.Set("Authorization", "Bearer "+b64(tt.token))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status || resp.Header.Get("X-Ably-Errorcode") != strconv.Itoa(tt.code) {
				t.Errorf("REST: %d %s, want %d %d", resp.StatusCode, resp.Header.Get("X-Ably-Errorcode"), tt.status, tt.code)
			}
		})
	}
	c := dialRaw(t, fx, url.Values{"access_token": {good.Token}})
	if m := c.next(); action(m) != actionConnected || m["connectionDetails"].(map[string]any)["clientId"] != "n" {
		t.Errorf("the untouched token: %v", m)
	}
}

func TestIntersectCapability(t *testing.T) {
	tests := []struct{ requested, key, want string }{
		{`{"*":["*"]}`, `{"[*]*":["*"]}`, `{"*":["*"]}`},
		{`{"*":["*"]}`, `{"ns:*":["subscribe"]}`, `{"ns:*":["subscribe"]}`},
		{`{"ns:a:*":["publish","subscribe"]}`, `{"ns:*":["subscribe"]}`, `{"ns:a:*":["subscribe"]}`},
		{`{"ns:*":["subscribe"]}`, `{"ns:a:*":["*"]}`, `{"ns:a:*":["subscribe"]}`},
		{`{"a:*:c":["*"]}`, `{"a:b:*":["*"]}`, `{}`},
		{`{"a:b:c":["*"]}`, `{"a:*:c":["history"],"a:b:*":["publish"]}`, `{"a:b:c":["history","publish"]}`},
		{`{"*":["*"]}`, `{"[meta]x":["subscribe"]}`, `{}`},
		{`{"[*]*":["subscribe"]}`, `{"[meta]x":["*"]}`, `{"[meta]x":["subscribe"]}`},
		{`{"foo*":["*"]}`, `{"*":["publish"]}`, `{"foo*":["publish"]}`},
		{`{"x":["subscribe"]}`, `{"x":["publish"]}`, `{}`},
	}
	for _, tt := range tests {
		r, err1 := parseCapability(tt.requested)
		k, err2 := parseCapability(tt.key)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := intersectCapability(r, k).String(); got != tt.want {
			t.Errorf("%s ∩ %s = %s, want %s", tt.requested, tt.key, got, tt.want)
		}
	}
}

// TestNonceMemory: a signed TokenRequest's nonce is refused again for 20
// minutes (twice the timestamp window, so a request stamped up to 10
// minutes ahead cannot be replayed once it is 10 minutes old), and at
// most maxNonces unexpired nonces are kept (42910 beyond).
func TestNonceMemory(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	s := &Server{nonces: map[string]int64{}}
	if e := s.useNonce("k\nn", at); e != nil {
		t.Fatalf("first use: %v", e)
	}
	for _, tc := range []struct {
		after time.Duration
		code  int // 0: accepted
	}{
		{after: 15 * time.Minute, code: codeNonceReplayed},
		{after: 2*tokenRequestWindow - time.Millisecond, code: codeNonceReplayed},
		{after: 2 * tokenRequestWindow},
	} {
		if e := s.useNonce("k\nn", at.Add(tc.after)); (e == nil) != (tc.code == 0) || e != nil && e.Code != tc.code {
			t.Errorf("the same nonce %s later: %v; want code %d", tc.after, e, tc.code)
		}
	}
	full := &Server{nonces: make(map[string]int64, maxNonces)}
	for i := range maxNonces {
		full.nonces[strconv.Itoa(i)] = at.Add(time.Minute).UnixMilli()
	}
	if e := full.useNonce("k\nnew", at); e == nil || e.Code != codeRateLimited {
		t.Errorf("a new nonce with %d kept: %v; want %d", maxNonces, e, codeRateLimited)
	}
	// Once they expire they are pruned, and a new nonce is taken.
	if e := full.useNonce("k\nnew", at.Add(time.Minute)); e != nil || len(full.nonces) != 1 {
		t.Errorf("a new nonce once the others expired: %v, %d kept", e, len(full.nonces))
	}
}

// TestNativeTokenBoundByKeysCurrentCapability: a native token survives a
// restart, but grants no more than its key's capability now allows: a key
// narrowed since the token was issued narrows the token too.
func TestNativeTokenBoundByKeysCurrentCapability(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tok, err := signNativeToken(nativeClaims{KeyName: testKeyName, Capability: `{"*":["*"]}`, Issued: now.UnixMilli(), Expires: now.Add(time.Hour).UnixMilli(), Nonce: "n"}, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := newKeyring([]Key{{Name: testKeyName, Secret: testSecret, Capability: `{"sub:*":["subscribe"]}`}})
	if err != nil {
		t.Fatal(err)
	}
	p, e := kr.verifyToken(tok, now)
	if e != nil {
		t.Fatalf("verifyToken: %v", e)
	}
	for _, tc := range []struct {
		channel, op string
		want        bool
	}{
		{"sub:a", opSubscribe, true},
		{"sub:a", opPublish, false},
		{"other", opSubscribe, false},
		{"other", opHistory, false},
	} {
		if got := p.grant.allows(tc.channel, tc.op); got != tc.want {
			t.Errorf("%s on %s: %v, want %v", tc.op, tc.channel, got, tc.want)
		}
	}
}
