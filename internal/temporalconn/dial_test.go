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

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// frontend is a Temporal frontend over real gRPC that answers
// GetSystemInfo, the call the SDK dials with, from answer.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	calls  atomic.Int32
	answer func(call int) error
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
	for _, tc := range []struct {
		name      string
		answer    func(call int) error
		wantErr   string // "" = connects
		refused   bool
		wantCalls int32 // GetSystemInfo calls the server saw, at least
	}{
		{"answers at once", func(int) error { return nil }, "", false, 1},
		{"unavailable twice, then up", func(call int) error {
			if call <= 2 {
				return unavailable
			}
			return nil
		}, "", false, 3},
		{"API key refused", func(int) error { return status.Error(codes.Unauthenticated, "bad API key") }, "bad API key", true, 1},
		{"namespace access denied", func(int) error { return status.Error(codes.PermissionDenied, "not allowed") }, "not allowed", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &frontend{answer: tc.answer}
			addr := serve(t, f)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			c, err := Dial(ctx, client.Options{HostPort: addr, Namespace: "default"}, slog.New(slog.DiscardHandler))
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

func TestDelay(t *testing.T) {
	for n, want := range map[int]time.Duration{0: 200 * time.Millisecond, 1: 400 * time.Millisecond, 5: 6400 * time.Millisecond, 6: 10 * time.Second, 1000: 10 * time.Second} {
		if got := delay(n); got != want {
			t.Errorf("delay(%d) = %s, want %s", n, got, want)
		}
	}
}
