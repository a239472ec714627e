package ablylocal

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
)

func TestRESTPublishHistory(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			rest := fx.restJWT(t, f.binary, tokenSpec{
				clientID: "carol",
				claims:   map[string]any{"ably.channel.hist": "publisher"},
			})
			live := subscribe(t, fx.realtimeKey(t, f.binary, testKey).Channels.Get("hist"))
			ch := rest.Channels.Get("hist")
			err := ch.PublishMultiple(ctx, []*ably.Message{
				{Name: "a", Data: map[string]any{"n": 1.0}, Extras: map[string]any{"userClaim": "forged", "headers": map[string]any{"toolCallId": "t1"}}},
				{Name: "b", Data: "text"},
			})
			if err != nil {
				t.Fatalf("REST publish: %v", err)
			}
			m := recv(t, live)
			if m.Extras["userClaim"] != "publisher" || m.ClientID != "carol" {
				t.Errorf("REST publish delivered userClaim %#v clientId %q", m.Extras["userClaim"], m.ClientID)
			}
			recv(t, live)
			pages, err := ch.History().Pages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !pages.Next(ctx) {
				t.Fatalf("no history page: %v", pages.Err())
			}
			items := pages.Items()
			if len(items) != 2 || items[0].Name != "b" || items[1].Name != "a" {
				t.Fatalf("history = %v", items)
			}
			if items[0].Data != "text" {
				t.Errorf("history data = %#v", items[0].Data)
			}
			// ably-go REST sends maps as a JSON string with encoding json;
			// the server returns it verbatim.
			if d := dataMap(t, items[1]); d["n"] != 1.0 {
				t.Errorf("history map data = %#v", items[1].Data)
			}
			if items[1].Extras["userClaim"] != "publisher" {
				t.Errorf("history userClaim = %#v", items[1].Extras["userClaim"])
			}
		})
	}
}

func TestHistoryPaginationAndUntilAttach(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			rest := fx.restKey(t, f.binary, testKey)
			ch := rest.Channels.Get("pages")
			for i := 0; i < 5; i++ {
				if err := ch.Publish(ctx, "m", string(rune('a'+i))); err != nil {
					t.Fatal(err)
				}
			}
			rt := fx.realtimeKey(t, f.binary, testKey)
			rch := rt.Channels.Get("pages")
			if err := rch.Attach(ctx); err != nil {
				t.Fatal(err)
			}
			// Published after attach: excluded by untilAttach.
			if err := ch.Publish(ctx, "m", "late"); err != nil {
				t.Fatal(err)
			}
			req, err := rch.HistoryUntilAttach(ably.HistoryWithLimit(2))
			if err != nil {
				t.Fatal(err)
			}
			pages, err := req.Pages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for n := 0; pages.Next(ctx) && n < 10; n++ {
				for _, m := range pages.Items() {
					got = append(got, m.Data.(string))
				}
			}
			if err := pages.Err(); err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "") != "edcba" {
				t.Errorf("untilAttach pages = %v, want e d c b a", got)
			}
			if err := pages.First(ctx); err != nil {
				t.Fatalf("First: %v", err)
			}
			if !pages.Next(ctx) {
				t.Fatalf("no first page: %v", pages.Err())
			}
			if items := pages.Items(); len(items) != 2 || items[0].Data != "e" {
				t.Errorf("first page = %v", items)
			}
			fwd, err := ch.History(ably.HistoryWithDirection(ably.Forwards), ably.HistoryWithLimit(4)).Items(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = nil
			for n := 0; fwd.Next(ctx) && n < 10; n++ {
				got = append(got, fwd.Item().Data.(string))
			}
			if strings.Join(got, ",") != "a,b,c,d,e,late" {
				t.Errorf("forwards = %v", got)
			}
		})
	}
}

