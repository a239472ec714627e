package ablyjs

// ably-js checks of issue 10's client-visible behaviour (fidelity.mjs):
// a resume renews the connection key, duplicate ids in one publish are
// refused with 40031, and TokenRequests are redeemed for native tokens.

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/workflows"
)

// fidelityCase runs fidelity.mjs in one mode against a fresh server, in
// JSON and in msgpack, with the auth helper answering /token.
func fidelityCase(t *testing.T, mode string, helper func(t *testing.T, srv *ablytest.Server) *tokenHelper,
	check func(ctx context.Context, t *testing.T, srv *ablytest.Server, js *nodeRun, binary bool)) {
	node := requireNode(t)
	for _, binary := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "msgpack"}[binary], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			t.Cleanup(cancel)
			srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: keyName, Secret: keySecret}}})
			h := helper(t, srv)
			js := startNode(ctx, t, node, nodeArgs{
				script:    "fidelity.mjs",
				port:      portOf(t, srv.Addr()),
				tokenURL:  h.URL + "/token",
				connURL:   h.URL + "/is-the-internet-up.txt",
				wsConnURL: "ws" + h.URL[len("http"):] + "/ws-up",
				channel:   workflows.DefaultChannel,
				binary:    binary,
				extra:     []string{"--mode", mode},
			})
			check(ctx, t, srv, js, binary)
			if got := h.tokens.Load(); got < 1 {
				t.Errorf("auth helper served %d answers, want >= 1 (authCallback not used?)", got)
			}
		})
	}
}

func jwtHelper(t *testing.T, _ *ablytest.Server) *tokenHelper {
	return startTokenHelper(t, approverToken)
}

// RTN15e: ably-js resumes a dropped connection with the same id and gets a
// new connection key.
func TestAblyJSResumeRenewsConnectionKey(t *testing.T) {
	fidelityCase(t, "resume", jwtHelper, func(ctx context.Context, t *testing.T, srv *ablytest.Server, js *nodeRun, _ bool) {
		connected := js.waitEvent(ctx, t, "connected")
		srv.DropConnections()
		resumed := js.waitEvent(ctx, t, "resumed")
		js.waitEvent(ctx, t, "done")
		js.wait(ctx, t)
		id, key := stringField(connected, "connectionId"), stringField(connected, "connectionKey")
		if id == "" || key == "" {
			t.Fatalf("connected without id or key: %v", connected.raw)
		}
		if got := stringField(resumed, "connectionId"); got != id {
			t.Errorf("resumed connectionId %q, want %q", got, id)
		}
		if got := stringField(resumed, "connectionKey"); got == "" || got == key {
			t.Errorf("resumed connectionKey %q, want a new one (was %q)", got, key)
		}
		if r := resumed.raw["reason"]; r != nil {
			t.Errorf("resume reported %v", r)
		}
	})
}

