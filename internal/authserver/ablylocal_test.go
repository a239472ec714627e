package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/authserver"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// stack is the local Ably server plus a real auth server, both on loopback.
type stack struct {
	ablyAddr string
	authURL  string
	ablyCfg  ablyconn.Config
}

func startStack(t *testing.T, users map[string][2]string) *stack {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)

	ablySrv := ablytest.Start(t, ablylocal.Config{})

	path := filepath.Join(t.TempDir(), "users.json")
	for name, rp := range users {
		if err := authserver.AddUser(path, name, rp[0], rp[1], nil, authserver.WithCost(bcrypt.MinCost)); err != nil {
			t.Fatalf("AddUser: %v", err)
		}
	}
	srv, err := authserver.New(authserver.Config{
		UsersFile:  path,
		AblyKey:    ablytest.APIKey,
		BcryptCost: bcrypt.MinCost,
	})
	if err != nil {
		t.Fatalf("authserver.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("auth server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("auth server did not stop")
		}
	})
	return &stack{
		ablyAddr: ablySrv.Addr(),
		authURL:  "http://" + ln.Addr().String(),
		ablyCfg:  ablySrv.Conn,
	}
}

// fetchToken is what an approver's authCallback does: GET the token with
// HTTP Basic credentials.
func (s *stack) fetchToken(ctx context.Context, user, password string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.authURL+authserver.TokenPath, nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(user, password)
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("auth server: %s", resp.Status)
	}
	return string(body), nil
}

func (s *stack) endpoint(binary bool) []ably.ClientOption {
	host, portStr, _ := net.SplitHostPort(s.ablyAddr)
	port, _ := strconv.Atoi(portStr)
	return []ably.ClientOption{
		ably.WithEndpoint(host), ably.WithPort(port), ably.WithTLS(false),
		ably.WithUseBinaryProtocol(binary), ably.WithLogLevel(ably.LogNone),
	}
}

// approver connects as user through the auth server, as the approver CLI does.
func (s *stack) approver(t *testing.T, binary bool, user, password string) *ably.Realtime {
	t.Helper()
	cb := ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		tok, err := s.fetchToken(ctx, user, password)
		if err != nil {
			return nil, err
		}
		return ably.TokenString(tok), nil
	})
	return connect(t, append(s.endpoint(binary), cb)...)
}

// bridge connects as the trusted bridge with a self-signed token.
func (s *stack) bridge(t *testing.T, binary bool) *ably.Realtime {
	t.Helper()
	opts, err := s.ablyCfg.TrustedOptions("hitl-bridge", "")
	if err != nil {
		t.Fatal(err)
	}
	return connect(t, append(opts, ably.WithUseBinaryProtocol(binary), ably.WithLogLevel(ably.LogNone))...)
}

func connect(t *testing.T, opts ...ably.ClientOption) *ably.Realtime {
	t.Helper()
	c, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		t.Fatalf("NewRealtime: %v", err)
	}
	t.Cleanup(c.Close)
	testutil.WaitFor(t, 10*time.Second, "an Ably connection", func() (bool, error) {
		switch s := c.Connection.State(); s {
		case ably.ConnectionStateConnected:
			return true, nil
		case ably.ConnectionStateFailed:
			t.Fatalf("connection %s: %v", s, c.Connection.ErrorReason())
		}
		return false, nil
	})
	return c
}

