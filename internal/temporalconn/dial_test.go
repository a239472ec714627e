package temporalconn

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// frontend is a Temporal frontend over real gRPC that answers
// GetSystemInfo, the call the SDK dials with, from answer, and
// CountWorkflowExecutions, the namespace check, from count (nil: zero).
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	calls  atomic.Int32
	answer func(call int) error
	counts atomic.Int32
	count  func(call int, req *workflowservice.CountWorkflowExecutionsRequest) error
}

func (f *frontend) CountWorkflowExecutions(_ context.Context, req *workflowservice.CountWorkflowExecutionsRequest) (*workflowservice.CountWorkflowExecutionsResponse, error) {
	n := int(f.counts.Add(1))
	if f.count != nil {
		if err := f.count(n, req); err != nil {
			return nil, serviceerror.ToStatus(err).Err() // as the server's interceptors send it
		}
	}
	return &workflowservice.CountWorkflowExecutionsResponse{}, nil
}

func (f *frontend) GetSystemInfo(context.Context, *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	if err := f.answer(int(f.calls.Add(1))); err != nil {
		return nil, err
	}
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

// serve runs f on a loopback port and returns its address.
func serve(t *testing.T, f *frontend) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	workflowservice.RegisterWorkflowServiceServer(s, f)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func TestDial(t *testing.T) {
	unavailable := status.Error(codes.Unavailable, "frontend is starting")
	up := func(int) error { return nil }
	for _, tc := range []struct {
		name      string
		answer    func(call int) error
		count     func(call int, req *workflowservice.CountWorkflowExecutionsRequest) error
		wantErr   string // "" = connects
		refused   bool
		namespace bool  // wantErr is ErrNamespace
		wantCalls int32 // GetSystemInfo calls the server saw, at least
	}{
		{name: "answers at once", answer: up, wantCalls: 1},
		{name: "unavailable twice, then up", answer: func(call int) error {
			if call <= 2 {
				return unavailable
			}
			return nil
		}, wantCalls: 3},
		{name: "API key refused", answer: func(int) error { return status.Error(codes.Unauthenticated, "bad API key") }, wantErr: "bad API key", refused: true, wantCalls: 1},
		{name: "namespace access denied", answer: func(int) error { return status.Error(codes.PermissionDenied, "not allowed") }, wantErr: "not allowed", refused: true, wantCalls: 1},
		{name: "request refused", answer: func(int) error { return status.Error(codes.InvalidArgument, "bad request") }, wantErr: "bad request", refused: true, wantCalls: 1},
		{name: "visibility not ready once, then up", answer: up, count: func(call int, _ *workflowservice.CountWorkflowExecutionsRequest) error {
			if call == 1 {
				return unavailable
			}
			return nil
		}, wantCalls: 1},
		{name: "no such namespace", answer: up, count: func(_ int, req *workflowservice.CountWorkflowExecutionsRequest) error {
			return serviceerror.NewNamespaceNotFound(req.GetNamespace())
		}, wantErr: `namespace "default" does not exist (TEMPORAL_NAMESPACE)`, namespace: true, wantCalls: 1},
		{name: "search attributes not registered", answer: up, count: func(int, *workflowservice.CountWorkflowExecutionsRequest) error {
			return serviceerror.NewInvalidArgument("invalid query: PendingApprovals is not a valid search attribute")
		}, wantErr: "lacks the workflow's search attributes ApprovalToolCallIDs=KeywordList, PendingApprovals=Int", namespace: true, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &frontend{answer: tc.answer, count: tc.count}
			addr := serve(t, f)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, err := dial(ctx, client.Options{HostPort: addr, Namespace: "default"}, slog.New(slog.DiscardHandler), 0)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Dial = %v, want a client", err)
				}
				c.Close()
			} else {
				if err == nil {
					c.Close()
					t.Fatalf("Dial connected, want %q", tc.wantErr)
				}
				if !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), addr) {
					t.Errorf("Dial = %v, want it to name %q and %s", err, tc.wantErr, addr)
				}
			}
			if got := errors.Is(err, ErrRefused); got != tc.refused {
				t.Errorf("errors.Is(err, ErrRefused) = %v, want %v (err %v)", got, tc.refused, err)
			}
			if got := errors.Is(err, ErrNamespace); got != tc.namespace {
				t.Errorf("errors.Is(err, ErrNamespace) = %v, want %v (err %v)", got, tc.namespace, err)
			}
			if got := f.calls.Load(); got < tc.wantCalls {
				t.Errorf("server saw %d calls, want at least %d", got, tc.wantCalls)
			}
			if tc.refused && f.calls.Load() > 3 {
				// The SDK may retry a call itself; Dial must not add rounds.
				t.Errorf("a refusal was asked %d times", f.calls.Load())
			}
		})
	}
}

