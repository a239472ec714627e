package ablylocal

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/testutil"
)

func ablyCode(err error) int {
	var ei *ably.ErrorInfo
	if errors.As(err, &ei) {
		return int(ei.Code)
	}
	return 0
}

func TestCapabilityEnforcement(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			c := fx.realtimeJWT(t, f.binary, tokenSpec{
				clientID:   "sub-only",
				capability: `{"ro:*":["subscribe","history"],"rw":["publish","subscribe"]}`,
			})
			err := c.Channels.Get("ro:a:b").Publish(ctx, "x", "y")
			if got := ablyCode(err); got != 40160 {
				t.Errorf("publish without capability: %v (code %d), want 40160", err, got)
			}
			if s := c.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("connection %v after NACK, want CONNECTED", s)
			}
			denied := c.Channels.Get("secret")
			err = denied.Attach(ctx)
			if got := ablyCode(err); got != 40160 {
				t.Errorf("attach without grant: %v (code %d), want 40160", err, got)
			}
			if s := denied.State(); s != ably.ChannelStateFailed {
				t.Errorf("denied channel %v, want FAILED", s)
			}
			if err := c.Channels.Get("ro:a:b").Attach(ctx); err != nil {
				t.Errorf("attach ro:a:b (ns:* across segments): %v", err)
			}
			if err := c.Channels.Get("rw").Publish(ctx, "ok", "y"); err != nil {
				t.Errorf("publish rw: %v", err)
			}
			if s := c.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("connection %v, want CONNECTED", s)
			}
			// Token capability is intersected with the key's.
			sub := fx.restKey(t, f.binary, subKeyName+":"+subSecret)
			if _, err := sub.Channels.Get("other").History().Pages(ctx); ablyCode(err) != 40160 {
				t.Errorf("history without capability: %v", err)
			}
			if _, err := sub.Channels.Get("sub:x").History().Pages(ctx); err != nil {
				t.Errorf("history with capability: %v", err)
			}
			if err := sub.Channels.Get("sub:x").Publish(ctx, "n", "d"); ablyCode(err) != 40160 {
				t.Errorf("REST publish without capability: %v", err)
			}
		})
	}
}

