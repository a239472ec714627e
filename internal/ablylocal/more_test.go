package ablylocal

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/coder/websocket"
	"github.com/hitl/durable-approvals/internal/testutil"
)

func TestSubscribeModeRequired(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	c := fx.realtimeKey(t, true, testKey)
	pubOnly := c.Channels.Get("modes", ably.ChannelWithModes(ably.ChannelModePublish))
	var mu sync.Mutex
	var got []string
	if _, err := pubOnly.SubscribeAll(ctx, func(m *ably.Message) {
		mu.Lock()
		got = append(got, m.Name)
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	watch := subscribe(t, fx.realtimeKey(t, true, testKey).Channels.Get("modes"))
	if err := pubOnly.Publish(ctx, "one", "x"); err != nil {
		t.Fatal(err)
	}
	recv(t, watch)
	// The same client attaches a second, subscribing channel as a fence:
	// frames reach a client in order, so the fence arriving proves the
	// publish-only attachment got nothing.
	fence := subscribe(t, c.Channels.Get("modes-fence"))
	if err := c.Channels.Get("modes-fence").Publish(ctx, "fence", "x"); err != nil {
		t.Fatal(err)
	}
	recv(t, fence)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 0 {
		t.Errorf("publish-only attachment received %v", got)
	}
}

func TestHeartbeatsAndMsgpackErrors(t *testing.T) {
	fx := startServer(t, func(c *Config) { c.HeartbeatInterval = 20 * time.Millisecond })
	ctx := testCtx(t)
	ws, _, err := websocket.Dial(ctx, "ws://"+fx.srv.Addr()+"/?format=msgpack&key="+url.QueryEscape(testKey), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	codecs := newCodecs()
	read := func() *protocolMessage {
		t.Helper()
		typ, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if typ != websocket.MessageBinary {
			t.Fatalf("msgpack connection got a %v frame", typ)
		}
		pm, err := codecs.decodeFrame(formatMsgpack, b)
		if err != nil {
			t.Fatal(err)
		}
		return pm
	}
	if pm := read(); pm.Action != actionConnected {
		t.Fatalf("got %+v", pm)
	}
	if pm := read(); pm.Action != actionHeartbeat {
		t.Fatalf("idle connection got %+v, want HEARTBEAT", pm)
	}
	// Binary data stays binary for msgpack clients.
	b, _ := codecs.encodeFrame(formatMsgpack, &protocolMessage{Action: actionAttach, Channel: "bin"})
	_ = ws.Write(ctx, websocket.MessageBinary, b)
	b, _ = codecs.encodeFrame(formatMsgpack, &protocolMessage{Action: actionMessage, Channel: "bin", Messages: []*message{{Data: []byte{9, 8}}}})
	_ = ws.Write(ctx, websocket.MessageBinary, b)
	var sawData, sawAck bool
	for i := 0; i < 10 && !(sawData && sawAck); i++ {
		pm := read()
		switch pm.Action {
		case actionAck:
			sawAck = true
		case actionMessage:
			d, ok := pm.Messages[0].Data.([]byte)
			if !ok || !bytes.Equal(d, []byte{9, 8}) || pm.Messages[0].Encoding != "" {
				t.Errorf("msgpack binary came back as %#v %q", pm.Messages[0].Data, pm.Messages[0].Encoding)
			}
			sawData = true
		}
	}
	if !sawData || !sawAck {
		t.Fatalf("data %v ack %v", sawData, sawAck)
	}
	// Malformed msgpack is a fatal 40000.
	_ = ws.Write(ctx, websocket.MessageBinary, []byte{0xc1, 0xff})
	for i := 0; i < 10; i++ {
		pm := read()
		if pm.Action == actionHeartbeat {
			continue
		}
		if pm.Action != actionError || pm.Error == nil || pm.Error.Code != 40000 {
			t.Fatalf("malformed msgpack got %+v", pm)
		}
		break
	}
}

func TestLiveAuthChanges(t *testing.T) {
	fx := startServer(t, nil)
	tok, _ := signTest(t, tokenSpec{clientID: "a", capability: `{"x":["subscribe"],"y":["subscribe"]}`})
	c := dialRaw(t, fx, url.Values{"access_token": {tok}})
	id := c.next()["connectionId"]
	for _, ch := range []string{"x", "y"} {
		c.send(map[string]any{"action": actionAttach, "channel": ch})
		if m := c.next(); action(m) != actionAttached {
			t.Fatalf("attach %s: %v", ch, m)
		}
	}
	// New token with less capability: "y" is refused, same connection id.
	tok2, _ := signTest(t, tokenSpec{clientID: "a", capability: `{"x":["subscribe"]}`})
	c.send(map[string]any{"action": actionAuth, "auth": map[string]any{"accessToken": tok2}})
	var sawErr, sawConnected bool
	for i := 0; i < 4 && !(sawErr && sawConnected); i++ {
		m := c.next()
		switch action(m) {
		case actionError:
			if code, _ := errCode(m); m["channel"] != "y" || code != 40160 {
				t.Errorf("capability loss = %v", m)
			}
			sawErr = true
		case actionConnected:
			if m["connectionId"] != id {
				t.Errorf("AUTH changed connection id")
			}
			sawConnected = true
		}
	}
	if !sawErr || !sawConnected {
		t.Fatalf("error %v connected %v", sawErr, sawConnected)
	}
	// A token for another clientId is refused with 40102.
	tok3, _ := signTest(t, tokenSpec{clientID: "b"})
	c.send(map[string]any{"action": actionAuth, "auth": map[string]any{"accessToken": tok3}})
	m := c.next()
	if code, _ := errCode(m); action(m) != actionError || code != 40102 {
		t.Errorf("clientId change = %v", m)
	}
	c.expectClosed()
}

func TestConnectionStateTTL(t *testing.T) {
	fx := startServer(t, func(c *Config) { c.ConnectionStateTTL = 50 * time.Millisecond })
	c := dialRaw(t, fx, url.Values{"key": {testKey}})
	key := c.next()["connectionKey"].(string)
	fx.srv.DropConnections()
	c.expectClosed()
	// The server starts the TTL when it has torn the socket down, after
	// the client sees it close: wait for that (a connection swept away
	// has expired already), then well past the TTL.
	testutil.Eventually(t, 10*time.Second, "the server to note the drop", func() bool {
		fx.srv.mu.Lock()
		cs := fx.srv.conns[key]
		fx.srv.mu.Unlock()
		if cs == nil {
			return true
		}
		cs.mu.Lock()
		defer cs.mu.Unlock()
		return cs.t == nil && !cs.disconnectedAt.IsZero()
	})
	dropped := time.Now()
	testutil.Eventually(t, 5*time.Second, "TTL to pass", func() bool { return time.Since(dropped) > 500*time.Millisecond })
	c2 := dialRaw(t, fx, url.Values{"key": {testKey}, "resume": {key}})
	if code, _ := errCode(c2.next()); code != 80008 {
		t.Errorf("resume after TTL: code %d, want 80008", code)
	}
}

func TestRetentionPruning(t *testing.T) {
	ch := &channel{ids: map[string]idRecord{}}
	now := int64(10_000_000)
	for i := int64(1); i <= 10; i++ {
		ch.msgs = append(ch.msgs, storedMessage{serial: formatSerial(1, i), msg: &message{Timestamp: now - (10-i)*1000}})
	}
	ch.ids["old"] = idRecord{at: now - idempotencyWindowMillis - 1}
	ch.ids["new"] = idRecord{at: now}
	ch.pruneLocked(now, 5500*time.Millisecond, 100)
	if len(ch.msgs) != 6 || ch.pruned != formatSerial(1, 4) {
		t.Errorf("after retention: %d messages, pruned %q", len(ch.msgs), ch.pruned)
	}
	ch.pruneLocked(now, time.Hour, 2)
	if len(ch.msgs) != 2 || ch.msgs[0].serial != formatSerial(1, 9) {
		t.Errorf("after cap: %d messages", len(ch.msgs))
	}
	if _, ok := ch.ids["old"]; ok || len(ch.ids) != 1 {
		t.Errorf("idempotency ids = %v", ch.ids)
	}
}

func TestFromSerialAndMessagesLinks(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	rest := fx.restKey(t, false, testKey)
	res, err := rest.Channels.Get("fs").PublishMultipleWithResult(ctx, []*ably.Message{{Name: "1"}, {Name: "2"}, {Name: "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[1].Serial == nil {
		t.Fatalf("publish result = %v", res)
	}
	get := func(path string) (*http.Response, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+fx.srv.Addr()+path, nil)
		req.Header.Set("Authorization", "Basic "+b64(testKey))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.String()
	}
	resp, body := get("/channels/fs/messages?limit=1&from_serial=" + url.QueryEscape(*res[1].Serial))
	if !strings.Contains(body, `"name":"2"`) || strings.Contains(body, `"name":"3"`) {
		t.Errorf("from_serial page = %s", body)
	}
	links := resp.Header.Values("Link")
	if len(links) != 2 || !strings.HasPrefix(links[0], "<./messages?") || !strings.HasSuffix(links[1], `rel="next"`) || strings.Contains(links[1], ",") {
		t.Fatalf("links = %q", links)
	}
	next := strings.TrimSuffix(strings.TrimPrefix(links[1], "<."), `>; rel="next"`)
	if _, body := get("/channels/fs" + next); !strings.Contains(body, `"name":"1"`) || strings.Contains(body, `"name":"2"`) {
		t.Errorf("next page = %s", body)
	}
}

func TestExposed(t *testing.T) {
	for listen, want := range map[string]bool{
		"127.0.0.1:8090": false, "localhost:8090": false, "[::1]:8090": false, "127.0.0.2:1": false,
		"0.0.0.0:8090": true, ":8090": true, "[::]:8090": true, "192.0.2.1:8090": true, "garbage": true,
	} {
		if got := exposed(listen); got != want {
			t.Errorf("exposed(%q) = %v, want %v", listen, got, want)
		}
	}
}

// noEnv is an environment with nothing set.
func noEnv(string) string { return "" }

func TestRunCommand(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"no key", []string{"-listen", "127.0.0.1:0"}, false},
		{"bad key", []string{"-key", "nope"}, false},
		{"bad capability", []string{"-key", `a.b:s={"x":1}`}, false},
		{"extra args", []string{"-key", testKey, "more"}, false},
		{"unknown flag", []string{"-nope"}, false},
		{"bad retention", []string{"-key", testKey, "-retention", "0s"}, false},
		{"resume window 0", []string{"-key", testKey, "-resume-window", "0s"}, false},
		{"resume window past retention", []string{"-key", testKey, "-retention", "1m", "-resume-window", "2m"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := RunCommand(testCtx(t), tt.args, noEnv, &buf)
			if err == nil {
				t.Fatalf("RunCommand(%q) succeeded", tt.args)
			}
			// One error line, printed by the caller: nothing on stderr.
			if !strings.HasPrefix(err.Error(), "ably: ") || buf.Len() != 0 {
				t.Errorf("RunCommand(%q) = %v, printed %q; want one error naming the command, nothing printed", tt.args, err, buf.String())
			}
		})
	}
	t.Run("-h prints the usage", func(t *testing.T) {
		var buf bytes.Buffer
		if err := RunCommand(testCtx(t), []string{"-h"}, noEnv, &buf); !errors.Is(err, flag.ErrHelp) || !strings.Contains(buf.String(), "usage: devstack ably") || !strings.Contains(buf.String(), "-retention") {
			t.Errorf("-h: err %v, printed %q", err, buf.String())
		}
	})
	t.Run("serves until cancelled", func(t *testing.T) {
		log, stop := serveCommand(t, []string{"-listen", "127.0.0.1:0", "-key", testKey, "-key", `app.ro:x={"*":["subscribe"]}`}, noEnv)
		stop()
		if !strings.Contains(log.String(), "retention=24h0m0s resumeWindow=2m0s") {
			t.Errorf("the defaults are not Ably's: %s", log.String())
		}
	})
	t.Run("-resume-window", func(t *testing.T) {
		log, stop := serveCommand(t, []string{"-listen", "127.0.0.1:0", "-key", testKey, "-retention", "1m", "-resume-window", "10s"}, noEnv)
		stop()
		if !strings.Contains(log.String(), "retention=1m0s resumeWindow=10s") {
			t.Errorf("the flags did not reach the server's configuration: %s", log.String())
		}
	})
}

// serveCommand runs RunCommand with args and getenv until its log says the
// server is ready, and returns that log and a stop that cancels it and
// checks that it returned nil.
func serveCommand(t *testing.T, args []string, getenv func(string) string) (*testutil.SyncBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var buf testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- RunCommand(ctx, args, getenv, &buf) }()
	testutil.Eventually(t, 5*time.Second, "listening log", func() bool { return strings.Contains(buf.String(), "local Ably server ready") })
	return &buf, func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("RunCommand returned %v on cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("RunCommand did not return")
		}
	}
}

