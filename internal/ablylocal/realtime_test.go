package ablylocal

import (
	"testing"

	"github.com/ably/ably-go/ably"
)

func TestRealtimePublishSubscribe(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			sub := fx.realtimeJWT(t, f.binary, tokenSpec{clientID: "alice"})
			pub := fx.realtimeKey(t, f.binary, testKey)
			if got, want := sub.Auth.ClientID(), "alice"; got != want {
				t.Errorf("clientId = %q, want %q", got, want)
			}
			msgs := subscribe(t, sub.Channels.Get("room"))
			ctx := testCtx(t)
			res, err := pub.Channels.Get("room").PublishWithResult(ctx, "greet", map[string]any{"hello": "world"})
			if err != nil {
				t.Fatalf("publish: %v", err)
			}
			if res.Serial == nil || *res.Serial == "" {
				t.Errorf("PublishWithResult serial empty")
			}
			m := recv(t, msgs)
			if m.Name != "greet" || dataMap(t, m)["hello"] != "world" {
				t.Errorf("got %q %v", m.Name, m.Data)
			}
			if m.ConnectionID != pub.Connection.ID() || m.ID == "" || m.Timestamp == 0 {
				t.Errorf("missing stamps: id=%q conn=%q ts=%d", m.ID, m.ConnectionID, m.Timestamp)
			}
			if err := pub.Channels.Get("room").Publish(ctx, "text", "plain"); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, msgs); m.Data != "plain" {
				t.Errorf("data = %#v", m.Data)
			}
		})
	}
}

// TestBinaryData checks that msgpack bin stays binary, and reaches a JSON
// subscriber as base64 with "base64" appended to the encoding.
func TestBinaryData(t *testing.T) {
	fx := startServer(t, nil)
	jsonSub := subscribe(t, fx.realtimeKey(t, false, testKey).Channels.Get("bin"))
	mpSub := subscribe(t, fx.realtimeKey(t, true, testKey).Channels.Get("bin"))
	pub := fx.realtimeKey(t, true, testKey)
	if err := pub.Channels.Get("bin").Publish(testCtx(t), "b", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, jsonSub); m.Data != "AAEC" || m.Encoding != "base64" {
		t.Errorf("json subscriber got %#v encoding %q, want AAEC base64", m.Data, m.Encoding)
	}
	// ably-go's own msgpack decoder turns bin into a string.
	if m := recv(t, mpSub); m.Data != "\x00\x01\x02" || m.Encoding != "" {
		t.Errorf("msgpack subscriber got %#v encoding %q", m.Data, m.Encoding)
	}
}

func TestUserClaim(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			watcher := fx.realtimeKey(t, f.binary, testKey)
			msgs := subscribe(t, watcher.Channels.Get("ai:big-bad-any"))
			approver := fx.realtimeJWT(t, f.binary, tokenSpec{
				clientID:   "bob",
				capability: `{"ai:*":["subscribe","publish","history"]}`,
				claims: map[string]any{
					"ably.channel.*":              "viewer",
					"ably.channel.ai:*":           "editor",
					"ably.channel.ai:big-bad-any": "admin",
					"ably.channel.other":          "nope",
				},
			})
			ctx := testCtx(t)
			forged := &ably.Message{
				Name:   "approval-response",
				Data:   map[string]any{"decision": "approved"},
				Extras: map[string]any{"userClaim": "superuser", "headers": map[string]any{"toolCallId": "call_1"}},
			}
			if err := approver.Channels.Get("ai:big-bad-any").PublishMultiple(ctx, []*ably.Message{forged}); err != nil {
				t.Fatalf("publish: %v", err)
			}
			m := recv(t, msgs)
			if got := m.Extras["userClaim"]; got != "admin" {
				t.Errorf("userClaim = %#v, want admin (most specific claim, never the forged one)", got)
			}
			h, _ := m.Extras["headers"].(map[string]any)
			if h["toolCallId"] != "call_1" {
				t.Errorf("headers = %#v", m.Extras["headers"])
			}
			if m.ClientID != "bob" {
				t.Errorf("clientId = %q", m.ClientID)
			}
			// A key publisher never carries a userClaim, forged or not.
			keyPub := fx.realtimeKey(t, f.binary, testKey)
			forged2 := &ably.Message{Name: "x", Data: "y", Extras: map[string]any{"userClaim": "admin"}}
			if err := keyPub.Channels.Get("ai:big-bad-any").PublishMultiple(ctx, []*ably.Message{forged2}); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, msgs); m.Extras["userClaim"] != nil {
				t.Errorf("key publish delivered userClaim %#v", m.Extras["userClaim"])
			}
		})
	}
}

