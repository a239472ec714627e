package ablylocal

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/ably/ably-go/ably"
)

// deltaPoisons are messages that only Ably may send: a delta reference in
// extras, or data in the vcdiff encoding. ably-js re-attaches for ever on
// the first (40018, resuming from before it, and the message comes again)
// and fails the channel on the second (40019).
func deltaPoisons() map[string]*ably.Message {
	return map[string]*ably.Message{
		"extras.delta":          {Name: "poison", Data: "x", Extras: map[string]any{"delta": map[string]any{"from": "nope", "format": "vcdiff"}}},
		"extras.delta null":     {Name: "poison", Data: "x", Extras: map[string]any{"delta": nil, "headers": map[string]any{"toolCallId": "call_1"}}},
		"vcdiff encoding":       {Name: "poison2", Data: "AAAA", Encoding: "vcdiff"},
		"vcdiff under base64":   {Name: "poison2", Data: []byte{0xd6, 0xc3, 0xc4, 0}, Encoding: "vcdiff"},
		"vcdiff in upper case":  {Name: "poison2", Data: "AAAA", Encoding: "utf-8/VCDIFF"},
		"vcdiff with a +suffix": {Name: "poison2", Data: "AAAA", Encoding: "json/vcdiff+x"},
	}
}

// Deny by default: the local server makes no deltas, so a published
// message may not carry extras.delta (40032, "impermissible extras field")
// or a vcdiff encoding step (40013, "invalid message data or encoding"),
// over REST and realtime, JSON and msgpack. Nothing is stored or
// delivered, and the connection stays up.
func TestClientDeltaFieldsRefused(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			live := subscribe(t, fx.realtimeKey(t, f.binary, testKey).Channels.Get("deltas"))
			rt := fx.realtimeKey(t, f.binary, testKey)
			rest := fx.restKey(t, f.binary, testKey)
			publish := map[string]func(m *ably.Message) error{
				"rest": func(m *ably.Message) error {
					return rest.Channels.Get("deltas").PublishMultiple(ctx, []*ably.Message{m})
				},
				"realtime": func(m *ably.Message) error { return rt.Channels.Get("deltas").PublishMultiple(ctx, []*ably.Message{m}) },
			}
			for name := range deltaPoisons() {
				for via, pub := range publish {
					m := deltaPoisons()[name]
					want := codeInvalidMessageEncoding
					if m.Extras != nil {
						want = codeImpermissibleExtras
					}
					err := pub(m)
					var ei *ably.ErrorInfo
					if !errors.As(err, &ei) || int(ei.Code) != want || ei.StatusCode != 400 {
						t.Errorf("%s over %s: %v, want %d/400", name, via, err, want)
					}
				}
			}
			if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
				t.Errorf("after the refusals the connection is %v", s)
			}
			// Everything else about extras and encodings is as before:
			// headers pass, a client's userClaim goes, binary data is
			// base64 for JSON clients, JSON data is json.
			fine := []*ably.Message{
				{Name: "headers", Data: "h", Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_1"}, "userClaim": "admin"}},
				{Name: "binary", Data: []byte{1, 2, 3}},
				{Name: "json", Data: map[string]any{"a": 1}},
			}
			if err := rest.Channels.Get("deltas").PublishMultiple(ctx, fine); err != nil {
				t.Fatal(err)
			}
			got := map[string]*ably.Message{}
			for len(got) < len(fine) {
				m := recv(t, live)
				if m.Name == "poison" || m.Name == "poison2" {
					t.Errorf("a refused message was delivered: %+v", m)
					continue
				}
				got[m.Name] = m
			}
			if h := got["headers"]; h.Extras["userClaim"] != nil || h.Extras["headers"] == nil {
				t.Errorf("headers message: %+v, want its headers and no userClaim", h)
			}
			// ably-go's REST sends binary data as base64 in either
			// format, and its subscribers get the data as it came.
			if b := got["binary"]; b.Data != "AQID" || b.Encoding != "base64" {
				t.Errorf("binary message: data %#v, encoding %q; want AQID, base64", b.Data, b.Encoding)
			}
			if j := got["json"]; j.Encoding != "json" || dataMap(t, j)["a"] != float64(1) {
				t.Errorf("json message: data %#v, encoding %q", j.Data, j.Encoding)
			}
			expectNone(t, live)
			items, err := rest.Channels.Get("deltas").History().Items(ctx)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for items.Next(ctx) {
				if nm := items.Item().Name; nm == "poison" || nm == "poison2" {
					t.Errorf("a refused message is in the history: %+v", items.Item())
				}
				n++
			}
			if n != len(fine) {
				t.Errorf("history has %d messages, want %d", n, len(fine))
			}
		})
	}
}

