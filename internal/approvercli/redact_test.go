package approvercli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// A token Ably refuses makes ably-go ask for another and dial once with
// it; when that dial fails (Ably restarting, the network gone), the
// connection is FAILED with the dial's error as its reason, and that
// error names the URL with the fresh token in its access_token. The
// command's error, which the approver's terminal and any log of it keep,
// must not hand that token out.
func TestOpenFailureHidesTheToken(t *testing.T) {
	srv := ablytest.Start(t, ablylocal.Config{})
	var requests atomic.Int32
	var issued atomic.Pointer[string]
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		secret := testSecret
		switch requests.Add(1) {
		case 1: // the login up front: a good token
		case 2: // the connection's first: one Ably refuses (40144)
			secret = "not-" + testSecret
		default: // the one ably-go asks for again: Ably is gone meanwhile
			// (Close waits for the refused connection, which ably-go
			// keeps until it has this token: its listener closes first.)
			addr := srv.Addr()
			go srv.Close()
			testutil.WaitClosed(addr, 5*time.Second)
		}
		tok, _, err := ablyconn.SignToken(testKeyName, secret, "alice", ablytest.ApproverCapability(testChannel),
			map[string]any{"ably.channel." + testChannel: "publisher"}, now, time.Hour)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		issued.Store(&tok)
		w.Header().Set("Content-Type", "application/jwt")
		io.WriteString(w, tok)
	}))
	t.Cleanup(auth.Close)
	var logs bytes.Buffer
	cfg := Config{
		Ably: ablyconn.Config{Endpoint: srv.Addr()}, AuthURL: auth.URL, User: "alice", Password: "pw",
		Log:     slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Timeout: 5 * time.Second,
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := List(ctx, cfg, io.Discard)
	if err == nil {
		t.Fatal("List: no error with Ably gone")
	}
	if requests.Load() < 3 || !strings.Contains(err.Error(), "access_token=REDACTED") {
		t.Fatalf("the auth server was asked %d times, want 3, and the error names no redacted token (the scenario did not happen): %v", requests.Load(), err)
	}
	tok := *issued.Load()
	sig := tok[strings.LastIndex(tok, ".")+1:]
	for what, text := range map[string]string{"error": err.Error(), "log": logs.String()} {
		if strings.Contains(text, sig) {
			t.Errorf("the %s holds the token:\n%s", what, text)
		}
	}
	t.Logf("error: %v", err)
}

// A channel the approver's token does not grant (ABLY_CHANNEL set to
// another than the auth server's) is refused by Ably (40160); the error
// says what to set, not only Ably's code.
func TestAttachRefusedChannelSaysWhatToSet(t *testing.T) {
	e := startEnv(t)
	cfg := e.cliConfig(t, nil)
	cfg.Channel = "ai:other"
	err := List(t.Context(), cfg, io.Discard)
	if err == nil {
		t.Fatal("List on a channel the token does not grant: no error")
	}
	for _, want := range []string{`attach to channel "ai:other"`, "40160", "your token does not grant this channel: ABLY_CHANNEL must name the auth server's"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