// RSL1k3: ably-js's publish of two messages with one id fails with
// 40031/400 over Realtime and REST; nothing of either is stored.
func TestAblyJSDuplicateIDsRefused(t *testing.T) {
	fidelityCase(t, "duplicate-ids", jwtHelper, func(ctx context.Context, t *testing.T, srv *ablytest.Server, js *nodeRun, binary bool) {
		ev := js.waitEvent(ctx, t, "duplicate-ids")
		js.waitEvent(ctx, t, "done")
		js.wait(ctx, t)
		for _, via := range []string{"realtime", "rest"} {
			r, ok := ev.Results[via]
			if !ok || r.OK || r.Code != 40031 || r.StatusCode != 400 {
				t.Errorf("%s publish with a duplicate id: %+v, want 40031/400", via, r)
			}
		}
		if r := ev.Results["distinct"]; !r.OK {
			t.Errorf("publish with distinct ids: %+v", r)
		}
		if s := stringField(ev, "state"); s != "connected" {
			t.Errorf("connection %q after the refusal", s)
		}
		rest := newREST(t, srv.Conn, agentID, binary)
		items, err := rest.Channels.Get(workflows.DefaultChannel).History().Items(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for items.Next(ctx) && len(names) < 10 {
			names = append(names, items.Item().Name)
		}
		if len(names) != 2 || names[0] != "distinct-1" || names[1] != "distinct-0" {
			t.Errorf("history = %v, want only the distinct-id messages", names)
		}
	})
}

// ably-js's authCallback returns a TokenRequest (signed by ably-go, as an
// auth server would); ably-js redeems it at /keys/{keyName}/requestToken
// and the native token authenticates its Realtime and REST clients.
// Native tokens carry no user claims, so no message has a userClaim.
func TestAblyJSTokenRequest(t *testing.T) {
	issuerHelper := func(t *testing.T, srv *ablytest.Server) *tokenHelper {
		issuer, err := ably.NewREST(ably.WithKey(srv.Conn.APIKey), ably.WithInsecureAllowBasicAuthWithoutTLS(),
			ably.WithEndpoint(srv.Addr()), ably.WithTLS(false))
		if err != nil {
			t.Fatal(err)
		}
		return startAuthHelper(t, "application/json", func(time.Time) ([]byte, error) {
			tr, err := issuer.Auth.CreateTokenRequest(&ably.TokenParams{ClientID: approverID, Capability: approverCapability, TTL: time.Hour.Milliseconds()})
			if err != nil {
				return nil, err
			}
			return json.Marshal(tr)
		})
	}
	fidelityCase(t, "token-request", issuerHelper, func(ctx context.Context, t *testing.T, srv *ablytest.Server, js *nodeRun, binary bool) {
		bridge := newRealtime(ctx, t, srv.Conn, bridgeID, binary)
		received := make(chan *ably.Message, 16)
		unsub, err := bridge.Channels.Get(workflows.DefaultChannel).SubscribeAll(ctx, func(m *ably.Message) {
			select {
			case received <- m:
			default:
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(unsub)
		connected := js.waitEvent(ctx, t, "connected")
		for _, name := range []string{"native-realtime", "native-rest"} {
			m := js.waitGoMessage(ctx, t, received, name)
			if m.ClientID != approverID || m.Extras["userClaim"] != nil {
				t.Errorf("go: %s from %q with userClaim %#v, want %q and none", name, m.ClientID, m.Extras["userClaim"], approverID)
			}
		}
		history := js.waitEvent(ctx, t, "history")
		js.waitEvent(ctx, t, "done")
		events := js.wait(ctx, t)

		if got := stringField(connected, "clientId"); got != approverID {
			t.Errorf("ably-js clientId %q, want %q", got, approverID)
		}
		if got := stringField(connected, "tokenKeyName"); got != keyName {
			t.Errorf("token keyName %q, want %q", got, keyName)
		}
		wantCap := `{"` + workflows.DefaultChannel + `":["history","publish","subscribe"]}`
		if got := stringField(connected, "tokenCapability"); got != wantCap {
			t.Errorf("token capability %s, want %s", got, wantCap)
		}
		seen := map[string]bool{}
		for _, e := range events {
			if e.Event != "message" || e.Message == nil {
				continue
			}
			m := e.Message
			seen[m.Name] = true
			if m.ClientID != approverID {
				t.Errorf("ably-js: %s from %q", m.Name, m.ClientID)
			}
			if _, ok := m.Extras["userClaim"]; ok {
				t.Errorf("ably-js: %s has userClaim %v; a native token carries none and the forged one must go", m.Name, m.Extras["userClaim"])
			}
			if h, _ := m.Extras["headers"].(map[string]any); h["toolCallId"] != "call_native" {
				t.Errorf("ably-js: %s headers %v", m.Name, m.Extras["headers"])
			}
		}
		if !seen["native-realtime"] || !seen["native-rest"] {
			t.Errorf("ably-js received %v, want both of its messages", seen)
		}
		if len(history.Messages) != 2 {
			t.Errorf("history has %d messages, want 2", len(history.Messages))
		}
	})
}
