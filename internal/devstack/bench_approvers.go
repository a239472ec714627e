package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/approvercli"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/workflows"
)

// benchApproverRole is the role of the bench's approvers: the one the
// default policy asks for publish_blog_post.
const benchApproverRole = "publisher"

// addBenchApprovers adds n publisher users to the users file, with random
// passwords, hashed at the auth server's bcrypt cost.
func addBenchApprovers(usersFile string, n int, random io.Reader) ([]DemoUser, error) {
	users := make([]DemoUser, 0, n)
	for i := range n {
		pw, err := randomHex(random, 16)
		if err != nil {
			return nil, err
		}
		u := DemoUser{Name: fmt.Sprintf("bench-approver-%04d", i+1), Role: benchApproverRole, Password: "bench-" + pw}
		if err := authserver.AddUser(usersFile, u.Name, u.Role, u.Password, workflows.DefaultRoles); err != nil {
			return nil, fmt.Errorf("bench approver %s: %w", u.Name, err)
		}
		users = append(users, u)
	}
	return users, nil
}

// benchApprover is one approver's realtime connection to the approvals
// channel, authenticated the way the approver CLI is: a login at the auth
// server, whose JWT carries the role Ably copies into extras.userClaim.
type benchApprover struct {
	name   string
	client *ably.Realtime
	ch     *ably.RealtimeChannel
}

// connectApprover logs u in at the auth server, connects to the local Ably
// server with the auth server's tokens and attaches to the channel.
func connectApprover(ctx context.Context, cfg Config, u DemoUser, timeout time.Duration) (*benchApprover, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	login := &approvercli.Login{AuthURL: cfg.AuthURL(), User: u.Name, Password: u.Password, HTTP: &http.Client{Timeout: timeout}}
	if err := loginPatiently(ctx, login); err != nil {
		return nil, err
	}
	opts := append(ablyconn.Config{Endpoint: cfg.AblyEndpoint()}.EndpointOptions(),
		ably.WithAuthCallback(login.AuthCallback()), ably.WithLogLevel(ably.LogNone))
	client, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		return nil, fmt.Errorf("ably client of %s: %w", u.Name, err)
	}
	a := &benchApprover{name: u.Name, client: client, ch: client.Channels.Get(cfg.Channel)}
	if err := a.ch.Attach(ctx); err != nil {
		a.close()
		return nil, fmt.Errorf("%s: attach to %s: %w", u.Name, cfg.Channel, err)
	}
	return a, nil
}

func (a *benchApprover) close() { a.client.Close() }

// loginPatiently logs in, and while the auth server answers 429 (its
// password checks all busy: the bench logs its approvers in at once, from
// one address, on a machine it loads), asks again after its Retry-After
// (at least 1 s) until ctx ends; then the last answer is the error.
func loginPatiently(ctx context.Context, login *approvercli.Login) error {
	for {
		_, err := login.Token(ctx)
		var throttled *approvercli.ThrottledError
		if !errors.As(err, &throttled) {
			return err
		}
		t := time.NewTimer(max(throttled.RetryAfter, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// approve publishes an approval-response for r and waits for Ably's ACK:
// data {decision, argumentsDigest (when the request has one)}, and
// extras.headers toolCallId and workflowId, or only toolCallId when
// guideShaped (the guide's client routes by tool call alone).
func (a *benchApprover) approve(ctx context.Context, r approvercli.Request, guideShaped bool) error {
	data := workflows.ApprovalResponseData{Decision: workflows.DecisionApproved, ArgumentsDigest: r.ArgumentsDigest}
	headers := map[string]any{workflows.HeaderToolCallID: r.ToolCallID}
	if !guideShaped {
		headers[workflows.HeaderWorkflowID] = r.WorkflowID
	}
	m := &ably.Message{Name: workflows.MsgApprovalResponse, Data: data, Extras: map[string]any{workflows.ExtrasHeaders: headers}}
	if err := a.ch.PublishMultiple(ctx, []*ably.Message{m}); err != nil {
		return fmt.Errorf("%s: publish approval-response for %s: %w", a.name, r.WorkflowID, err)
	}
	return nil
}
