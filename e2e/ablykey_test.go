package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/workflows"
)

// TestAblyKeyRotation follows README's rotation of ABLY_API_KEY while Ably
// holds the old and the new key: the auth server, the worker and the
// bridge restarted with the new key, a call waiting throughout. A JWT the
// old key signed before (a running CLI or inbox page holds it until it
// renews) still decides; tokens issued since are the new key's; the call
// counts both approvals and runs once.
func TestAblyKeyRotation(t *testing.T) {
	const newName, newSecret = "e2e.key2", "e2e-second-secret-not-for-production"
	s := newStackWith(t, rotatePolicy, func(c *ablylocal.Config) {
		c.Keys = append(c.Keys, ablylocal.Key{Name: newName, Secret: newSecret})
	})
	id := s.startRun("Publish the blog post called 'Ably key rotation'")
	call := s.waitPending(id, 1)[0].ToolCallID

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	held, err := s.token(ctx, "publisher")
	if err != nil {
		t.Fatal(err)
	}

	s.ablyKey = newName + ":" + newSecret
	s.authURL = s.serveAuth(t, s.ably.Addr())
	s.worker.stop(syscall.SIGTERM, 20*time.Second)
	s.startWorker()
	s.bridge.stop(syscall.SIGTERM, 20*time.Second)
	s.startBridge()

	fresh, err := s.token(ctx, "publisher2")
	if err != nil {
		t.Fatal(err)
	}
	if k := jwtKeyName(t, held); k != ablyKeyName {
		t.Fatalf("the held token's key = %q, want the old %q", k, ablyKeyName)
	}
	if k := jwtKeyName(t, fresh); k != newName {
		t.Fatalf("a token issued after the rotation is signed with %q, want the new %q", k, newName)
	}

	s.publishWithToken(held, id, call, workflows.DecisionApproved)
	s.waitAudit(id, "the approval made with the old key's token counted", func(e workflows.AuditEntry) bool {
		return e.Kind == workflows.AuditCounted && e.Actor == users["publisher"].name && strings.HasPrefix(e.Reason, "1 of 2 approvals")
	})
	if out, err := s.cli("publisher2", "approve", call); err != nil {
		t.Fatalf("approval through the new auth server: %v\n%s", err, out)
	}
	assertRanOnce(t, s, s.result(id), call, "Ably key rotation")
}

// jwtKeyName is the key name (kid) an Ably JWT names.
func jwtKeyName(t *testing.T, tok string) string {
	t.Helper()
	head, _, ok := strings.Cut(tok, ".")
	if !ok {
		t.Fatalf("not a JWT: %.20q", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}
