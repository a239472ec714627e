package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/workflows"
)

// TestDemotedApproversTokenStillCounts pins README's "An Ably token already
// issued cannot be recalled: it stays valid until it expires": a publisher
// demoted to editor in the users file while a client (a running CLI, an
// open inbox page) holds the JWT issued before still decides as a
// publisher, and the run counts the decision with that role; the next
// token the auth server issues carries the new role.
func TestDemotedApproversTokenStillCounts(t *testing.T) {
	s := newStack(t, rotatePolicy)
	id := s.startRun("Publish the blog post called 'Demoted approver'")
	call := s.waitPending(id, 1)[0].ToolCallID

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	held, err := s.token(ctx, "publisher")
	if err != nil {
		t.Fatal(err)
	}
	u := users["publisher"]
	if err := authserver.AddUser(s.usersFile(), u.name, "editor", u.password, workflows.DefaultRoles, authserver.WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	// A token asked for now says editor: the demotion is in force for
	// every new token.
	if out, err := s.cli("publisher", "approve", call); err == nil || !strings.Contains(out, "editor") {
		t.Fatalf("the demoted user's CLI (a new token) approved: %v\n%s", err, out)
	}

	// The token issued before the demotion still publishes as publisher.
	s.publishWithToken(held, id, call, workflows.DecisionApproved)
	s.waitAudit(id, "the approval made with the token issued before the demotion counted as a publisher's", func(e workflows.AuditEntry) bool {
		return e.Kind == workflows.AuditCounted && e.Actor == u.name && e.Role == "publisher" && strings.HasPrefix(e.Reason, "1 of 2 approvals")
	})
}

// publishWithToken publishes a decision on the call of run id with the
// approver JWT tok and nothing else, as a client that holds a token (a
// running CLI, an open inbox page) until it renews it.
func (s *stack) publishWithToken(tok, id, call, decision string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.t.Context(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{Endpoint: s.ably.Addr(), TLS: false}
	rt, err := ably.NewRealtime(append(cfg.EndpointOptions(), ably.WithToken(tok), ably.WithAutoConnect(false))...)
	if err != nil {
		s.t.Fatal(err)
	}
	defer rt.Close()
	rt.Connect()
	msg := &ably.Message{Name: workflows.MsgApprovalResponse, Data: map[string]any{"decision": decision},
		Extras: map[string]any{"headers": map[string]any{"toolCallId": call, "workflowId": id}}}
	if err := rt.Channels.Get(channel).PublishMultiple(ctx, []*ably.Message{msg}); err != nil {
		s.t.Fatalf("publish with a held token: %v", err)
	}
}
