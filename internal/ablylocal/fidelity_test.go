package ablylocal

// Conformance tests for issue 10: behaviour the real ably-go client can
// tell apart from Ably's, each pinned with ably-go itself.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// RTN15e: every resume hands out a new connection key and keeps the
// connection id; the superseded key no longer resumes anything.
func TestResumeRenewsConnectionKey(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			c := fx.realtimeKey(t, f.binary, testKey)
			id, key := c.Connection.ID(), c.Connection.Key()
			if id == "" || key == "" {
				t.Fatalf("connected without id %q or key %q", id, key)
			}
			keys := []string{key}
			for i := 0; i < 2; i++ {
				prev := keys[len(keys)-1]
				fx.srv.DropConnections()
				testutil.Eventually(t, 15*time.Second, "resumed with a new connection key", func() bool {
					return c.Connection.State() == ably.ConnectionStateConnected && c.Connection.Key() != prev
				})
				if got := c.Connection.ID(); got != id {
					t.Fatalf("resume %d changed the connection id %q -> %q", i+1, id, got)
				}
				if r := c.Connection.ErrorReason(); r != nil {
					t.Fatalf("resume %d reported %v", i+1, r)
				}
				keys = append(keys, c.Connection.Key())
			}
			if keys[1] == keys[2] {
				t.Errorf("two resumes gave the same key %q", keys[1])
			}
			// A superseded key is unknown: resuming with it opens a new
			// connection (80008) and leaves the live one alone.
			raw := dialRaw(t, fx, url.Values{"key": {testKey}, "resume": {keys[0]}})
			m := raw.next()
			if code, status := errCode(m); action(m) != actionConnected || m["connectionId"] == id || code != 80008 || status != 400 {
				t.Errorf("resume with a superseded key = %v, want CONNECTED with a new id and 80008/400", m)
			}
			if s := c.Connection.State(); s != ably.ConnectionStateConnected || c.Connection.ID() != id {
				t.Errorf("after a stale resume the client is %v with id %q, want CONNECTED %q", s, c.Connection.ID(), id)
			}
		})
	}
}

// RTN16: a client that recovers a connection takes it over; the original
// client, whose key the recovery superseded, gets a new connection (80008)
// instead of stealing it back, so nobody flip-flops.
func TestRecoverTakesOverConnection(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	a := fx.realtimeKey(t, true, testKey)
	ach := a.Channels.Get("recover")
	msgs := subscribe(t, ach)
	if err := ach.Publish(ctx, "before", "x"); err != nil {
		t.Fatal(err)
	}
	recv(t, msgs)
	idA := a.Connection.ID()
	var aLog stateLog
	a.Connection.OnAll(aLog.add)

	var bDrops atomic.Int32
	b, err := ably.NewRealtime(append(fx.endpoint(true), ably.WithKey(testKey), ably.WithInsecureAllowBasicAuthWithoutTLS(),
		ably.WithRecover(a.Connection.CreateRecoveryKey()), ably.WithAutoConnect(false))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	b.Connection.On(ably.ConnectionEventDisconnected, func(ably.ConnectionStateChange) { bDrops.Add(1) })
	b.Connect()
	waitState(t, b, ably.ConnectionStateConnected)
	if got := b.Connection.ID(); got != idA {
		t.Fatalf("recovered connection id %q, want %q", got, idA)
	}
	if r := b.Connection.ErrorReason(); r != nil {
		t.Fatalf("recovery reported %v", r)
	}
	// ably-go sets the state, then hands the change to each listener on
	// a goroutine of its own: wait for aLog to have it too (any CONNECTED
	// there is a reconnection: it listens from after the first).
	testutil.Eventually(t, 15*time.Second, "the original client on a new connection", func() bool {
		return a.Connection.State() == ably.ConnectionStateConnected && a.Connection.ID() != idA && aLog.find(ably.ConnectionStateConnected, 0)
	})
	if !aLog.find(ably.ConnectionStateConnected, 80008) {
		t.Errorf("the original client's resume was not refused with 80008: %v", aLog.String())
	}
	// No flip-flop: for a while (generous, the stealing took milliseconds
	// before), the recovered client keeps the connection and the original
	// keeps its new one.
	idA2 := a.Connection.ID()
	testutil.Consistently(t, 2*time.Second, "no drop of the recovered client's connection", func() bool { return bDrops.Load() == 0 })
	if b.Connection.ID() != idA || b.Connection.State() != ably.ConnectionStateConnected {
		t.Errorf("recovered client is %v %q, want CONNECTED %q", b.Connection.State(), b.Connection.ID(), idA)
	}
	if a.Connection.ID() != idA2 || a.Connection.State() != ably.ConnectionStateConnected {
		t.Errorf("original client is %v %q, want CONNECTED %q", a.Connection.State(), a.Connection.ID(), idA2)
	}
	// The recovered client still gets the channel it inherited.
	bmsgs := subscribe(t, b.Channels.Get("recover"))
	if err := fx.restKey(t, true, testKey).Channels.Get("recover").Publish(ctx, "after", "y"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, bmsgs); m.Name != "after" {
		t.Errorf("recovered client got %q, want after", m.Name)
	}
}

// RSL1k3: one publish with the same client-supplied id twice is refused
// with 40031, over REST and realtime, and nothing of it is stored.
func TestDuplicateIDsInOnePublishRefused(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			live := subscribe(t, fx.realtimeKey(t, f.binary, testKey).Channels.Get("dup"))
			dup := func() []*ably.Message {
				return []*ably.Message{{ID: "same", Name: "a"}, {ID: "other", Name: "b"}, {ID: "same", Name: "c"}}
			}
			rest := fx.restKey(t, f.binary, testKey)
			err := rest.Channels.Get("dup").PublishMultiple(ctx, dup())
			var ei *ably.ErrorInfo
			if !errors.As(err, &ei) || ei.Code != 40031 || ei.StatusCode != 400 {
				t.Errorf("REST publish with a duplicate id: %v, want 40031/400", err)
			}
			rt := fx.realtimeKey(t, f.binary, testKey)
			err = rt.Channels.Get("dup").PublishMultiple(ctx, dup())
			if !errors.As(err, &ei) || ei.Code != 40031 || ei.StatusCode != 400 {
				t.Errorf("realtime publish with a duplicate id: %v, want a NACK 40031/400", err)
			}
			if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("after the NACK the connection is %v", s)
			}
			// Distinct ids in the RSL1k1 form are fine.
			ok := []*ably.Message{{ID: "base:0", Name: "ok0"}, {ID: "base:1", Name: "ok1"}}
			if err := rest.Channels.Get("dup").PublishMultiple(ctx, ok); err != nil {
				t.Fatalf("REST publish with distinct ids: %v", err)
			}
			for _, want := range []string{"ok0", "ok1"} {
				if m := recv(t, live); m.Name != want {
					t.Errorf("got %q, want %q (a refused publish delivered something)", m.Name, want)
				}
			}
			items, err := rest.Channels.Get("dup").History().Items(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for items.Next(ctx) && n < 10 {
				n++
			}
			if n != 2 {
				t.Errorf("history has %d messages, want the 2 accepted ones", n)
			}
		})
	}
}

