package e2e

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// devServer is a Temporal CLI dev server on spare loopback ports.
type devServer struct {
	Address string
	UIPort  int
	proc    *proc
	args    []string
}

// startDevServer starts a dev server whose state lives in dbFile.
func startDevServer(t testing.TB, dbFile string) *devServer {
	t.Helper()
	port, ui, httpPort, metrics := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	s := &devServer{Address: fmt.Sprintf("127.0.0.1:%d", port), UIPort: ui}
	s.args = []string{"server", "start-dev", "--ip", "127.0.0.1",
		"--port", fmt.Sprint(port), "--ui-port", fmt.Sprint(ui), "--http-port", fmt.Sprint(httpPort),
		"--metrics-port", fmt.Sprint(metrics), "--db-filename", dbFile, "--log-level", "error",
	}
	s.args = append(s.args, temporaltest.SearchAttributeArgs()...)
	s.start(t)
	return s
}

func (s *devServer) start(t testing.TB) {
	t.Helper()
	s.proc = start(t, "temporal", nil, temporaltest.CLI(t), s.args...)
	testutil.WaitFor(t, 90*time.Second, "Temporal dev server at "+s.Address, func() (bool, error) {
		c, err := client.Dial(client.Options{HostPort: s.Address, Logger: quietLogger{}})
		if err != nil {
			return false, err
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = c.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err == nil, err
	})
}

// restart stops the server gracefully and starts it again on the same
// ports and database.
func (s *devServer) restart(t testing.TB) {
	t.Helper()
	s.proc.stop(syscall.SIGTERM, 20*time.Second)
	s.start(t)
}

func (s *devServer) client(t testing.TB) client.Client {
	t.Helper()
	c, err := client.Dial(client.Options{HostPort: s.Address, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// quietLogger drops the SDK's logs in tests.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