func TestUserClaimRanking(t *testing.T) {
	tests := []struct {
		name    string
		claims  map[string]any
		channel string
		want    string
		ok      bool
	}{
		{"exact beats ns", map[string]any{"ably.channel.ai:x": "a", "ably.channel.ai:*": "b", "ably.channel.*": "c"}, "ai:x", "a", true},
		{"ns beats star", map[string]any{"ably.channel.ai:*": "b", "ably.channel.*": "c"}, "ai:x", "b", true},
		{"star", map[string]any{"ably.channel.*": "c"}, "ai:x", "c", true},
		{"non string json", map[string]any{"ably.channel.ai:x": map[string]any{"role": "admin"}}, "ai:x", `{"role":"admin"}`, true},
		{"none", map[string]any{"ably.channel.other": "c"}, "ai:x", "", false},
		{"literal star suffix", map[string]any{"ably.channel.ai*": "c"}, "ai:x", "", false},
		{"middle wildcard", map[string]any{"ably.channel.a:*:c": "m", "ably.channel.a:*": "n"}, "a:b:c", "m", true},
		{"exact beats the same name under [*]", map[string]any{"ably.channel.ai:x": "a", "ably.channel.[*]ai:x": "q"}, "ai:x", "a", true},
		{"longer literal prefix beats lexical order", map[string]any{"ably.channel.a:*:c": "p", "ably.channel.*:b:c": "s"}, "a:b:c", "p", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := userClaimFor(tt.claims, tt.channel)
			if got != tt.want || ok != tt.ok {
				t.Errorf("userClaimFor = %q, %v; want %q, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRewind(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			fx := startServer(t, nil)
			ctx := testCtx(t)
			pub := fx.restKey(t, f.binary, testKey)
			for _, n := range []string{"one", "two", "three"} {
				if err := pub.Channels.Get("rw").Publish(ctx, n, n); err != nil {
					t.Fatal(err)
				}
			}
			c := fx.realtimeKey(t, f.binary, testKey)
			msgs := subscribe(t, c.Channels.Get("rw", ably.ChannelWithParams("rewind", "2")))
			if got := recv(t, msgs).Name; got != "two" {
				t.Errorf("first rewound = %q, want two", got)
			}
			if got := recv(t, msgs).Name; got != "three" {
				t.Errorf("second rewound = %q, want three", got)
			}
			q := subscribe(t, c.Channels.Get("[?rewind=1]rw"))
			if got := recv(t, q).Name; got != "three" {
				t.Errorf("qualifier rewind = %q, want three", got)
			}
			s := subscribe(t, c.Channels.Get("[?rewind=10s]rw"))
			for _, want := range []string{"one", "two", "three"} {
				if got := recv(t, s).Name; got != want {
					t.Errorf("time rewind = %q, want %q", got, want)
				}
			}
			bad := c.Channels.Get("rw-bad", ably.ChannelWithParams("rewind", "lots"))
			if err := bad.Attach(ctx); err == nil {
				t.Errorf("attach with invalid rewind succeeded")
			}
			if err := pub.Channels.Get("rw").Publish(ctx, "four", "four"); err != nil {
				t.Fatal(err)
			}
			if got := recv(t, msgs).Name; got != "four" {
				t.Errorf("live after rewind = %q", got)
			}
			expectNone(t, msgs)
		})
	}
}