// TestAtomicPublishIDsShareOneBase: the messages of one publish that carry
// client-specified ids are published atomically under one idempotency key,
// so Ably requires every id to be "<base id>:<idx>" with one base and idx
// the message's index (Ably docs, pub-sub/advanced, "Client-specified
// message ID restrictions for multiple messages published atomically"),
// else 40031/400 and nothing is published. One message may carry any id.
// An empty base (":0", ":1") is no base id: refused.
func TestAtomicPublishIDsShareOneBase(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			rest := fx.restKey(t, f.binary, testKey)
			rt := fx.realtimeKey(t, f.binary, testKey)
			tests := []struct {
				name     string
				ids      []string
				refused  bool
				verbatim bool // the ids as they are, without a per-case prefix
			}{
				{name: "unrelated ids", ids: []string{"foo", "bar"}, refused: true},
				{name: "two bases", ids: []string{"foo:0", "bar:1"}, refused: true},
				{name: "indexes out of order", ids: []string{"foo:1", "foo:0"}, refused: true},
				{name: "index not from zero", ids: []string{"foo:1", "foo:2"}, refused: true},
				{name: "an id missing", ids: []string{"foo:0", ""}, refused: true},
				{name: "an empty base", ids: []string{":0", ":1"}, refused: true, verbatim: true},
				{name: "one base, indexes in order", ids: []string{"b:c:0", "b:c:1", "b:c:2"}},
				{name: "no ids", ids: []string{"", ""}},
				{name: "one message, any id", ids: []string{"anything"}},
			}
			for i, tt := range tests {
				for _, via := range []string{"rest", "realtime"} {
					// Distinct ids per case and path, so idempotency
					// does not hide a publish.
					msgs := make([]*ably.Message, len(tt.ids))
					for j, id := range tt.ids {
						if id != "" && !tt.verbatim {
							id = fmt.Sprintf("%s%d-%s", via, i, id)
						}
						msgs[j] = &ably.Message{ID: id, Name: fmt.Sprintf("m%d", j)}
					}
					ch := fmt.Sprintf("atomic-%d-%s", i, via)
					var err error
					if via == "rest" {
						err = rest.Channels.Get(ch).PublishMultiple(ctx, msgs)
					} else {
						err = rt.Channels.Get(ch).PublishMultiple(ctx, msgs)
					}
					var ei *ably.ErrorInfo
					switch {
					case tt.refused && (!errors.As(err, &ei) || ei.Code != 40031 || ei.StatusCode != 400):
						t.Errorf("%s over %s: %v, want 40031/400", tt.name, via, err)
					case !tt.refused && err != nil:
						t.Errorf("%s over %s: %v, want published", tt.name, via, err)
					}
					page, err := rest.Channels.Get(ch).History().Pages(ctx)
					if err != nil {
						t.Fatal(err)
					}
					page.Next(ctx)
					want := len(tt.ids)
					if tt.refused {
						want = 0
					}
					if got := len(page.Items()); got != want {
						t.Errorf("%s over %s: history has %d messages, want %d", tt.name, via, got, want)
					}
				}
			}
			if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("after the NACKs the connection is %v", s)
			}
		})
	}
}