// The refusal is on the wire as Ably's: a NACK with the error on a raw
// realtime connection, and an HTTP 400 with X-Ably-Errorcode over REST.
func TestClientDeltaFieldsRefusedOnTheWire(t *testing.T) {
	fx := startServer(t, nil)
	raw := dialRaw(t, fx, url.Values{"key": {testKey}})
	raw.next() // CONNECTED
	frames := []map[string]any{
		{"name": "poison", "data": "x", "extras": map[string]any{"delta": map[string]any{"from": "nope", "format": "vcdiff"}}},
		{"name": "poison2", "data": "AAAA", "encoding": "vcdiff"},
	}
	for i, m := range frames {
		raw.send(map[string]any{"action": actionMessage, "channel": "deltas", "msgSerial": i, "messages": []any{m}})
		got := raw.next()
		code, status := errCode(got)
		if action(got) != actionNack || status != 400 || (code != codeImpermissibleExtras && code != codeInvalidMessageEncoding) {
			t.Errorf("%v: %v, want a NACK 40032 or 40013, 400", m, got)
		}
	}
	bodies := map[string]string{
		`{"name":"poison","data":"x","extras":{"delta":{"from":"nope","format":"vcdiff"}}}`: "40032",
		`[{"name":"poison2","data":"AAAA","encoding":"vcdiff"}]`:                            "40013",
	}
	for body, want := range bodies {
		req, err := http.NewRequestWithContext(testCtx(t), http.MethodPost, "http://"+fx.srv.Addr()+"/channels/deltas/messages", bytes.NewBufferString(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+mustSign(t))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.Header.Get("X-Ably-Errorcode") != want {
			t.Errorf("POST %s: %d %s (%s), want 400 %s", body, resp.StatusCode, resp.Header.Get("X-Ably-Errorcode"), b, want)
		}
	}
}

// Config.PassClientDeltaFields lets such messages through untouched, as
// Ably might: the web inbox's browser test uses it to check the page
// survives them.
func TestPassClientDeltaFields(t *testing.T) {
	fx := startServer(t, func(c *Config) { c.PassClientDeltaFields = true })
	ctx := testCtx(t)
	raw := dialRaw(t, fx, url.Values{"key": {testKey}})
	raw.next() // CONNECTED
	raw.send(map[string]any{"action": actionAttach, "channel": "deltas"})
	if got := raw.next(); action(got) != actionAttached {
		t.Fatalf("attach: %v", got)
	}
	rest := fx.restKey(t, false, testKey)
	for _, m := range []*ably.Message{
		{Name: "poison", Data: "x", Extras: map[string]any{"delta": map[string]any{"from": "nope", "format": "vcdiff"}}},
		{Name: "poison2", Data: "AAAA", Encoding: "vcdiff"},
	} {
		if err := rest.Channels.Get("deltas").PublishMultiple(ctx, []*ably.Message{m}); err != nil {
			t.Fatalf("%s with the knob on: %v", m.Name, err)
		}
	}
	got := raw.nextMessages(2)
	if d, _ := got[0]["extras"].(map[string]any); d == nil || d["delta"] == nil {
		t.Errorf("poison delivered as %v, want its extras.delta", got[0])
	}
	if got[1]["encoding"] != "vcdiff" || got[1]["data"] != "AAAA" {
		t.Errorf("poison2 delivered as %v, want encoding vcdiff, data AAAA", got[1])
	}
}
