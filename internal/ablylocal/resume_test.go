package ablylocal

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestRawResume(t *testing.T) {
	fx := startServer(t, nil)
	c1 := dialRaw(t, fx, url.Values{"key": {testKey}})
	m := c1.next()
	id, _ := m["connectionId"].(string)
	key, _ := m["connectionDetails"].(map[string]any)["connectionKey"].(string)
	if id == "" || key == "" {
		t.Fatalf("connected = %v", m)
	}
	c1.send(map[string]any{"action": actionMessage, "channel": "r", "msgSerial": 0, "messages": []any{map[string]any{"name": "own"}}})
	if m := c1.next(); action(m) != actionAck {
		t.Fatalf("ack = %v", m)
	}
	c1.send(map[string]any{"action": actionAttach, "channel": "r"})
	m = c1.next()
	serial, _ := m["channelSerial"].(string)
	if action(m) != actionAttached || !validSerial(serial) {
		t.Fatalf("attached = %v", m)
	}

	fx.srv.DropConnections()
	c1.expectClosed()
	rest := fx.restKey(t, false, testKey)
	for _, n := range []string{"x", "y"} {
		if err := rest.Channels.Get("r").Publish(testCtx(t), n, n); err != nil {
			t.Fatal(err)
		}
	}

	c2 := dialRaw(t, fx, url.Values{"key": {testKey}, "resume": {key}})
	m = c2.next()
	if action(m) != actionConnected || m["connectionId"] != id || m["error"] != nil {
		t.Fatalf("resume connected = %v, want same id %q without error", m, id)
	}
	// The un-ACKed publish is re-sent: ACKed again, not published twice.
	c2.send(map[string]any{"action": actionMessage, "channel": "r", "msgSerial": 0, "messages": []any{map[string]any{"name": "own"}}})
	if m := c2.next(); action(m) != actionAck || m["msgSerial"] != 0.0 {
		t.Fatalf("re-ack = %v", m)
	}
	c2.send(map[string]any{"action": actionAttach, "channel": "r", "channelSerial": serial, "flags": flagAttachResume})
	m = c2.next()
	if action(m) != actionAttached || int64(m["flags"].(float64))&flagResumed == 0 {
		t.Fatalf("re-attach = %v, want RESUMED", m)
	}
	for i, mm := range c2.nextMessages(2) {
		if want := []string{"x", "y"}[i]; mm["name"] != want {
			t.Fatalf("replay[%d] = %v, want %s", i, mm, want)
		}
	}
	items, err := rest.Channels.Get("r").History().Items(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for items.Next(testCtx(t)) && n < 10 {
		n++
	}
	if n != 3 {
		t.Errorf("history has %d messages, want 3 (no duplicate of the re-sent publish)", n)
	}

	tests := []struct {
		name   string
		resume string
		code   int
	}{
		{"unknown key", "AAAAAAAAAAAAAAAA!BBBBBBBBBBBB", 80008},
		{"malformed key", "garbage", 80018},
		{"malformed key, parts of the wrong lengths", "AAAAAAAAAAAAAAA!BBBBBBBBBBBB", 80018},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, fx, url.Values{"key": {testKey}, "resume": {tt.resume}})
			m := c.next()
			if code, status := errCode(m); action(m) != actionConnected || m["connectionId"] == id || code != tt.code || status != 400 {
				t.Errorf("failed resume = %v, want CONNECTED, new id, %d/400", m, tt.code)
			}
		})
	}
	t.Run("closed connection cannot resume", func(t *testing.T) {
		c2.send(map[string]any{"action": actionClose})
		for m := c2.next(); action(m) != actionClosed; m = c2.next() {
		}
		c2.expectClosed()
		c := dialRaw(t, fx, url.Values{"key": {testKey}, "resume": {key}})
		if m := c.next(); m["connectionId"] == id {
			t.Errorf("resumed a closed connection: %v", m)
		}
	})
	t.Run("other credentials cannot resume", func(t *testing.T) {
		c := dialRaw(t, fx, url.Values{"key": {testKey}})
		m := c.next()
		k := m["connectionDetails"].(map[string]any)["connectionKey"].(string)
		tok, _ := signTest(t, tokenSpec{clientID: "intruder"})
		other := dialRaw(t, fx, url.Values{"access_token": {tok}, "resume": {k}})
		if m2 := other.next(); m2["connectionId"] == m["connectionId"] {
			t.Errorf("resumed another client's connection")
		}
		// Nor another key, with the same (wildcard) clientId.
		sub := dialRaw(t, fx, url.Values{"key": {subKeyName + ":" + subSecret}, "resume": {k}})
		if m2 := sub.next(); m2["connectionId"] == m["connectionId"] {
			t.Errorf("another key resumed the connection")
		}
	})
}