func TestCapabilityMatching(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "a", true},
		{"*", "a:b:c", true},
		{"*", "[meta]x", false},
		{"[*]*", "[meta]x", true},
		{"ns:*", "ns:a", true},
		{"ns:*", "ns:a:b", true},
		{"ns:*", "ns", false},
		{"a:*:c", "a:b:c", true},
		{"a:*:c", "a:b:d", false},
		{"a:*:c", "a:b:x:c", false},
		{"foo*", "foo*", true},
		{"foo*", "foobar", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		// A name is matched whole: a pattern names no channel below it.
		{"exact", "exact:more", false},
		{"a:b", "a:b:c", false},
		{"a:*:c", "a:b:c:d", false},
	}
	for _, tt := range tests {
		if got := matchResource(tt.pattern, tt.name); got != tt.want {
			t.Errorf("matchResource(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
	c, err := parseCapability(`{"a:*":["subscribe"],"*":["publish"]}`)
	if err != nil {
		t.Fatal(err)
	}
	if !c.allows("a:x", opSubscribe) || !c.allows("a:x", opPublish) || c.allows("b", opSubscribe) {
		t.Errorf("union of operations wrong")
	}
	g := grant{c, capability{"a:x": {opSubscribe: true}}}
	if !g.allows("a:x", opSubscribe) || g.allows("a:x", opPublish) || g.allows("a:y", opSubscribe) {
		t.Errorf("intersection wrong")
	}
	for _, bad := range []string{``, `[]`, `{"a":"subscribe"}`, `{"":["*"]}`, `{"a":[""]}`, `null`, `{"a":["x"]} x`} {
		if _, err := parseCapability(bad); err == nil {
			t.Errorf("parseCapability(%q) accepted", bad)
		}
	}
}

func TestClientIDRules(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	watch := subscribe(t, fx.realtimeKey(t, false, testKey).Channels.Get("cid"))
	// Wildcard token: any clientId except "*".
	wild := fx.realtimeJWT(t, false, tokenSpec{clientID: "*"})
	if err := wild.Channels.Get("cid").PublishMultiple(ctx, []*ably.Message{{Name: "w", ClientID: "anyone"}}); err != nil {
		t.Fatalf("wildcard publish: %v", err)
	}
	if m := recv(t, watch); m.ClientID != "anyone" {
		t.Errorf("wildcard clientId = %q", m.ClientID)
	}
	// ...but not "*" itself, which would stand for every client (ably-go
	// refuses it client-side, so speak the wire protocol).
	wildTok, _ := signTest(t, tokenSpec{clientID: "*"})
	wraw := dialRaw(t, fx, url.Values{"access_token": {wildTok}})
	if m := wraw.next(); action(m) != actionConnected {
		t.Fatalf("wildcard connect: %v", m)
	}
	wraw.send(map[string]any{"action": actionMessage, "channel": "cid", "msgSerial": 0, "messages": []any{map[string]any{"clientId": "*"}}})
	if m := wraw.next(); action(m) != actionNack {
		t.Errorf("wildcard publish with clientId *: %v", m)
	} else if code, status := errCode(m); code != 40012 || status != 400 {
		t.Errorf("wildcard publish with clientId *: %d/%d, want 40012/400", code, status)
	}
	// Concrete token: empty is stamped.
	alice := fx.realtimeJWT(t, false, tokenSpec{clientID: "alice"})
	if err := alice.Channels.Get("cid").Publish(ctx, "a", "x"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, watch); m.ClientID != "alice" {
		t.Errorf("stamped clientId = %q", m.ClientID)
	}
	// Anonymous token: a clientId on the message is refused with 40012
	// (ably-go refuses it client-side, so speak the wire protocol).
	anonTok, _ := signTest(t, tokenSpec{})
	raw := dialRaw(t, fx, url.Values{"access_token": {anonTok}})
	if m := raw.next(); action(m) != actionConnected {
		t.Fatalf("anonymous connect: %v", m)
	}
	raw.send(map[string]any{"action": actionMessage, "channel": "cid", "msgSerial": 0, "messages": []any{map[string]any{"clientId": "mallory"}}})
	if m := raw.next(); action(m) != actionNack {
		t.Errorf("anonymous publish with clientId: %v", m)
	} else if code, status := errCode(m); code != 40012 || status != 400 {
		t.Errorf("anonymous publish with clientId: %d/%d, want 40012/400", code, status)
	}
	// Basic key: any clientId.
	key := fx.realtimeKey(t, false, testKey)
	if err := key.Channels.Get("cid").PublishMultiple(ctx, []*ably.Message{{Name: "k", ClientID: "svc"}}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, watch); m.ClientID != "svc" {
		t.Errorf("basic clientId = %q", m.ClientID)
	}
}

func TestEchoFalse(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	c := fx.realtimeKey(t, true, testKey, ably.WithEchoMessages(false))
	own := subscribe(t, c.Channels.Get("echo"))
	other := fx.realtimeKey(t, true, testKey)
	if err := c.Channels.Get("echo").Publish(ctx, "mine", "x"); err != nil {
		t.Fatal(err)
	}
	if err := other.Channels.Get("echo").Publish(ctx, "theirs", "x"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, own); m.Name != "theirs" {
		t.Errorf("echo=false delivered own message %q", m.Name)
	}
}

// TestExpiredTokenAtConnect: the first token is expired, the server says
// 40142 and ably-go asks its authCallback again.
func TestExpiredTokenAtConnect(t *testing.T) {
	fx := startServer(t, nil)
	var calls authCounter
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		calls.inc()
		if calls.get() == 1 {
			tok, _ := signTest(t, tokenSpec{clientID: "e", ttl: -time.Minute})
			return ably.TokenString(tok), nil
		}
		tok, _ := signTest(t, tokenSpec{clientID: "e"})
		return ably.TokenString(tok), nil
	})
	fx.realtime(t, append(fx.endpoint(false), cb)...)
	if n := calls.get(); n < 2 {
		t.Errorf("authCallback calls = %d, want >= 2", n)
	}
}

func TestBadTokenFailsAblyGo(t *testing.T) {
	fx := startServer(t, nil)
	now := time.Now().Unix()
	tok := rawJWT(map[string]any{"alg": "none", "kid": testKeyName}, map[string]any{"iat": now, "exp": now + 60}, testSecret, nil)
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		return ably.TokenString(tok), nil
	})
	c, err := ablyconn.NewRealtime(append(fx.endpoint(false), cb)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testutil.Eventually(t, 10*time.Second, "failure", func() bool {
		s := c.Connection.State()
		return s == ably.ConnectionStateFailed || s == ably.ConnectionStateDisconnected || s == ably.ConnectionStateSuspended
	})
	if r := c.Connection.ErrorReason(); r == nil || r.Code != 40144 {
		t.Errorf("error reason = %v, want 40144", r)
	}
}

// stateLog records connection state changes.
type stateLog struct {
	mu      sync.Mutex
	changes []ably.ConnectionStateChange
}