func recvMsg(t *testing.T, c <-chan *ably.Message) *ably.Message {
	t.Helper()
	select {
	case m := <-c:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

// The local Ably server accepts the auth server's tokens and stamps the
// user's real role as extras.userClaim, whatever the approver forged.
func TestTokensAcceptedByLocalAbly(t *testing.T) {
	users := map[string][2]string{
		"alice": {"publisher", "alice-password"},
		"bob":   {"admin", "bob-password-1"},
		"carol": {"editor", "carol-password"},
	}
	st := startStack(t, users)
	for _, format := range []struct {
		name   string
		binary bool
	}{{"json", false}, {"msgpack", true}} {
		t.Run(format.name, func(t *testing.T) {
			watcher := st.bridge(t, format.binary)
			msgs := make(chan *ably.Message, 64)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			unsub, err := watcher.Channels.Get(workflows.DefaultChannel).Subscribe(ctx, workflows.MsgApprovalResponse, func(m *ably.Message) { msgs <- m })
			if err != nil {
				t.Fatalf("subscribe: %v", err)
			}
			t.Cleanup(unsub)

			for _, name := range []string{"alice", "bob", "carol"} {
				role, password := users[name][0], users[name][1]
				t.Run(name, func(t *testing.T) {
					c := st.approver(t, format.binary, name, password)
					if got := c.Auth.ClientID(); got != name {
						t.Errorf("connection clientId = %q, want %q", got, name)
					}
					toolCallID := "call_" + name + "_" + format.name
					forged := &ably.Message{
						Name: workflows.MsgApprovalResponse,
						Data: map[string]any{"decision": workflows.DecisionApproved},
						Extras: map[string]any{
							"userClaim": "admin",
							"headers":   map[string]any{workflows.HeaderToolCallID: toolCallID},
						},
					}
					if err := c.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{forged}); err != nil {
						t.Fatalf("publish: %v", err)
					}
					m := recvMsg(t, msgs)
					if got := m.Extras["userClaim"]; got != role {
						t.Errorf("userClaim = %#v, want the user's real role %q", got, role)
					}
					if m.ClientID != name {
						t.Errorf("clientId = %q, want %q", m.ClientID, name)
					}
					h, _ := m.Extras["headers"].(map[string]any)
					if h[workflows.HeaderToolCallID] != toolCallID {
						t.Errorf("headers = %#v, want toolCallId %q", m.Extras["headers"], toolCallID)
					}

					// Least privilege: no other channel, no other clientId.
					var ei *ably.ErrorInfo
					err := c.Channels.Get("ai:other").Publish(ctx, "x", "y")
					if !errors.As(err, &ei) || ei.Code != 40160 {
						t.Errorf("publish on another channel: err = %v, want 40160", err)
					}
					spoof := &ably.Message{Name: workflows.MsgApprovalRequest, Data: "x", ClientID: workflows.DefaultAgentClientID}
					err = c.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{spoof})
					// ably-go refuses it itself once the token pinned the
					// clientId (RTL6g3); the server would NACK it with 40012.
					pinned := err != nil && strings.Contains(err.Error(), "library clientId ("+name+")")
					if !pinned && (!errors.As(err, &ei) || ei.Code != ably.ErrInvalidClientID) {
						t.Errorf("publish as %s: err = %v, want a clientId error", workflows.DefaultAgentClientID, err)
					}
				})
			}
		})
	}
}

// A wrong password never yields a connection.
func TestWrongPasswordNoConnection(t *testing.T) {
	st := startStack(t, map[string][2]string{"alice": {"publisher", "alice-password"}})
	if _, err := st.fetchToken(t.Context(), "alice", "nope-nope"); err == nil {
		t.Fatal("token issued for a wrong password")
	}
	cb := ably.WithAuthCallback(func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		tok, err := st.fetchToken(ctx, "alice", "nope-nope")
		if err != nil {
			return nil, err
		}
		return ably.TokenString(tok), nil
	})
	c, err := ablyconn.NewRealtime(append(st.endpoint(false), cb)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	testutil.Eventually(t, 10*time.Second, "the connection to give up", func() bool {
		switch c.Connection.State() {
		case ably.ConnectionStateConnected:
			t.Fatal("connected with a wrong password")
		case ably.ConnectionStateDisconnected, ably.ConnectionStateFailed, ably.ConnectionStateSuspended:
			return true
		}
		return false
	})
	if c.Connection.ErrorReason() == nil {
		t.Errorf("no error reason after a failed auth")
	}
}