func TestRESTIdempotentPublish(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	live := subscribe(t, fx.realtimeKey(t, true, testKey).Channels.Get("idem"))
	rest := fx.restKey(t, false, testKey)
	for i := 0; i < 2; i++ {
		if err := rest.Channels.Get("idem").PublishMultiple(ctx, []*ably.Message{{ID: "fixed:0", Name: "once", Data: "x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rest.Channels.Get("idem").Publish(ctx, "fence", "y"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, live); m.Name != "once" {
		t.Fatalf("first = %q", m.Name)
	}
	if m := recv(t, live); m.Name != "fence" {
		t.Errorf("duplicate id delivered twice (got %q before the fence)", m.Name)
	}
	items, err := rest.Channels.Get("idem").History().Items(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for items.Next(ctx) && n < 10 {
		n++
	}
	if n != 2 {
		t.Errorf("history has %d messages, want 2", n)
	}
}

func TestRESTTimeAndRaw(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	rest := fx.restKey(t, true, testKey)
	tm, err := rest.Time(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(tm); d < -time.Minute || d > time.Minute {
		t.Errorf("time off by %v", d)
	}
	base := "http://" + fx.srv.Addr()
	tests := []struct {
		name, method, path, auth, accept, body string
		status                                 int
		code                                   string
		ctype                                  string
	}{
		{"time without auth", "GET", "/time", "", "application/json", "", 200, "", "application/json"},
		{"time msgpack", "GET", "/time", "", "application/x-msgpack", "", 200, "", "application/x-msgpack"},
		{"history without auth", "GET", "/channels/x/history", "", "application/json", "", 401, "40101", "application/json"},
		{"history without capability", "GET", "/channels/other/history", "Basic " + b64(subKeyName+":"+subSecret), "application/json", "", 401, "40160", "application/json"},
		{"history msgpack error", "GET", "/channels/other/messages", "Basic " + b64(subKeyName+":"+subSecret), "application/x-msgpack", "", 401, "40160", "application/x-msgpack"},
		{"publish single object raw bearer", "POST", "/channels/raw/messages", "Bearer " + mustSign(t), "application/json", `{"name":"n","data":"d"}`, 201, "", "application/json"},
		{"publish bad json", "POST", "/channels/raw/messages", "Basic " + b64(testKey), "application/json", `{"name":`, 400, "40000", "application/json"},
		{"publish too large", "POST", "/channels/raw/messages", "Basic " + b64(testKey), "application/json", `{"data":"` + strings.Repeat("x", 70000) + `"}`, 413, "40009", "application/json"},
		{"bad bearer", "POST", "/channels/raw/messages", "Bearer " + b64("not.a.jwt"), "application/json", `[]`, 401, "40144", "application/json"},
		{"wrong secret", "GET", "/channels/raw/history", "Basic " + b64(testKeyName+":nope"), "application/json", "", 401, "40101", "application/json"},
		{"bad limit", "GET", "/channels/raw/history?limit=0", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"bad fromSerial", "GET", "/channels/raw/history?fromSerial=zz", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"publish of the largest message", "POST", "/channels/raw/messages", "Basic " + b64(testKey), "application/json", `{"data":"` + strings.Repeat("x", defaultMaxMessageSize) + `"}`, 201, "", "application/json"},
		{"publish one byte larger", "POST", "/channels/raw/messages", "Basic " + b64(testKey), "application/json", `{"data":"` + strings.Repeat("x", defaultMaxMessageSize+1) + `"}`, 413, "40009", "application/json"},
		{"limit at most 1000", "GET", "/channels/raw/history?limit=1000", "Basic " + b64(testKey), "application/json", "", 200, "", "application/json"},
		{"limit above 1000", "GET", "/channels/raw/history?limit=1001", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"negative start", "GET", "/channels/raw/history?start=-1", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"start after end", "GET", "/channels/raw/history?start=2000&end=1000", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"bad direction", "GET", "/channels/raw/history?direction=sideways", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"bad cursor", "GET", "/channels/raw/history?cursor=zz", "Basic " + b64(testKey), "application/json", "", 400, "40000", "application/json"},
		{"unknown path", "GET", "/stats", "Basic " + b64(testKey), "application/json", "", 404, "40400", "application/json"},
		{"unknown path, bad bearer", "GET", "/stats", "Bearer " + b64("not.a.jwt"), "application/json", "", 401, "40144", "application/json"},
		{"unknown path, no credentials", "GET", "/push/channels", "", "application/json", "", 401, "40101", "application/json"},
		{"unknown path, wrong secret", "GET", "/channels/raw/presence", "Basic " + b64(testKeyName+":nope"), "application/x-msgpack", "", 401, "40101", "application/x-msgpack"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(ctx, tt.method, base+tt.path, bytes.NewBufferString(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			req.Header.Set("Accept", tt.accept)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("X-Ably-Errorcode"); got != tt.code {
				t.Errorf("X-Ably-Errorcode = %q, want %q", got, tt.code)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q, want %q", got, tt.ctype)
			}
			if tt.code != "" && tt.ctype == "application/json" {
				var eb struct {
					Error errorInfo `json:"error"`
				}
				if err := json.Unmarshal(body, &eb); err != nil || eb.Error.Code == 0 || eb.Error.StatusCode != tt.status || eb.Error.Href == "" {
					t.Errorf("error body = %s (%v)", body, err)
				}
			}
		})
	}
}

func mustSign(t *testing.T) string {
	tok, _ := signTest(t, tokenSpec{clientID: "raw"})
	return tok
}

// A client-chosen message id is bounded, realtime and REST alike: ids are
// not counted in the message size, so an unbounded one would let a client
// push megabytes through every consumer that keeps ids.
func TestLongMessageIDRefused(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	long := strings.Repeat("x", maxMessageIDLen+1)
	for _, binary := range []bool{false, true} {
		rest := fx.restKey(t, binary, testKey)
		err := rest.Channels.Get("ids").PublishMultiple(ctx, []*ably.Message{{ID: long, Name: "n", Data: "x"}})
		var ei *ably.ErrorInfo
		if !errors.As(err, &ei) || ei.StatusCode != 400 {
			t.Fatalf("REST publish with a %d-byte id: err = %v, want a 400", len(long), err)
		}
		rt := fx.realtimeKey(t, binary, testKey)
		err = rt.Channels.Get("ids").PublishMultiple(ctx, []*ably.Message{{ID: long, Name: "n", Data: "x"}})
		if !errors.As(err, &ei) || ei.StatusCode != 400 {
			t.Fatalf("realtime publish with a %d-byte id: err = %v, want a NACK with 400", len(long), err)
		}
		ok := strings.Repeat("y", maxMessageIDLen)
		if err := rest.Channels.Get("ids").PublishMultiple(ctx, []*ably.Message{{ID: ok, Name: "n", Data: "x"}}); err != nil {
			t.Fatalf("REST publish with a %d-byte id: %v", len(ok), err)
		}
	}
}

// A publish carries at most maxMessagesPerPublish messages: empty messages
// cost nothing in the size check, so without a count bound one frame could
// store hundreds of thousands of them and blow the fan-out frame size.
func TestTooManyMessagesInOnePublish(t *testing.T) {
	fx := startServer(t, nil)
	ctx := testCtx(t)
	batch := func(n int) []*ably.Message {
		msgs := make([]*ably.Message, n)
		for i := range msgs {
			msgs[i] = &ably.Message{}
		}
		return msgs
	}
	for _, binary := range []bool{false, true} {
		rest := fx.restKey(t, binary, testKey)
		rt := fx.realtimeKey(t, binary, testKey)
		var ei *ably.ErrorInfo
		if err := rest.Channels.Get("batch").PublishMultiple(ctx, batch(maxMessagesPerPublish+1)); !errors.As(err, &ei) || ei.Code != codeMessageTooLarge {
			t.Fatalf("REST publish of %d messages: err = %v, want %d", maxMessagesPerPublish+1, err, codeMessageTooLarge)
		}
		if err := rt.Channels.Get("batch").PublishMultiple(ctx, batch(maxMessagesPerPublish+1)); !errors.As(err, &ei) || ei.Code != codeMessageTooLarge {
			t.Fatalf("realtime publish of %d messages: err = %v, want a NACK %d", maxMessagesPerPublish+1, err, codeMessageTooLarge)
		}
		if err := rest.Channels.Get("batch").PublishMultiple(ctx, batch(maxMessagesPerPublish)); err != nil {
			t.Fatalf("REST publish of %d messages: %v", maxMessagesPerPublish, err)
		}
		if s := rt.Connection.State(); s != ably.ConnectionStateConnected {
			t.Fatalf("after a NACK the connection is %v, want CONNECTED", s)
		}
	}
}

// TestRESTClientIDHeader: X-Ably-ClientId (base64) pins a Basic credential
// to a clientId, and must agree with a token's.
func TestRESTClientIDHeader(t *testing.T) {
	fx := startServer(t, nil)
	alice, _ := signTest(t, tokenSpec{clientID: "alice"})
	tests := []struct {
		name, auth, header string
		want               string // the credential's clientId
		code               int    // 0: accepted
	}{
		{name: "Basic, pinned", auth: "Basic " + b64(testKey), header: b64("bob"), want: "bob"},
		{name: "Basic, wildcard", auth: "Basic " + b64(testKey), header: b64("*"), code: codeInvalidClientID},
		{name: "token, its own clientId", auth: "Bearer " + alice, header: b64("alice"), want: "alice"},
		{name: "token, another clientId", auth: "Bearer " + alice, header: b64("bob"), code: codeInvalidClientID},
		{name: "not base64", auth: "Basic " + b64(testKey), header: "!!", code: codeBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := http.NewRequest("GET", "http://"+fx.srv.Addr()+"/channels/c/history", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", tc.auth)
			r.Header.Set("X-Ably-ClientId", tc.header)
			p, e := fx.srv.authenticateREST(r)
			switch {
			case tc.code == 0 && (e != nil || p.clientID != tc.want):
				t.Errorf("authenticateREST = %+v, %v; want clientId %q", p, e, tc.want)
			case tc.code != 0 && (e == nil || e.Code != tc.code):
				t.Errorf("authenticateREST = %+v, %v; want %d", p, e, tc.code)
			}
		})
	}
}
