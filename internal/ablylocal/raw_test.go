package ablylocal

import (
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawConn is a bare WebSocket client speaking Ably's JSON protocol, for
// checks the SDKs hide.
type rawConn struct {
	t  testing.TB
	ws *websocket.Conn
}

func dialRaw(t testing.TB, fx *fixture, q url.Values) *rawConn {
	t.Helper()
	if q.Get("format") == "" {
		q.Set("format", "json")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+fx.srv.Addr()+"/?"+q.Encode(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	return &rawConn{t: t, ws: ws}
}

func (c *rawConn) send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(websocket.MessageText, b)
}

func (c *rawConn) sendRaw(typ websocket.MessageType, b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next returns the next non-heartbeat frame.
func (c *rawConn) next() map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Fatalf("frame %q: %v", b, err)
		}
		if m["action"] == float64(actionHeartbeat) && m["id"] == nil {
			continue
		}
		return m
	}
}

// nextMessages reads MESSAGE frames until n messages arrived and returns
// them in order.
func (c *rawConn) nextMessages(n int) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for len(out) < n {
		m := c.next()
		if action(m) != actionMessage {
			c.t.Fatalf("got %v, want MESSAGE", m)
		}
		msgs, _ := m["messages"].([]any)
		for _, x := range msgs {
			mm, _ := x.(map[string]any)
			out = append(out, mm)
		}
	}
	if len(out) != n {
		c.t.Fatalf("got %d messages, want %d", len(out), n)
	}
	return out
}

// closed reports whether the server closes the socket soon.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if _, _, err := c.ws.Read(ctx); err != nil {
			if ctx.Err() != nil {
				c.t.Fatal("socket not closed")
			}
			return
		}
	}
}

func errCode(m map[string]any) (code, status int) {
	e, _ := m["error"].(map[string]any)
	c, _ := e["code"].(float64)
	s, _ := e["statusCode"].(float64)
	return int(c), int(s)
}

func action(m map[string]any) int {
	a, _ := m["action"].(float64)
	return int(a)
}

