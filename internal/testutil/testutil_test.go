package testutil

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func TestWaitForReturnsOnceTrue(t *testing.T) {
	n := 0
	WaitFor(t, 5*time.Second, "third call", func() (bool, error) {
		n++
		return n == 3, errors.New("not yet")
	})
	if n != 3 {
		t.Fatalf("cond called %d times, want 3", n)
	}
}

// fakeTB records Fatalf instead of stopping the test, and Errorf.
type fakeTB struct {
	testing.TB
	failed string
	errors []string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	panic(f)
}

func TestWaitForTimesOutWithLastError(t *testing.T) {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("recover() = %v, want the fake's Fatalf", r)
			}
		}()
		WaitFor(f, 50*time.Millisecond, "never", func() (bool, error) { return false, errors.New("boom") })
	}()
	if want := "timed out after 50ms waiting for never (last error: boom)"; f.failed != want {
		t.Fatalf("failure = %q, want %q", f.failed, want)
	}
}

func TestConsistently(t *testing.T) {
	n := 0
	Consistently(t, 100*time.Millisecond, "always true", func() bool { n++; return true })
	if n < 2 {
		t.Fatalf("cond called %d times over 100ms, want it polled", n)
	}

	f := &fakeTB{TB: t}
	calls := 0
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("recover() = %v, want the fake's Fatalf", r)
			}
		}()
		Consistently(f, 5*time.Second, "the third check", func() bool { calls++; return calls < 3 })
	}()
	if want := "the third check did not hold for 5s"; f.failed != want || calls != 3 {
		t.Fatalf("failure = %q after %d calls, want %q after 3", f.failed, calls, want)
	}
}

func TestSyncBufferConcurrent(t *testing.T) {
	var b SyncBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("a\r\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 8*100*2 {
		t.Fatalf("len = %d, want %d", got, 8*100*2)
	}
}

func TestFreePortIsBindable(t *testing.T) {
	p := FreePort(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
	ln.Close()
}