// TestDialWaitsForServer starts the server only after Dial has found
// nothing listening, as when the worker starts before Temporal.
func TestDialWaitsForServer(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens until the server below starts

	logs := &testutil.SyncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	done := make(chan error, 1)
	go func() {
		c, err := Dial(t.Context(), client.Options{HostPort: addr, Namespace: "default"}, log)
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	testutil.Eventually(t, 20*time.Second, "a retry logged", func() bool {
		return strings.Contains(logs.String(), "temporal unreachable, retrying")
	})

	lis, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port was taken meanwhile: %v", err)
	}
	s := grpc.NewServer()
	workflowservice.RegisterWorkflowServiceServer(s, &frontend{answer: func(int) error { return nil }})
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Dial = %v once the server was up", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Dial still waiting 30 s after the server came up")
	}
	if !strings.Contains(logs.String(), "temporal reachable") {
		t.Errorf("no line says Temporal became reachable:\n%s", logs)
	}
}

// TestDialStopsWithContext: a worker told to stop while it waits for
// Temporal stops, and says why.
func TestDialStopsWithContext(t *testing.T) {
	addr := serve(t, &frontend{answer: func(int) error { return status.Error(codes.Unavailable, "down") }})
	ctx, cancel := context.WithTimeout(t.Context(), 700*time.Millisecond)
	defer cancel()
	_, err := Dial(ctx, client.Options{HostPort: addr, Namespace: "default"}, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want the context's error", err)
	}
	if errors.Is(err, ErrRefused) {
		t.Errorf("an unavailable server counted as a refusal: %v", err)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, w := range want {
		if got := b.Delay(i); got != w*time.Millisecond {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w*time.Millisecond)
		}
	}
	// The bridge's retries of one call: 6 tries unless told.
	if got := (Backoff{}).WithDefaults().Attempts; got != 6 {
		t.Errorf("default Attempts = %d, want 6", got)
	}
	if got := (Backoff{Attempts: 2}).WithDefaults().Attempts; got != 2 {
		t.Errorf("Attempts 2 with defaults = %d, want 2", got)
	}
	// Dial's waits: the defaults.
	for n, want := range map[int]time.Duration{0: 200 * time.Millisecond, 1: 400 * time.Millisecond, 5: 6400 * time.Millisecond, 6: 10 * time.Second, 1000: 10 * time.Second} {
		if got := (Backoff{}).Delay(n); got != want {
			t.Errorf("default Delay(%d) = %s, want %s", n, got, want)
		}
	}
}

// TestDialChecksNamespace against the pinned dev server: a namespace made
// without the workflow's search attributes, and one that does not exist,
// stop the dial with ErrNamespace; the namespace as the project makes it
// passes.
func TestDialChecksNamespace(t *testing.T) {
	bare := temporaltest.StartBareDevServer(t)
	good := temporaltest.StartDevServer(t)
	for _, tc := range []struct {
		name, address, namespace, wantErr string
	}{
		{"made without the search attributes", bare.FrontendHostPort(), "default", "lacks the workflow's search attributes"},
		{"no such namespace", good.FrontendHostPort(), "nosuchns", `namespace "nosuchns" does not exist`},
		{"as the project makes it", good.FrontendHostPort(), "default", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			c, err := dial(ctx, client.Options{HostPort: tc.address, Namespace: tc.namespace}, slog.New(slog.DiscardHandler), 0)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Dial = %v", err)
				}
				c.Close()
				return
			}
			if err == nil {
				c.Close()
				t.Fatalf("Dial connected, want %q", tc.wantErr)
			}
			if !errors.Is(err, ErrNamespace) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Dial = %v, want ErrNamespace saying %q", err, tc.wantErr)
			}
		})
	}
}