func TestConnectAuthErrors(t *testing.T) {
	fx := startServer(t, nil)
	now := time.Now().Unix()
	good := map[string]any{"iat": now, "exp": now + 3600, "x-ably-clientId": "u"}
	hdr := map[string]any{"alg": "HS256", "typ": "JWT", "kid": testKeyName}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	hs384 := func(key, data []byte) []byte {
		m := hmac.New(sha512.New384, key)
		m.Write(data)
		return m.Sum(nil)
	}
	tests := []struct {
		name         string
		q            url.Values
		code, status int
	}{
		{"alg none", url.Values{"access_token": {rawJWT(with(hdr, "alg", "none"), good, testSecret, nil)}}, 40144, 401},
		{"alg HS384", url.Values{"access_token": {rawJWT(with(hdr, "alg", "HS384"), good, testSecret, hs384)}}, 40144, 401},
		{"alg HS384 header over an HS256 signature", url.Values{"access_token": {rawJWT(with(hdr, "alg", "HS384"), good, testSecret, hs256)}}, 40144, 401},
		{"alg none header over an HS256 signature", url.Values{"access_token": {rawJWT(with(hdr, "alg", "none"), good, testSecret, hs256)}}, 40144, 401},
		{"bad signature", url.Values{"access_token": {rawJWT(hdr, good, "wrong", hs256)}}, 40144, 401},
		{"unknown kid", url.Values{"access_token": {rawJWT(with(hdr, "kid", "app.nope"), good, testSecret, hs256)}}, 40144, 401},
		{"missing kid", url.Values{"access_token": {rawJWT(with(hdr, "kid", nil), good, testSecret, hs256)}}, 40144, 401},
		{"missing exp", url.Values{"access_token": {rawJWT(hdr, with(good, "exp", nil), testSecret, hs256)}}, 40144, 401},
		{"missing iat", url.Values{"access_token": {rawJWT(hdr, with(good, "iat", nil), testSecret, hs256)}}, 40144, 401},
		{"iat in future", url.Values{"access_token": {rawJWT(hdr, with(good, "iat", now+3600), testSecret, hs256)}}, 40144, 401},
		{"expired", url.Values{"access_token": {rawJWT(hdr, with(good, "exp", now-1), testSecret, hs256)}}, 40142, 401},
		{"bad capability", url.Values{"access_token": {rawJWT(hdr, with(good, "x-ably-capability", "{nope"), testSecret, hs256)}}, 40144, 401},
		{"capability not string", url.Values{"access_token": {rawJWT(hdr, with(good, "x-ably-capability", map[string]any{"*": []string{"*"}}), testSecret, hs256)}}, 40144, 401},
		{"not a jwt", url.Values{"access_token": {"abc"}}, 40144, 401},
		{"no credentials", url.Values{}, 40101, 401},
		{"wrong key secret", url.Values{"key": {testKeyName + ":nope"}}, 40101, 401},
		{"clientId mismatch", url.Values{"access_token": {rawJWT(hdr, good, testSecret, hs256)}, "clientId": {"other"}}, 40012, 400},
		{"bad format", url.Values{"key": {testKey}, "format": {"xml"}}, 40000, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, fx, tt.q)
			m := c.next()
			if action(m) != actionError {
				t.Fatalf("first frame = %v, want ERROR", m)
			}
			if code, status := errCode(m); code != tt.code || status != tt.status {
				t.Errorf("error = %d/%d, want %d/%d (%v)", code, status, tt.code, tt.status, m["error"])
			}
			c.expectClosed()
		})
	}
	t.Run("raw jwt accepted", func(t *testing.T) {
		c := dialRaw(t, fx, url.Values{"access_token": {rawJWT(hdr, good, testSecret, hs256)}})
		m := c.next()
		if action(m) != actionConnected {
			t.Fatalf("got %v", m)
		}
		d, _ := m["connectionDetails"].(map[string]any)
		if d["clientId"] != "u" || d["maxIdleInterval"] != 15000.0 || d["connectionStateTtl"] != 120000.0 || d["maxMessageSize"] != 65536.0 || d["connectionKey"] == "" {
			t.Errorf("connectionDetails = %v", d)
		}
	})
}