// Message updates, deletes and appends are refused with 93002 (as a channel
// without the mutable-messages rule does), never stored as new messages;
// other message actions the server does not implement are refused with
// 40000.
func TestMessageOperationsRefused(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			live := subscribe(t, fx.realtimeKey(t, f.binary, testKey).Channels.Get("ops"))
			rt := fx.realtimeKey(t, f.binary, testKey)
			ch := rt.Channels.Get("ops")
			res, err := ch.PublishWithResult(ctx, "orig", "v1")
			if err != nil || res.Serial == nil {
				t.Fatalf("publish: %v %v", res, err)
			}
			recv(t, live)
			serial := *res.Serial
			ops := map[string]func(*ably.Message) error{
				"update": func(m *ably.Message) error { _, err := ch.UpdateMessage(ctx, m); return err },
				"delete": func(m *ably.Message) error { _, err := ch.DeleteMessage(ctx, m); return err },
				"append": func(m *ably.Message) error { _, err := ch.AppendMessage(ctx, m); return err },
			}
			rest := fx.restKey(t, f.binary, testKey)
			restOps := map[string]func(*ably.Message) error{
				"update": func(m *ably.Message) error { _, err := rest.Channels.Get("ops").UpdateMessage(ctx, m); return err },
				"delete": func(m *ably.Message) error { _, err := rest.Channels.Get("ops").DeleteMessage(ctx, m); return err },
				"append": func(m *ably.Message) error { _, err := rest.Channels.Get("ops").AppendMessage(ctx, m); return err },
			}
			for _, name := range []string{"update", "delete", "append"} {
				for via, op := range map[string]func(*ably.Message) error{"realtime": ops[name], "rest": restOps[name]} {
					err := op(&ably.Message{Serial: serial, Name: "orig", Data: "edited by " + via})
					var ei *ably.ErrorInfo
					if !errors.As(err, &ei) || ei.Code != 93002 || ei.StatusCode != 400 {
						t.Errorf("%s %s: %v, want 93002/400", via, name, err)
					}
				}
			}
			if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("after the refusals the connection is %v", s)
			}
			if err := ch.Publish(ctx, "fence", "f"); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, live); m.Name != "fence" {
				t.Errorf("a refused operation was delivered: %q %v (action %v)", m.Name, m.Data, m.Action)
			}
			// Actions it knows nothing about (meta, summary, unknown).
			raw := dialRaw(t, fx, url.Values{"key": {testKey}})
			raw.next()
			for i, a := range []int{3, 4, 42} {
				raw.send(map[string]any{"action": actionMessage, "channel": "ops", "msgSerial": i, "messages": []any{map[string]any{"action": a, "serial": serial}}})
				m := raw.next()
				if code, status := errCode(m); action(m) != actionNack || code != 40000 || status != 400 {
					t.Errorf("message action %d: %v, want NACK 40000/400", a, m)
				}
			}
			items, err := rest.Channels.Get("ops").History().Items(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for items.Next(ctx) && len(names) < 10 {
				names = append(names, items.Item().Name)
			}
			if len(names) != 2 || names[0] != "fence" || names[1] != "orig" {
				t.Errorf("history = %v, want [fence orig]", names)
			}
		})
	}
}