// TestDialWaitsForANewNamespace: a namespace, or search attributes, that
// the server does not know yet (created a moment ago, not yet on this
// frontend) are asked again within the grace; a namespace that stays
// unknown ends the dial after it.
func TestDialWaitsForANewNamespace(t *testing.T) {
	for name, notYet := range map[string]func(ns string) error{
		"namespace": func(ns string) error { return serviceerror.NewNamespaceNotFound(ns) },
		"search attributes": func(string) error {
			return serviceerror.NewInvalidArgument("PendingApprovals is not a valid search attribute")
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := &frontend{answer: func(int) error { return nil }, count: func(call int, req *workflowservice.CountWorkflowExecutionsRequest) error {
				if call <= 2 {
					return notYet(req.GetNamespace())
				}
				return nil
			}}
			c, err := dial(t.Context(), client.Options{HostPort: serve(t, f), Namespace: "default"}, slog.New(slog.DiscardHandler), time.Minute)
			if err != nil {
				t.Fatalf("dial = %v, want it found on the third ask", err)
			}
			c.Close()
			if n := f.counts.Load(); n != 3 {
				t.Errorf("%d asks, want 3", n)
			}
			// The client is dialled once, and its namespace asked again.
			if n := f.calls.Load(); n != 1 {
				t.Errorf("dialled %d times, want once", n)
			}
		})
	}

	never := &frontend{answer: func(int) error { return nil }, count: func(_ int, req *workflowservice.CountWorkflowExecutionsRequest) error {
		return serviceerror.NewNamespaceNotFound(req.GetNamespace())
	}}
	start := time.Now()
	_, err := dial(t.Context(), client.Options{HostPort: serve(t, never), Namespace: "default"}, slog.New(slog.DiscardHandler), time.Second)
	if !errors.Is(err, ErrNamespace) || time.Since(start) > 20*time.Second {
		t.Fatalf("dial = %v after %s, want ErrNamespace soon after the grace", err, time.Since(start))
	}
}

// TestWaitNamespace: a namespace the frontend does not know for a moment
// (a server that just restarted) is asked again; one it never knows ends
// with ErrNamespace when the context does.
func TestWaitNamespace(t *testing.T) {
	up := func(int) error { return nil }
	notFoundFor := func(n int) func(int, *workflowservice.CountWorkflowExecutionsRequest) error {
		return func(call int, req *workflowservice.CountWorkflowExecutionsRequest) error {
			if call <= n {
				return serviceerror.NewNamespaceNotFound(req.GetNamespace())
			}
			return nil
		}
	}
	for _, tt := range []struct {
		name    string
		count   func(int, *workflowservice.CountWorkflowExecutionsRequest) error
		wantErr bool
	}{
		{"known", notFoundFor(0), false},
		{"unknown for a moment", notFoundFor(2), false},
		{"never known", notFoundFor(1000), true},
		{"refused", func(int, *workflowservice.CountWorkflowExecutionsRequest) error {
			return serviceerror.NewPermissionDenied("not allowed", "")
		}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := client.Dial(client.Options{HostPort: serve(t, &frontend{answer: up, count: tt.count}), Namespace: "default",
				Logger: tlog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			defer cancel()
			err = WaitNamespace(ctx, c, "default")
			if tt.name == "refused" {
				// Another answer than ErrNamespace is returned at once.
				if err == nil || errors.Is(err, ErrNamespace) || errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("WaitNamespace = %v, want the refusal at once", err)
				}
				return
			}
			if tt.wantErr != errors.Is(err, ErrNamespace) || (!tt.wantErr && err != nil) {
				t.Fatalf("WaitNamespace = %v, want ErrNamespace: %v", err, tt.wantErr)
			}
			// Given up because the context ended: it says so, with the
			// last answer.
			if tt.wantErr && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("WaitNamespace = %v, want it to wrap the context's end", err)
			}
		})
	}
}