// untilPong sends a HEARTBEAT with an id and returns the frames the server
// sent before its echo (it answers frames in order).
func (c *rawConn) untilPong() []map[string]any {
	c.t.Helper()
	c.send(map[string]any{"action": actionHeartbeat, "id": "pong"})
	var out []map[string]any
	for m := c.next(); action(m) != actionHeartbeat || m["id"] != "pong"; m = c.next() {
		out = append(out, m)
	}
	return out
}

// TestRawAttachReplay: an ATTACH replays messages (rewind, channelSerial)
// only to a credential that may subscribe, rewind only on a first attach
// (not with ATTACH_RESUME), and says RESUMED only when no message after
// the given serial was dropped.
func TestRawAttachReplay(t *testing.T) {
	const pubKeyName, pubSecret = "app.pub", "pubsecret"
	fx := startServer(t, func(c *Config) {
		c.Keys = append(c.Keys, Key{Name: pubKeyName, Secret: pubSecret, Capability: `{"*":["publish"]}`})
		c.MaxMessagesPerChannel = 3
	})
	rest := fx.restKey(t, false, testKey)
	publish := func(channel string, names ...string) {
		t.Helper()
		for _, n := range names {
			if err := rest.Channels.Get(channel).Publish(testCtx(t), n, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	// kept: one message then its serial, then three more (the first is
	// dropped: at most 3 are kept).
	publish("kept", "a")
	c := dialRaw(t, fx, url.Values{"key": {testKey}})
	c.next()
	c.send(map[string]any{"action": actionAttach, "channel": "kept"})
	m := c.next()
	afterA, _ := m["channelSerial"].(string)
	publish("kept", "b", "c")
	c.send(map[string]any{"action": actionDetach, "channel": "kept"})
	c.next()
	fresh := dialRaw(t, fx, url.Values{"key": {testKey}})
	fresh.next()
	fresh.send(map[string]any{"action": actionAttach, "channel": "kept", "channelSerial": afterA})
	if m := fresh.next(); action(m) != actionAttached || int64(m["flags"].(float64))&flagResumed == 0 {
		t.Fatalf("attach after a kept serial = %v, want RESUMED", m)
	}
	publish("kept", "d", "e")
	tests := []struct {
		name        string
		key         string
		attach      map[string]any
		wantResumed bool
		wantReplay  int
		wantCode    float64 // the ATTACHED's error code, 0 for none
	}{
		{name: "rewind", key: testKey, attach: map[string]any{"channel": "kept", "params": map[string]string{"rewind": "10"}}, wantReplay: 3},
		{name: "rewind with ATTACH_RESUME", key: testKey, attach: map[string]any{"channel": "kept", "params": map[string]string{"rewind": "10"}, "flags": flagAttachResume}},
		{name: "a serial after which a message was dropped: not RESUMED", key: testKey, attach: map[string]any{"channel": "kept", "channelSerial": afterA}, wantReplay: 3, wantCode: codeChannelNotResumed},
		{name: "rewind, publish-only", key: pubKeyName + ":" + pubSecret, attach: map[string]any{"channel": "kept", "params": map[string]string{"rewind": "10"}}},
		{name: "channelSerial, publish-only", key: pubKeyName + ":" + pubSecret, attach: map[string]any{"channel": "kept", "channelSerial": afterA}, wantCode: codeChannelNotResumed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, fx, url.Values{"key": {tc.key}})
			c.next()
			tc.attach["action"] = actionAttach
			c.send(tc.attach)
			m := c.next()
			if action(m) != actionAttached {
				t.Fatalf("attach = %v", m)
			}
			if resumed := int64(m["flags"].(float64))&flagResumed != 0; resumed != tc.wantResumed {
				t.Errorf("attached %v: RESUMED %v, want %v", m, resumed, tc.wantResumed)
			}
			e, _ := m["error"].(map[string]any)
			if code, _ := e["code"].(float64); code != tc.wantCode {
				t.Errorf("attached %v: error code %v, want %v", m, code, tc.wantCode)
			}
			n := 0
			for _, f := range c.untilPong() {
				if action(f) != actionMessage {
					t.Fatalf("got %v before the pong", f)
				}
				msgs, _ := f["messages"].([]any)
				n += len(msgs)
			}
			if n != tc.wantReplay {
				t.Errorf("%d messages replayed, want %d", n, tc.wantReplay)
			}
		})
	}
}

// TestRawAttachAfterResumeWindow: a re-attach with a channelSerial is
// replayed only the messages still within the resume window, as Ably's
// (about two minutes, far less than the history it persists): a serial
// followed by a message older than that is attached from the earliest
// message in the window, not RESUMED, with 90003 ("channel continuity not
// guaranteed"); the older message stays in the history. A local server
// that replayed all it retained hid, in the approver CLI, the missing
// catch-up from history after such an attach.
func TestRawAttachAfterResumeWindow(t *testing.T) {
	// c, published after b left the window, must still be in it at the
	// last subtest's attach, three connections and attaches later: the
	// window is what a loaded machine gets for them.
	const window = 2 * time.Second
	fx := startServer(t, func(c *Config) { c.ResumeWindow = window })
	rest := fx.restKey(t, false, testKey)
	publish := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if err := rest.Channels.Get("w").Publish(testCtx(t), n, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	serialNow := func() string {
		t.Helper()
		c := dialRaw(t, fx, url.Values{"key": {testKey}})
		c.next()
		c.send(map[string]any{"action": actionAttach, "channel": "w"})
		m := c.next()
		s, _ := m["channelSerial"].(string)
		if action(m) != actionAttached || !validSerial(s) {
			t.Fatalf("attached = %v", m)
		}
		return s
	}
	publish("a")
	afterA := serialNow()
	publish("b")
	old := time.Now()
	testutil.Eventually(t, 10*time.Second, "b older than the resume window", func() bool { return time.Since(old) > window+50*time.Millisecond })
	afterB := serialNow()
	publish("c")
	afterC := serialNow()
	for _, tc := range []struct {
		name       string
		serial     string
		wantReplay []string
		wantCode   float64
	}{
		{"after a: b is out of the window", afterA, []string{"c"}, codeChannelNotResumed},
		{"after b: all within the window", afterB, []string{"c"}, 0},
		{"after c: nothing missed", afterC, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, fx, url.Values{"key": {testKey}})
			c.next()
			c.send(map[string]any{"action": actionAttach, "channel": "w", "channelSerial": tc.serial})
			m := c.next()
			if action(m) != actionAttached {
				t.Fatalf("attach = %v", m)
			}
			if resumed := int64(m["flags"].(float64))&flagResumed != 0; resumed != (tc.wantCode == 0) {
				t.Errorf("attached %v: RESUMED %v, want %v", m, resumed, tc.wantCode == 0)
			}
			e, _ := m["error"].(map[string]any)
			if code, _ := e["code"].(float64); code != tc.wantCode || (code != 0 && e["statusCode"] != 404.0) {
				t.Errorf("attached %v: error %v, want code %v (404)", m, e, tc.wantCode)
			}
			var got []string
			for _, f := range c.untilPong() {
				msgs, _ := f["messages"].([]any)
				for _, mm := range msgs {
					name, _ := mm.(map[string]any)["name"].(string)
					got = append(got, name)
				}
			}
			if !slices.Equal(got, tc.wantReplay) {
				t.Errorf("replayed %v, want %v", got, tc.wantReplay)
			}
		})
	}
	items, err := rest.Channels.Get("w").History(ably.HistoryWithDirection(ably.Forwards)).Items(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for items.Next(testCtx(t)) && len(names) < 10 {
		names = append(names, items.Item().Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("history %v, want a, b, c (the window bounds the replay, not the history)", names)
	}
}

// TestRawAuthShortensExpiry: a client's AUTH with a token that expires
// sooner than the connection's holds the connection to the new expiry:
// DISCONNECTED 40142 then, not at the old token's.
func TestRawAuthShortensExpiry(t *testing.T) {
	fx := startServer(t, nil)
	long, _ := signTest(t, tokenSpec{clientID: "c", ttl: time.Hour})
	c := dialRaw(t, fx, url.Values{"access_token": {long}})
	if m := c.next(); action(m) != actionConnected {
		t.Fatalf("connected = %v", m)
	}
	short, _ := signTest(t, tokenSpec{clientID: "c", ttl: 3 * time.Second}) // shorter than the renewal lead: not renewed
	c.send(map[string]any{"action": actionAuth, "auth": map[string]any{"accessToken": short}})
	if m := c.next(); action(m) != actionConnected {
		t.Fatalf("after AUTH = %v, want CONNECTED", m)
	}
	m := c.next()
	if code, status := errCode(m); action(m) != actionDisconnected || code != codeTokenExpired || status != 401 {
		t.Fatalf("at the new token's expiry = %v, want DISCONNECTED 40142/401", m)
	}
}