// A -key the command refuses is named without its secret, and a -listen
// port out of range is bad input (a *UsageError), found before listening.
func TestRunCommandRefusals(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"key without a key id", []string{"-key", "app:SECRET"}, `-key "app:xxxxx": ably key: want appId.keyId:secret`},
		{"key with a bad capability", []string{"-key", `a.b:SECRET={"x":1}`}, `-key "a.b:xxxxx": ably key a.b: capability`},
		{"key with an empty secret", []string{"-key", "a.b:"}, `-key "a.b:xxxxx": ably key: empty secret`},
		{"key without a colon", []string{"-key", "SECRET"}, `-key (not shown: it has no ':'): ably key: want appId.keyId:secret`},
		{"listen port out of range", []string{"-key", testKey, "-listen", "127.0.0.1:99999"}, `-listen "127.0.0.1:99999": want host:port`},
		{"listen without a port", []string{"-key", testKey, "-listen", "127.0.0.1"}, `-listen "127.0.0.1": want host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := RunCommand(testCtx(t), tt.args, noEnv, &buf)
			var usage *UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("RunCommand(%q) = %v, want a *UsageError containing %q", tt.args, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "SECRET") || strings.Contains(buf.String(), "SECRET") {
				t.Errorf("RunCommand(%q) = %v, printed %q: the secret shows", tt.args, err, buf.String())
			}
		})
	}
}

// TestChannelHistoryBounds: REST history's start and end (ms) and its
// fromSerial bound are inclusive, in both directions, and rewind is capped
// at the newest defaultRewindCap messages, saying so only when it cut.
func TestChannelHistoryBounds(t *testing.T) {
	ch := &channel{name: "h"}
	for i := range 5 { // serials 1 to 5, timestamps 1000 to 5000
		serial := formatSerial(1, int64(i+1))
		ch.msgs = append(ch.msgs, storedMessage{serial: serial, msg: &message{ID: strconv.Itoa(i + 1), Timestamp: int64(i+1) * 1000, Serial: serial}})
	}
	tests := []struct {
		name string
		q    historyQuery
		want string // ids in order
	}{
		{name: "start and end one message apart, backwards", q: historyQuery{start: 2000, end: 3000}, want: "3 2"},
		{name: "start and end one message apart, forwards", q: historyQuery{start: 2000, end: 3000, forwards: true}, want: "2 3"},
		{name: "start is end", q: historyQuery{start: 4000, end: 4000}, want: "4"},
		{name: "fromSerial, backwards", q: historyQuery{until: formatSerial(1, 3)}, want: "3 2 1"},
		{name: "fromSerial, forwards", q: historyQuery{until: formatSerial(1, 3), forwards: true}, want: "1 2 3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.limit = maxHistoryLimit
			page, more := ch.history(tc.q)
			var got []string
			for _, m := range page {
				got = append(got, m.ID)
			}
			if strings.Join(got, " ") != tc.want || more {
				t.Errorf("history(%+v) = %q (more %v), want %q", tc.q, got, more, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		n, count, want int
		truncated      bool
	}{
		{n: defaultRewindCap, count: defaultRewindCap, want: defaultRewindCap},
		{n: defaultRewindCap + 1, count: defaultRewindCap + 1, want: defaultRewindCap, truncated: true},
		{n: defaultRewindCap + 1, count: defaultRewindCap, want: defaultRewindCap},
	} {
		long := &channel{name: "r"}
		for i := range tc.n {
			long.msgs = append(long.msgs, storedMessage{serial: formatSerial(1, int64(i+1)), msg: &message{}})
		}
		got, truncated := long.backlogLocked(rewindSpec{count: tc.count}, 0, defaultRewindCap)
		if len(got) != tc.want || truncated != tc.truncated || got[len(got)-1].serial != formatSerial(1, int64(tc.n)) {
			t.Errorf("rewind=%d of %d messages: %d, truncated %v; want the newest %d, truncated %v", tc.count, tc.n, len(got), truncated, tc.want, tc.truncated)
		}
	}
}

// TestIdempotencyWindow: a client-supplied message id published again
// within idempotencyWindowMillis (2 minutes, its end included) is the
// first message, not a new one; after it, it is a new message.
func TestIdempotencyWindow(t *testing.T) {
	fx := startServer(t, nil)
	s := fx.srv
	const at = int64(1_800_000_000_000)
	for _, tc := range []struct {
		after int64 // ms after the first publish
		dup   bool
	}{
		{after: 1, dup: true},
		{after: idempotencyWindowMillis, dup: true},
		{after: idempotencyWindowMillis + 1},
	} {
		ch := &channel{name: "idem", ids: map[string]idRecord{}, subs: map[*attachment]struct{}{}}
		pub := publisher{p: &principal{clientID: "*", grant: grant{allRights()}}, idBase: "b"}
		first := s.store(ch, pub, []*message{{ID: "id-1", Timestamp: at}}, []bool{true}, at)
		again := s.store(ch, pub, []*message{{ID: "id-1", Timestamp: at + tc.after}}, []bool{true}, at+tc.after)
		if dup := again[0] == first[0]; dup != tc.dup || len(ch.msgs) != map[bool]int{true: 1, false: 2}[tc.dup] {
			t.Errorf("id published again %d ms later: serial %s after %s, %d stored; want a duplicate %v", tc.after, again[0], first[0], len(ch.msgs), tc.dup)
		}
	}
}

// Without -key the server takes ABLY_API_KEY's key, so that its secret
// need not be on the command line, where the process list shows it to
// every user of the machine; a refused one is named without its secret.
func TestRunCommandKeyFromEnvironment(t *testing.T) {
	env := map[string]string{envAPIKey: "SECRET"}
	var refused bytes.Buffer
	err := RunCommand(testCtx(t), []string{"-listen", "127.0.0.1:0"}, func(k string) string { return env[k] }, &refused)
	var usage *UsageError
	if !errors.As(err, &usage) || !strings.Contains(err.Error(), "ABLY_API_KEY (not shown") || strings.Contains(err.Error()+refused.String(), "SECRET") {
		t.Fatalf("ABLY_API_KEY without a ':': err = %v, want a *UsageError naming ABLY_API_KEY without its value", err)
	}

	env[envAPIKey] = testKey
	buf, stop := serveCommand(t, []string{"-listen", "127.0.0.1:0"}, func(k string) string { return env[k] })
	name, secret, _ := strings.Cut(testKey, ":")
	if !strings.Contains(buf.String(), "keys="+name) {
		t.Errorf("the log does not name the key %s from ABLY_API_KEY:\n%s", name, buf.String())
	}
	if strings.Contains(buf.String(), secret) {
		t.Errorf("the log shows the key's secret:\n%s", buf.String())
	}
	stop()
}