// RTC8a4/RTN22a: a token shorter than TokenRenewalLead is not renewed by
// the server: at exp the connection goes DISCONNECTED 40142/401 "token
// expired", ably-go fetches a new token and resumes the same connection.
// ably-go's own tests use 3 s tokens; 5 s (4-5 s, exp has whole seconds)
// keeps a reconnection on a loaded machine well inside a token's life.
func TestShortTokenExpiresAndReconnects(t *testing.T) {
	t.Parallel()
	fx := startServer(t, nil) // default lead: 30 s
	var calls authCounter
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		calls.inc()
		tok, _ := signTest(t, tokenSpec{clientID: "short", ttl: 5 * time.Second})
		return ably.TokenString(tok), nil
	})
	c, err := ably.NewRealtime(append(fx.endpoint(false), cb, ably.WithAutoConnect(false))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	changes := make(chan ably.ConnectionStateChange, 64)
	c.Connection.OnAll(func(ch ably.ConnectionStateChange) { changes <- ch })
	c.Connect()
	next := func() ably.ConnectionStateChange {
		t.Helper()
		select {
		case ch := <-changes:
			return ch
		case <-time.After(15 * time.Second):
			t.Fatal("no connection state change within 15 s")
			return ably.ConnectionStateChange{}
		}
	}
	for ch := next(); ch.Current != ably.ConnectionStateConnected; ch = next() {
	}
	id := c.Connection.ID()
	for i := 0; i < 2; i++ {
		ch := next()
		if ch.Event != ably.ConnectionEventDisconnected || ch.Reason == nil || ch.Reason.Code != 40142 || ch.Reason.StatusCode != 401 {
			t.Fatalf("cycle %d: %v, want DISCONNECTED 40142/401 at exp (no server AUTH for a token shorter than the lead)", i, ch)
		}
		if ch = next(); ch.Event != ably.ConnectionEventConnecting {
			t.Fatalf("cycle %d: %v, want CONNECTING", i, ch)
		}
		if ch = next(); ch.Event != ably.ConnectionEventConnected || ch.Reason != nil {
			t.Fatalf("cycle %d: %v, want CONNECTED without error", i, ch)
		}
		if got := c.Connection.ID(); got != id {
			t.Errorf("cycle %d: reconnect changed the connection id %q -> %q", i, id, got)
		}
	}
	if n := calls.get(); n != 3 {
		t.Errorf("authCallback called %d times, want 3 (one token per connection attempt)", n)
	}
}

// RTN22: the server asks for a new token about TokenRenewalLead (30 s)
// before exp, so a 33 s token is renewed after about 3 s on the same
// connection (UPDATE), not at its half-life.
func TestServerAuthAboutLeadBeforeExpiry(t *testing.T) {
	t.Parallel()
	fx := startServer(t, nil)
	var calls authCounter
	var log stateLog
	cb := ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
		calls.inc()
		tok, exp := signTest(t, tokenSpec{clientID: "lead", ttl: 33 * time.Second})
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), ClientID: "lead"}, nil
	})
	c := fx.realtime(t, append(fx.endpoint(true), cb, ably.WithClientID("lead"))...)
	c.Connection.OnAll(log.add)
	id := c.Connection.ID()
	start := time.Now()
	// exp has whole seconds, so the request comes 2-3 s after connecting;
	// half-life would be 16 s or more. 12 s leaves room for a loaded
	// machine and still tells the two apart.
	testutil.Eventually(t, 12*time.Second, "a server-requested renewal", func() bool { return calls.get() >= 2 })
	testutil.Eventually(t, 10*time.Second, "UPDATE after the renewal", log.hasUpdate)
	if d := time.Since(start); d > 12*time.Second {
		t.Errorf("renewal after %v", d)
	}
	if c.Connection.ID() != id || log.find(ably.ConnectionStateDisconnected, 0) {
		t.Errorf("renewal was not on the same connection: %v", log.String())
	}
}

// Routes the server does not serve authenticate first: a bad JWT gets
// 40144/401, not 40400.
func TestUnservedRoutesAuthenticateFirst(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	now := time.Now().Unix()
	bad := rawJWT(map[string]any{"alg": "HS256", "kid": testKeyName}, map[string]any{"iat": now, "exp": now + 600}, "wrong", hs256)
	for _, f := range testFormats {
		c, err := ably.NewREST(append(fx.endpoint(f.binary), ably.WithAuthCallback(func(context.Context, ably.TokenParams) (ably.Tokener, error) {
			return ably.TokenString(bad), nil
		}))...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Stats().Pages(ctx)
		var ei *ably.ErrorInfo
		if !errors.As(err, &ei) || ei.Code != 40144 || ei.StatusCode != 401 {
			t.Errorf("%s: stats with a bad JWT: %v, want 40144/401", f.name, err)
		}
		// With good credentials the route is still not served.
		_, err = fx.restKey(t, f.binary, testKey).Stats().Pages(ctx)
		if !errors.As(err, &ei) || ei.Code != 40400 || ei.StatusCode != 404 {
			t.Errorf("%s: stats with a key: %v, want 40400/404", f.name, err)
		}
	}
}
