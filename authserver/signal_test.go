package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// envRunMain makes the test binary run the command's main with its own
// arguments instead of the tests (TestMain), so that a test sees main's
// real signal handling in a process of its own.
const envRunMain = "HITL_AUTHSERVER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		os.Args = append([]string{"authserver"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSecondSignalEndsSlowStop: the first SIGTERM starts the graceful stop,
// which waits for a login still being read (up to the server's 10 s read
// timeout); a second one ends the process at once, as a second Ctrl-C ends
// devstack, instead of being caught and ignored. (SIGINT is handled the
// same way; the test sends SIGTERM because a process started in the
// background of a shell without job control inherits SIGINT ignored, and
// a signal ignored at start stays ignored once Go stops handling it.)
func TestSecondSignalEndsSlowStop(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	if _, err := runT(t, t.Context(), config.Env{"AUTH_USERS_FILE": users}, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	cmd := exec.Command(os.Args[0], "serve")
	cmd.Env = []string{envRunMain + "=1", "AUTH_USERS_FILE=" + users, "AUTH_LISTEN=" + addr,
		"ABLY_API_KEY=" + ablytest.APIKey,
		// Nothing listens there: the start-up key check only warns.
		fmt.Sprintf("ABLY_ENDPOINT=127.0.0.1:%d", testutil.FreePort(t))}
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("authserver output:\n%s", out.String())
		}
	})
	testutil.WaitFor(t, 30*time.Second, "the server up", func() (bool, error) { return answersOK(t, "http://"+addr+"/healthz") })

	// A login whose body is still on its way holds the graceful stop.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	// Expect: 100-continue has the server say when the handler starts
	// reading the body: the connection is then accepted and active. (A
	// connection still in the kernel's backlog when the stop closes the
	// listener would be reset, and the server would stop at once.)
	if _, err := fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\nusername=", addr); err != nil {
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(20 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if status, err := bufio.NewReader(conn).ReadString('\n'); err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("the server did not start reading the login's body: %q, %v", status, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the listener closed (the graceful stop under way)", func() (bool, error) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return true, nil
		}
		c.Close()
		return false, nil
	})
	select {
	case err := <-exited:
		exited <- err
		t.Fatalf("the server stopped (%v) while the login was still being read: the test shows nothing", err)
	default:
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGTERM) {
			t.Fatalf("after the second SIGTERM: %v, want exit status 143 (config.NotifyContext)", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the second SIGTERM did not end the server: it waits for the graceful stop")
	}
}

// TestExitStatus: bad input on the command line or in the environment
// ends the process with status 2, as approver's does (config.ExitUsage), a
// failure with status 1, and -h with 0; each says what was wrong in one
// line.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.json")
	if _, err := runT(t, t.Context(), config.Env{"AUTH_USERS_FILE": users}, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	notJSON := filepath.Join(dir, "not-json.json")
	if err := os.WriteFile(notJSON, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		env  []string
		code int
		want string
	}{
		{"-h", []string{"-h"}, nil, 0, ""},
		{"an unknown flag", []string{"serve", "-bogus"}, nil, config.ExitUsage, "-bogus"},
		{"a negative AUTH_TOKEN_TTL", []string{"serve"}, []string{"AUTH_TOKEN_TTL=-1h", "ABLY_API_KEY=" + ablytest.APIKey}, config.ExitUsage, "AUTH_TOKEN_TTL"},
		{"no ABLY_API_KEY", []string{"serve"}, nil, config.ExitUsage, "ABLY_API_KEY"},
		{"a policy file that does not exist", []string{"serve"}, []string{"ABLY_API_KEY=" + ablytest.APIKey, "HITL_POLICY_FILE=" + filepath.Join(dir, "none.json")}, config.ExitUsage, "HITL_POLICY_FILE"},
		// Said before the Ably key check, naming the setting.
		{"a users file that does not exist", []string{"serve"}, []string{"AUTH_USERS_FILE=" + filepath.Join(dir, "none.json"), "ABLY_API_KEY=" + ablytest.APIKey,
			"ABLY_ENDPOINT=" + testutil.SilentServer(t)}, config.ExitUsage, "(-users, AUTH_USERS_FILE): make it with `authserver useradd`"},
		{"a users file that does not parse", []string{"serve"}, []string{"AUTH_USERS_FILE=" + notJSON, "ABLY_API_KEY=" + ablytest.APIKey,
			"ABLY_ENDPOINT=" + testutil.SilentServer(t)}, config.ExitUsage, "(-users, AUTH_USERS_FILE)"},
		{"userdel of a user who is not there", []string{"userdel", "-name", "bob"}, []string{"AUTH_USERS_FILE=" + users}, config.ExitError, "bob"},
		// Said before the Ably key check, which waits 10 s for an Ably
		// that does not answer.
		{"a TLS certificate that does not exist", []string{"serve"}, []string{"AUTH_USERS_FILE=" + users, "ABLY_API_KEY=" + ablytest.APIKey,
			"ABLY_ENDPOINT=" + testutil.SilentServer(t), "AUTH_TLS_CERT=" + filepath.Join(dir, "none.pem"), "AUTH_TLS_KEY=" + filepath.Join(dir, "none.key"),
			fmt.Sprintf("AUTH_LISTEN=127.0.0.1:%d", testutil.FreePort(t))}, config.ExitUsage, "AUTH_TLS_CERT"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tt.args...)
			cmd.Env = append([]string{envRunMain + "=1"}, tt.env...)
			start := time.Now()
			out, err := cmd.CombinedOutput()
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("the error took %s: bad input is said before anything is contacted", d)
			}
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || !strings.Contains(string(out), tt.want) {
				t.Errorf("exit status %d, want %d; output (want %q in it):\n%s", code, tt.code, tt.want, out)
			}
		})
	}
}

// TestStoppedDuringTheKeyCheck: a server told to stop while it checks its
// Ably key (up to 10 s when Ably does not answer) stops there, saying so;
// it went on to listen ("auth server listening") and only then stopped.
func TestStoppedDuringTheKeyCheck(t *testing.T) {
	users := filepath.Join(t.TempDir(), "users.json")
	if _, err := runT(t, t.Context(), config.Env{"AUTH_USERS_FILE": users}, "alice-password\n", "useradd", "-name", "alice", "-role", "publisher"); err != nil {
		t.Fatal(err)
	}
	ablyAddr, asked := testutil.SilentServerConns(t)
	env := config.Env{"AUTH_USERS_FILE": users, "ABLY_API_KEY": ablytest.APIKey, "ABLY_ENDPOINT": ablyAddr,
		"AUTH_LISTEN": fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() { done <- mainErr(ctx, []string{"serve"}, env, strings.NewReader(""), &out, &out) }()
	testutil.Eventually(t, 20*time.Second, "the users file loaded (the key check next)", func() bool {
		return strings.Contains(out.String(), "users file loaded")
	})
	testutil.Eventually(t, 20*time.Second, "the key check asking Ably (which never answers)", func() bool { return asked() > 0 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve = %v after the stop, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not stop during its key check")
	}
	if l := out.String(); strings.Contains(l, "auth server listening") || !strings.Contains(l, "auth server stopped before it listened") {
		t.Errorf("want one line that it stopped before it listened, and no listening:\n%s", l)
	}
}