func (l *stateLog) add(c ably.ConnectionStateChange) {
	l.mu.Lock()
	l.changes = append(l.changes, c)
	l.mu.Unlock()
}

func (l *stateLog) find(state ably.ConnectionState, code int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.changes {
		if c.Current == state && (code == 0 || (c.Reason != nil && int(c.Reason.Code) == code)) {
			return true
		}
	}
	return false
}

func (l *stateLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.changes)
}

func (l *stateLog) hasUpdate() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.changes {
		if c.Event == ably.ConnectionEventUpdate {
			return true
		}
	}
	return false
}

func TestTokenRenewalOnLiveConnection(t *testing.T) {
	t.Parallel()
	fx := startServer(t, func(c *Config) { c.TokenRenewalLead = 4 * time.Second })
	var calls authCounter
	var log stateLog
	// The first token lives 6-7 s (exp has whole seconds) and the server
	// asks for renewal 4 s before it ends, leaving the renewal round trip
	// 2 s or more even on a loaded machine; renewed tokens live an hour, so
	// exactly one renewal is needed.
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		calls.inc()
		ttl := time.Hour
		if calls.get() == 1 {
			ttl = 7 * time.Second
		}
		tok, exp := signTest(t, tokenSpec{clientID: "renew", ttl: ttl})
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: "renew"}, nil
	})
	opts := append(fx.endpoint(true), cb, ably.WithClientID("renew"))
	c, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Connection.OnAll(log.add)
	waitState(t, c, ably.ConnectionStateConnected)
	id := c.Connection.ID()
	firstExp := time.Now().Add(7 * time.Second)
	testutil.Eventually(t, 10*time.Second, "server-requested renewal", func() bool { return calls.get() >= 2 })
	testutil.Eventually(t, 10*time.Second, "past the first token's exp", func() bool { return time.Now().After(firstExp) })
	waitState(t, c, ably.ConnectionStateConnected)
	if got := c.Connection.ID(); got != id {
		t.Errorf("connection id changed %q -> %q", id, got)
	}
	if log.find(ably.ConnectionStateDisconnected, 0) {
		t.Errorf("connection was DISCONNECTED despite renewal: %v", log.String())
	}
	if !log.hasUpdate() {
		t.Errorf("no UPDATE event after renewal: %v", log.String())
	}
}

func TestTokenExpiryDisconnects(t *testing.T) {
	t.Parallel()
	fx := startServer(t, func(c *Config) { c.TokenRenewalLead = -1 })
	var calls authCounter
	var log stateLog
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		calls.inc()
		ttl := time.Hour
		if calls.get() == 1 {
			ttl = 2 * time.Second
		}
		tok, exp := signTest(t, tokenSpec{clientID: "exp", ttl: ttl})
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: "exp"}, nil
	})
	opts := append(fx.endpoint(false), cb, ably.WithClientID("exp"))
	c, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	c.Connection.OnAll(log.add)
	waitState(t, c, ably.ConnectionStateConnected)
	id := c.Connection.ID()
	testutil.Eventually(t, 10*time.Second, "DISCONNECTED 40142", func() bool { return log.find(ably.ConnectionStateDisconnected, 40142) })
	testutil.Eventually(t, 10*time.Second, "re-auth", func() bool { return calls.get() >= 2 })
	waitState(t, c, ably.ConnectionStateConnected)
	if got := c.Connection.ID(); got != id {
		t.Errorf("resume after re-auth changed connection id %q -> %q", id, got)
	}
}

