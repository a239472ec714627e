package ablylocal

import (
	"net/url"
	"testing"
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
	})
}
