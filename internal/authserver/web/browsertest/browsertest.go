// Package browsertest runs the web inbox's browser driver for tests:
// Debian's Chromium, headless, through playwright-core
// (app/browsertest/driver.mjs, with the npm packages of app/). A test
// sends it JSON commands (open a page, log in, read a card, press a
// button, measure…) and reads the answers. A missing Chromium, Node or
// npm install fails the test with what to install; it never skips.
//
// It is a test helper: only tests import it.
package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// The inbox's npm project: the browser driver and its playwright-core.
const (
	webAppDir  = "internal/authserver/web/app"
	npmWebHint = "run `npm ci --prefix " + webAppDir + "` (make tools does)"
	// EnvChromium names the Chromium binary; Debian's is the default.
	EnvChromium     = "HITL_CHROMIUM"
	defaultChromium = "/usr/bin/chromium"
	// callTimeout bounds one driver command; the commands bound their own
	// waits below it.
	callTimeout = 90 * time.Second
)

// Driver is a running app/browsertest/driver.mjs: Debian's Chromium,
// headless, through playwright-core. Commands and answers are JSON lines;
// driver.mjs documents the commands.
type Driver struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr *testutil.SyncBuffer

	mu   sync.Mutex
	next int
}

// Start starts the driver, or fails the test saying what to install: it
// never skips. t.Cleanup closes the browser.
func Start(t *testing.T) *Driver {
	t.Helper()
	root := testutil.ModuleRoot(t)
	node := requireNode(t)
	chrome := os.Getenv(EnvChromium)
	if chrome == "" {
		chrome = defaultChromium
	}
	if _, err := os.Stat(chrome); err != nil {
		t.Fatalf("Chromium is missing (%v): apt-get install -y chromium (.ci/run does), or set %s", err, EnvChromium)
	}
	if _, err := os.Stat(filepath.Join(root, webAppDir, "node_modules", "playwright-core", "package.json")); err != nil {
		t.Fatalf("playwright-core is not installed (%v): %s", err, npmWebHint)
	}
	d := &Driver{lines: make(chan string, 16), stderr: &testutil.SyncBuffer{}}
	d.cmd = exec.Command(node, "browsertest/driver.mjs", "--chromium", chrome)
	d.cmd.Dir = filepath.Join(root, webAppDir)
	// Playwright makes each browser's fresh profile directory under TMPDIR.
	// Chromium binds a unix socket in it, whose path may not pass 107
	// bytes: t.TempDir's name grows with the (sub)test's, so a short
	// directory of its own.
	tmp, err := os.MkdirTemp("", "pw-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(tmp) })
	d.cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	d.cmd.Stderr = d.stderr
	if d.in, err = d.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start the browser driver: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(d.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			d.lines <- sc.Text()
		}
	}()
	go func() {
		_ = d.cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = d.in.Close() // the driver closes the browser and exits
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("---- browser driver stderr ----\n%s", tail(d.stderr.String(), 8000))
		}
	})
	var hello struct {
		Version string `json:"version"`
	}
	if err := d.answer(0, &hello, 60*time.Second); err != nil {
		t.Fatalf("the browser driver did not start: %v\n%s", err, d.stderr)
	}
	t.Logf("Chromium %s via playwright-core", hello.Version)
	return d
}

// Do sends one command and decodes its result into out (may be nil); an
// error from the driver fails the test.
func (d *Driver) Do(t *testing.T, op string, args map[string]any, out any) {
	t.Helper()
	if err := d.Try(op, args, out); err != nil {
		t.Fatalf("browser %s %v: %v", op, args, err)
	}
}

// Try sends one command and returns the driver's error, if any.
func (d *Driver) Try(op string, args map[string]any, out any) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.next++
	id := d.next
	cmd := map[string]any{"id": id, "op": op}
	for k, v := range args {
		cmd[k] = v
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if _, err := d.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write to the driver: %w", err)
	}
	return d.answer(id, out, callTimeout)
}

// answer waits for the answer to command id.
func (d *Driver) answer(id int, out any, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-d.lines:
			if !ok {
				return fmt.Errorf("the driver exited")
			}
			var a struct {
				ID     int             `json:"id"`
				OK     bool            `json:"ok"`
				Result json.RawMessage `json:"result"`
				Error  string          `json:"error"`
			}
			if err := json.Unmarshal([]byte(line), &a); err != nil || a.ID != id {
				continue // not an answer to this command
			}
			if !a.OK {
				return fmt.Errorf("%s", a.Error)
			}
			if out == nil {
				return nil
			}
			return json.Unmarshal(a.Result, out)
		case <-deadline.C:
			return fmt.Errorf("no answer within %s", timeout)
		}
	}
}

// requireNode returns node's path; Node 20 or newer is required.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node >= 20, then %s", err, npmWebHint)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", node, err)
	}
	v := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(v, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		t.Fatalf("node %s: want Node >= 20", v)
	}
	return node
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