// TestResumeNothingLostOrDuplicated drops the socket, publishes while the
// client is away, and checks the resumed client gets each message once.
func TestResumeNothingLostOrDuplicated(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			gate := make(chan struct{})
			var once sync.Once
			release := func() { once.Do(func() { close(gate) }) }
			t.Cleanup(release)
			var resumes atomic.Int32
			fx.srv.setConnectHook(func(q url.Values) {
				if q.Get("resume") != "" {
					resumes.Add(1)
					<-gate
				}
			})
			c := fx.realtimeKey(t, f.binary, testKey)
			ch := c.Channels.Get("resume")
			msgs := subscribe(t, ch)
			rest := fx.restKey(t, f.binary, testKey)
			if err := rest.Channels.Get("resume").Publish(ctx, "before", "0"); err != nil {
				t.Fatal(err)
			}
			recv(t, msgs)
			id := c.Connection.ID()

			fx.srv.DropConnections()
			testutil.Eventually(t, 10*time.Second, "resume attempt", func() bool { return resumes.Load() > 0 })
			want := []string{"1", "2", "3", "4", "5"}
			for _, d := range want {
				if err := rest.Channels.Get("resume").Publish(ctx, "away", d); err != nil {
					t.Fatal(err)
				}
			}
			var own atomic.Int32
			if err := ch.PublishAsync("mine", "m", func(err error) {
				if err == nil {
					own.Add(1)
				}
			}); err != nil {
				t.Fatal(err)
			}
			release()
			waitState(t, c, ably.ConnectionStateConnected)
			if got := c.Connection.ID(); got != id {
				t.Errorf("resume gave new connection id %q, want %q", got, id)
			}
			var away []string
			mine := 0
			for i := 0; i < len(want)+1; i++ {
				m := recv(t, msgs)
				if m.Name == "mine" {
					mine++
					continue
				}
				away = append(away, m.Data.(string))
			}
			if len(away) != len(want) {
				t.Fatalf("got %v, want %v", away, want)
			}
			for i := range want {
				if away[i] != want[i] {
					t.Errorf("replayed %v, want %v in order", away, want)
					break
				}
			}
			if err := rest.Channels.Get("resume").Publish(ctx, "fence", "f"); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, msgs); m.Name != "fence" {
				t.Errorf("duplicate after resume: %q %v", m.Name, m.Data)
			}
			if mine != 1 {
				t.Errorf("own queued message delivered %d times", mine)
			}
			testutil.Eventually(t, 5*time.Second, "own publish ACK", func() bool { return own.Load() == 1 })
		})
	}
}