func TestRawProtocol(t *testing.T) {
	fx := startServer(t, nil)
	c := dialRaw(t, fx, url.Values{"key": {testKey}, "clientId": {"me"}})
	if m := c.next(); action(m) != actionConnected {
		t.Fatalf("got %v", m)
	}
	// ping with id is echoed
	c.send(map[string]any{"action": actionHeartbeat, "id": "ping1"})
	if m := c.next(); action(m) != actionHeartbeat || m["id"] != "ping1" {
		t.Errorf("heartbeat echo = %v", m)
	}
	// publish without attach, two messages in one ProtocolMessage: one ACK, count 1
	c.send(map[string]any{"action": actionMessage, "channel": "raw", "msgSerial": 0, "messages": []any{
		map[string]any{"name": "a", "data": "1"}, map[string]any{"name": "b", "data": "2"},
	}})
	m := c.next()
	if action(m) != actionAck || m["count"] != 1.0 || m["msgSerial"] != 0.0 {
		t.Fatalf("ack = %v", m)
	}
	res, _ := m["res"].([]any)
	if len(res) != 1 || len(res[0].(map[string]any)["serials"].([]any)) != 2 {
		t.Errorf("res = %v", m["res"])
	}
	// the same msgSerial again on the same socket is neither published nor
	// ACKed twice (the next frame answers msgSerial 1)
	c.send(map[string]any{"action": actionMessage, "channel": "raw", "msgSerial": 0, "messages": []any{map[string]any{"name": "a"}}})
	// foreign clientId is NACKed 40012
	c.send(map[string]any{"action": actionMessage, "channel": "raw", "msgSerial": 1, "messages": []any{map[string]any{"clientId": "you"}}})
	m = c.next()
	if code, _ := errCode(m); action(m) != actionNack || code != 40012 || m["count"] != 1.0 || m["msgSerial"] != 1.0 {
		t.Errorf("nack = %v", m)
	}
	// oversized message is NACKed 40009
	big := make([]byte, 70000)
	for i := range big {
		big[i] = 'x'
	}
	c.send(map[string]any{"action": actionMessage, "channel": "raw", "msgSerial": 2, "messages": []any{map[string]any{"data": string(big)}}})
	if code, _ := errCode(c.next()); code != 40009 {
		t.Errorf("oversized code = %d", code)
	}
	// presence is NACKed, not ignored
	c.send(map[string]any{"action": actionPresence, "channel": "raw", "msgSerial": 3, "presence": []any{}})
	if m := c.next(); action(m) != actionNack {
		t.Errorf("presence = %v", m)
	}
	// attach, rewind replays exactly the two stored messages
	c.send(map[string]any{"action": actionAttach, "channel": "raw", "params": map[string]any{"rewind": "5"}})
	m = c.next()
	if action(m) != actionAttached || int64(m["flags"].(float64))&flagHasBacklog == 0 || m["channelSerial"] == "" {
		t.Fatalf("attached = %v", m)
	}
	if p, _ := m["params"].(map[string]any); p["rewind"] != "5" {
		t.Errorf("params = %v", m["params"])
	}
	for i, mm := range c.nextMessages(2) {
		if want := []string{"a", "b"}[i]; mm["name"] != want {
			t.Fatalf("replay[%d] = %v, want %s", i, mm, want)
		}
		if mm["clientId"] != "me" || mm["serial"] == "" {
			t.Errorf("stamps = %v", mm)
		}
	}
	c.send(map[string]any{"action": actionDetach, "channel": "raw"})
	if m := c.next(); action(m) != actionDetached || m["channel"] != "raw" {
		t.Errorf("detach = %v", m)
	}
	// a malformed frame is a fatal 40000, never a panic
	c.sendRaw(websocket.MessageText, []byte(`{"action":`))
	m = c.next()
	if code, _ := errCode(m); action(m) != actionError || code != 40000 {
		t.Errorf("malformed = %v", m)
	}
	c.expectClosed()

	c2 := dialRaw(t, fx, url.Values{"key": {testKey}})
	c2.next()
	c2.send(map[string]any{"action": 99})
	if m := c2.next(); action(m) != actionError {
		t.Errorf("unknown action = %v", m)
	}
	c3 := dialRaw(t, fx, url.Values{"key": {testKey}})
	c3.next()
	c3.send(map[string]any{"action": actionClose})
	if m := c3.next(); action(m) != actionClosed {
		t.Errorf("close = %v", m)
	}
	c3.expectClosed()
}

// Qualifier variants of one name are separate attachments; a connection
// holds at most maxAttachmentsPerConnection of them.
func TestAttachmentsPerConnectionBounded(t *testing.T) {
	fx := startServer(t, nil)
	c := dialRaw(t, fx, url.Values{"key": {testKey}})
	if a := action(c.next()); a != actionConnected {
		t.Fatalf("first frame action %d", a)
	}
	for i := 0; i < maxAttachmentsPerConnection; i++ {
		c.send(map[string]any{"action": actionAttach, "channel": fmt.Sprintf("[?x=%d]many", i)})
		if m := c.next(); action(m) != actionAttached {
			t.Fatalf("attach %d: %v", i, m)
		}
	}
	c.send(map[string]any{"action": actionAttach, "channel": "[?x=over]many"})
	m := c.next()
	if code, _ := errCode(m); action(m) != actionError || m["channel"] != "[?x=over]many" || code != 40000 {
		t.Fatalf("attach past the bound: %v, want a channel ERROR 40000", m)
	}
	// The connection stays up: re-attaching a held name still works.
	c.send(map[string]any{"action": actionAttach, "channel": "[?x=0]many"})
	if m := c.next(); action(m) != actionAttached {
		t.Fatalf("re-attach: %v", m)
	}
}