// TestJWTCapabilityBoundByItsKey: a JWT signed with a key gets at most the
// key's own rights, whatever capability it claims (Ably intersects them).
// subKey may only subscribe and read history on sub:*; a JWT it signs that
// claims every right on every channel gets no more. (The REST check in
// TestCapabilityEnforcement uses the key itself, not a token it signed.)
func TestJWTCapabilityBoundByItsKey(t *testing.T) {
	fx := startServer(t, nil)
	tok, _, err := ablyconn.SignToken(subKeyName, subSecret, "mallory", `{"*":["*"]}`, nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	raw := dialRaw(t, fx, url.Values{"access_token": {tok}})
	if m := raw.next(); action(m) != actionConnected {
		t.Fatalf("connect: %v", m)
	}
	// One connection, frame after frame: each answer is read before the
	// next frame is sent.
	tests := []struct {
		name       string
		frame      map[string]any
		wantAction int
		wantCode   int
	}{
		{name: "attach on the key's channels", wantAction: actionAttached,
			frame: map[string]any{"action": actionAttach, "channel": "sub:x"}},
		{name: "publish on the key's channels", wantAction: actionNack, wantCode: 40160,
			frame: map[string]any{"action": actionMessage, "channel": "sub:x", "msgSerial": 0, "messages": []any{map[string]any{"name": "n"}}}},
		{name: "attach beyond the key's channels", wantAction: actionError, wantCode: 40160,
			frame: map[string]any{"action": actionAttach, "channel": "other"}},
	}
	for _, tt := range tests {
		raw.send(tt.frame)
		m := raw.next()
		if code, _ := errCode(m); action(m) != tt.wantAction || code != tt.wantCode {
			t.Errorf("%s: got %v (code %d), want action %d with code %d", tt.name, m, code, tt.wantAction, tt.wantCode)
		}
	}
}

// TestJWTWithoutRightsUnderItsKeyRefused: a JWT whose capability has no
// intersection with its key's is refused, as Ably documents ("If the set of
// capabilities within the Ably JWT have no intersection with the
// capabilities of the API key, then an error will instead be returned"),
// on connect and over REST, with 40160 as for a TokenRequest; a JWT that
// keeps some of the key's rights connects.
func TestJWTWithoutRightsUnderItsKeyRefused(t *testing.T) {
	fx := startServer(t, nil)
	tests := []struct {
		name       string
		capability string
		wantCode   int // 0: accepted
	}{
		{name: "beyond the key's channels", capability: `{"other":["*"]}`, wantCode: codeCapability},
		{name: "operations the key lacks", capability: `{"sub:x":["publish","presence"]}`, wantCode: codeCapability},
		{name: "no resources", capability: `{}`, wantCode: codeCapability},
		{name: "some of the key's rights", capability: `{"sub:x":["subscribe","publish"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, _, err := ablyconn.SignToken(subKeyName, subSecret, "mallory", tt.capability, nil, time.Now(), time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			raw := dialRaw(t, fx, url.Values{"access_token": {tok}})
			m := raw.next()
			switch code, status := errCode(m); {
			case tt.wantCode == 0 && action(m) != actionConnected:
				t.Fatalf("connect: %v, want CONNECTED", m)
			case tt.wantCode != 0 && (action(m) != actionError || code != tt.wantCode || status != statusUnauthorized):
				t.Fatalf("connect: %v, want ERROR %d/401", m, tt.wantCode)
			}
			req, err := http.NewRequestWithContext(testCtx(t), http.MethodGet, fmt.Sprintf("http://127.0.0.1:%d/channels/sub:x/history", fx.port), nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+base64.StdEncoding.EncodeToString([]byte(tok)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if tt.wantCode != 0 && (resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("X-Ably-Errorcode") != strconv.Itoa(tt.wantCode)) {
				t.Errorf("REST history: %d, code %q, want 401 with %d", resp.StatusCode, resp.Header.Get("X-Ably-Errorcode"), tt.wantCode)
			}
		})
	}
}

// TestPublishRefusedOnceTheTokenExpired: a connection's token that expired
// while its writer was busy stamps its clientId and role on no more
// messages, though the connection is not closed yet.
func TestPublishRefusedOnceTheTokenExpired(t *testing.T) {
	fx := startServer(t, nil)
	tok, _ := signTest(t, tokenSpec{clientID: "alice", claims: map[string]any{"ably.channel.*": "admin"}})
	tests := []struct {
		name     string
		expires  time.Duration // from now
		wantCode int           // 0: published
	}{
		{name: "unexpired", expires: time.Minute},
		{name: "expired", expires: -time.Millisecond, wantCode: codeTokenExpired},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, e := fx.srv.keys.verifyToken(tok, time.Now())
			if e != nil {
				t.Fatalf("verifyToken: %v", e)
			}
			p.expires = time.Now().Add(tt.expires)
			ch := fmt.Sprintf("exp%d", i)
			_, e = fx.srv.publish(publisher{p: p, idBase: "test"}, ch, []*message{{Name: "m"}})
			switch {
			case tt.wantCode == 0 && e != nil:
				t.Fatalf("publish: %v", e)
			case tt.wantCode != 0 && (e == nil || e.Code != tt.wantCode):
				t.Fatalf("publish: %v, want code %d", e, tt.wantCode)
			}
			ctx := testCtx(t)
			page, err := fx.restKey(t, false, testKey).Channels.Get(ch).History().Pages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			page.Next(ctx)
			if got, want := len(page.Items()), map[bool]int{true: 1, false: 0}[tt.wantCode == 0]; got != want {
				t.Fatalf("%d messages stored, want %d", got, want)
			}
		})
	}
}

// TestJWTTimeClaims: exp and iat are required and numeric, exp at or
// before now is expired (40142, no leeway), and iat or nbf may be at most
// maxIATSkew ahead of the server's clock (else 40144).
func TestJWTTimeClaims(t *testing.T) {
	kr, err := newKeyring([]Key{{Name: testKeyName, Secret: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	tests := []struct {
		name   string
		claims map[string]any
		code   int // 0: accepted
	}{
		{name: "exp a second ahead", claims: map[string]any{"iat": at(0), "exp": at(time.Second)}},
		{name: "exp now", claims: map[string]any{"iat": at(-time.Minute), "exp": at(0)}, code: codeTokenExpired},
		{name: "exp missing", claims: map[string]any{"iat": at(0)}, code: codeInvalidToken},
		{name: "iat missing", claims: map[string]any{"exp": at(time.Hour)}, code: codeInvalidToken},
		{name: "exp negative", claims: map[string]any{"iat": at(0), "exp": -1}, code: codeInvalidToken},
		{name: "iat the skew ahead", claims: map[string]any{"iat": at(maxIATSkew), "exp": at(time.Hour)}},
		{name: "iat more than the skew ahead", claims: map[string]any{"iat": at(maxIATSkew + time.Second), "exp": at(time.Hour)}, code: codeInvalidToken},
		{name: "iat a minute and a half ahead", claims: map[string]any{"iat": at(90 * time.Second), "exp": at(time.Hour)}, code: codeInvalidToken},
		{name: "nbf more than the skew ahead", claims: map[string]any{"iat": at(0), "nbf": at(maxIATSkew + time.Second), "exp": at(time.Hour)}, code: codeInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := rawJWT(map[string]any{"alg": "HS256", "typ": "JWT", "kid": testKeyName}, tc.claims, testSecret, hs256)
			p, e := kr.verifyJWT(tok, now)
			switch {
			case tc.code == 0 && e != nil:
				t.Errorf("refused: %v", e)
			case tc.code != 0 && (e == nil || e.Code != tc.code):
				t.Errorf("verifyJWT = %+v, %v; want %d", p, e, tc.code)
			}
		})
	}
}
