package main

// End-to-end tests of the devstack program itself (issue 5, acceptance 1
// and 4): the real binary, run as a separate process on spare loopback
// ports with its state, built programs and posts under t.TempDir(), the
// pinned Temporal CLI passed with --temporal-cli so nothing is built with
// go install.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/hitl/durable-approvals/internal/devstack"
	"github.com/hitl/durable-approvals/internal/temporaltest"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// programs are devstack, starter and approver, built once per test binary.
var programs struct {
	once sync.Once
	dir  string
	err  error
}

// buildPrograms builds the three programs into a directory shared by the
// tests of this binary (removed by TestMain).
func buildPrograms(t *testing.T) string {
	t.Helper()
	programs.once.Do(func() {
		dir, err := os.MkdirTemp("", "devstack-e2e-")
		if err != nil {
			programs.err = err
			return
		}
		programs.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator), "./devstack", "./starter", "./approver")
		cmd.Dir = repoRoot(t)
		if out, err := cmd.CombinedOutput(); err != nil {
			programs.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if programs.err != nil {
		t.Fatal(programs.err)
	}
	return programs.dir
}

func removePrograms() {
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("%s is not the repository root: %v", root, err)
	}
	return root
}

// e2eStack is one devstack invocation's settings: spare ports, a work
// directory, the pinned Temporal CLI.
type e2eStack struct {
	root, work, cli string
	ports           devstack.Ports
}

func newE2EStack(t *testing.T) e2eStack {
	t.Helper()
	s := e2eStack{
		root:  repoRoot(t),
		work:  t.TempDir(),
		cli:   temporaltest.CLI(t), // fails (never skips) when the CLI is missing
		ports: devstack.Ports{Temporal: testutil.FreePort(t), UI: testutil.FreePort(t), Ably: testutil.FreePort(t), Auth: testutil.FreePort(t), Model: testutil.FreePort(t)},
	}
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, filepath.Join(s.work, "state", "logs"))
		}
	})
	return s
}

// logTails logs the end of each log file in dir.
func logTails(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if len(data) > 4000 {
			data = data[len(data)-4000:]
		}
		t.Logf("--- end of %s:\n%s", e.Name(), data)
	}
}

func (s e2eStack) args(cmd string) []string {
	args := []string{cmd, "--root", s.root, "--work", s.work,
		"--temporal-port", strconv.Itoa(s.ports.Temporal), "--ui-port", strconv.Itoa(s.ports.UI),
		"--ably-port", strconv.Itoa(s.ports.Ably), "--auth-port", strconv.Itoa(s.ports.Auth),
		"--model-port", strconv.Itoa(s.ports.Model)}
	if cmd != "env" {
		args = append(args, "--temporal-cli", s.cli, "--timeout", "2m")
	}
	return args
}

func (s e2eStack) blogDir() string { return filepath.Join(s.work, "posts") }

// childEnv is the test's environment without anything that would point the
// programs elsewhere: no OpenAI key (so the scripted model runs), no Ably,
// Temporal or project settings; plus vars.
func childEnv(vars ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "OPENAI_") || strings.HasPrefix(name, "ABLY_") || strings.HasPrefix(name, "TEMPORAL_") ||
			strings.HasPrefix(name, "HITL_") || strings.HasPrefix(name, "AUTH_") || strings.HasPrefix(name, "APPROVER_") ||
			strings.HasPrefix(name, "BLOG_") || strings.HasPrefix(name, "DEVSTACK_") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, vars...)
}

// waitFor polls until cond holds, failing with what after timeout; exited
// ends the wait early.
func waitFor(t *testing.T, what string, timeout time.Duration, exited <-chan struct{}, out fmt.Stringer, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, timeout, what, func() (bool, error) {
		if cond() {
			return true, nil
		}
		select {
		case <-exited:
			if !cond() {
				t.Fatalf("the process exited while waiting for %s; output:\n%s", what, out)
			}
			return true, nil
		default:
		}
		return false, fmt.Errorf("output:\n%s", out)
	})
}

// running is a devstack process.
type running struct {
	cmd    *exec.Cmd
	out    *testutil.SyncBuffer
	exited chan struct{}
	err    error // Wait's result, set before exited is closed
}

func (r *running) wait(timeout time.Duration) error {
	select {
	case <-r.exited:
		return r.err
	case <-time.After(timeout):
		return fmt.Errorf("did not exit within %s", timeout)
	}
}

// track reaps cmd and kills what is left of it at cleanup: its process
// group and the process groups of its descendants (the devstack puts each
// child in its own group).
func track(t *testing.T, cmd *exec.Cmd, out *testutil.SyncBuffer) *running {
	t.Helper()
	r := &running{cmd: cmd, out: out, exited: make(chan struct{})}
	pid := cmd.Process.Pid
	var mu sync.Mutex
	seen := map[int]bool{}
	record := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range descendants(pid) {
			seen[p] = true
		}
	}
	stopRecording := make(chan struct{})
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			record()
			select {
			case <-stopRecording:
				return
			case <-tick.C:
			}
		}
	}()
	go func() {
		r.err = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		close(stopRecording)
		mu.Lock()
		pids := make([]int, 0, len(seen))
		for p := range seen {
			pids = append(pids, p)
		}
		mu.Unlock()
		select {
		case <-r.exited:
		default:
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-r.exited
		}
		for _, p := range pids {
			if alive(p) {
				_ = syscall.Kill(-p, syscall.SIGKILL)
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
	return r
}

// descendants lists the live descendants of pid from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, ok := parentPid(p); ok {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 && len(out) < 1000 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentPid reads the ppid of a live (not zombie) process.
func parentPid(pid int) (int, bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 2 || f[0] == "Z" {
		return 0, false
	}
	pp, err := strconv.Atoi(f[1])
	return pp, err == nil
}

// alive reports whether pid is a live (not zombie) process.
func alive(pid int) bool {
	_, ok := parentPid(pid)
	return ok
}

// childNames maps the descendants of pid to their executable names.
func childNames(pid int) map[int]string {
	out := map[int]string{}
	for _, p := range descendants(pid) {
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		if err == nil {
			out[p] = strings.TrimSuffix(filepath.Base(exe), " (deleted)")
		}
	}
	return out
}

// waitChildren polls until pid has descendants running all of names, and
// returns their pids.
func waitChildren(t *testing.T, r *running, names []string) []int {
	t.Helper()
	var pids []int
	waitFor(t, fmt.Sprintf("child processes %v", names), 30*time.Second, r.exited, r.out, func() bool {
		got := childNames(r.cmd.Process.Pid)
		pids = pids[:0]
		for _, want := range names {
			found := false
			for p, n := range got {
				if n == want {
					pids = append(pids, p)
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	return pids
}

// assertGone checks that the processes exited (the devstack stopped and
// reaped them).
func assertGone(t *testing.T, pids []int) {
	t.Helper()
	for _, p := range pids {
		if alive(p) {
			t.Errorf("process %d still running after the devstack exited", p)
		}
	}
}

// stackChildren are the executables the devstack runs: the Temporal CLI,
// the worker, and the approver binary (the bridge; in the demo also the
// human CLI).
var stackChildren = []string{"temporal", devstack.BinWorker, devstack.BinApprover}

func TestDemo(t *testing.T) {
	bins := buildPrograms(t)
	tests := []struct {
		name   string
		answer []string // lines typed, each after its prompt
		// closeInput ends the input (Ctrl-D) right after the answer: the
		// approver exits, and the demo still waits for the run.
		closeInput bool
		check      func(t *testing.T, out string, posts []string)
	}{
		{name: "approve, then input closed", answer: []string{"y"}, closeInput: true, check: func(t *testing.T, out string, posts []string) {
			if len(posts) != 1 {
				t.Fatalf("posts after approval: %q, want one", posts)
			}
			if !strings.Contains(out, "Published: ") || !strings.Contains(out, posts[0]) {
				t.Errorf("output does not say where the post was published (%s)", posts[0])
			}
			for _, kind := range []string{"approved", "executed"} {
				if !auditRow(kind, "").MatchString(out) {
					t.Errorf("no %s row in the audit trail", kind)
				}
			}
		}},
		{name: "reject", answer: []string{"n", "not today"}, check: func(t *testing.T, out string, posts []string) {
			if len(posts) != 0 {
				t.Errorf("posts after rejection: %q, want none", posts)
			}
			if !strings.Contains(out, "Nothing was published.") {
				t.Error("output does not say nothing was published")
			}
			if !auditRow("rejected", "not today").MatchString(out) {
				t.Error("no rejected row with the reason in the audit trail")
			}
			if auditRow("executed", "").MatchString(out) {
				t.Error("the tool ran after a rejection")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newE2EStack(t)
			start := time.Now()
			cmd := exec.Command(filepath.Join(bins, "devstack"), s.args("demo")...)
			cmd.Env = childEnv()
			cmd.Dir = t.TempDir()
			ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 60, Cols: 200})
			if err != nil {
				t.Fatal(err)
			}
			out := &testutil.SyncBuffer{}
			copied := make(chan struct{})
			go func() {
				_, _ = io.Copy(out, ptmx) // ends with EIO when the demo exits
				close(copied)
			}()
			r := track(t, cmd, out)
			t.Cleanup(func() {
				ptmx.Close()
				<-copied
			})

			prompt := "Approve this action? (y/n): "
			waitFor(t, "approval request", 150*time.Second, r.exited, out, func() bool {
				return strings.Contains(out.String(), prompt)
			})
			shown := out.String()
			for _, want := range []string{"APPROVAL REQUEST", "publish_blog_post", "Introducing our new API", "publisher", "Web inbox: " + "http://127.0.0.1:" + strconv.Itoa(s.ports.Auth) + "/  demo approvers: erin (editor) "} {
				if !strings.Contains(shown, want) {
					t.Errorf("the approval request lacks %q:\n%s", want, shown)
				}
			}
			if posts, _ := devstack.ListPosts(s.blogDir()); len(posts) != 0 {
				t.Errorf("posts before the decision: %q", posts)
			}
			pids := waitChildren(t, r, stackChildren)
			t.Logf("approval request shown after %s", time.Since(start).Round(time.Millisecond))

			for i, line := range tt.answer {
				if i > 0 {
					waitFor(t, "reason prompt", 30*time.Second, r.exited, out, func() bool {
						return strings.Contains(out.String(), "Reason: ")
					})
				}
				if _, err := io.WriteString(ptmx, line+"\n"); err != nil {
					t.Fatal(err)
				}
			}
			if tt.closeInput {
				if _, err := io.WriteString(ptmx, "\x04"); err != nil { // VEOF
					t.Fatal(err)
				}
			}
			if err := r.wait(90 * time.Second); err != nil {
				t.Fatalf("demo: %v; output:\n%s", err, out)
			}
			select {
			case <-copied:
			case <-time.After(10 * time.Second):
				t.Error("pty output not closed after the demo exited")
			}
			t.Logf("demo finished after %s", time.Since(start).Round(time.Millisecond))
			text := out.String()
			assertGone(t, pids)
			if !strings.Contains(text, "=== Run finished ===") {
				t.Fatalf("no result printed:\n%s", text)
			}
			answer := regexp.MustCompile(`(?m)^Answer: (.*)$`).FindStringSubmatch(text)
			if answer == nil || !strings.Contains(answer[1], "[scripted model]") {
				t.Errorf("answer %q is not the scripted model's", answer)
			}
			link := regexp.MustCompile(fmt.Sprintf(`http://127\.0\.0\.1:%d/namespaces/default/workflows/hitl-demo-[0-9a-f]+`, s.ports.UI))
			if !link.MatchString(text) {
				t.Errorf("no Web UI link of the run in the output")
			}
			posts, err := devstack.ListPosts(s.blogDir())
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, text, posts)
			if t.Failed() {
				t.Logf("output:\n%s", text)
			}
		})
	}
}

// auditRow matches a row of the demo's audit table: time, kind,
// publish_blog_post, then the rest of the line containing rest.
func auditRow(kind, rest string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d +` + regexp.QuoteMeta(kind) + ` +publish_blog_post .*` + regexp.QuoteMeta(rest))
}

// startDevstack starts the built devstack with args in a process group
// of its own (so the cleanup stops its children too), output captured in
// the returned running's out.
func startDevstack(t *testing.T, bins string, args ...string) *running {
	t.Helper()
	cmd := exec.Command(filepath.Join(bins, "devstack"), args...)
	cmd.Env = childEnv()
	cmd.Dir = t.TempDir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return track(t, cmd, out)
}

// startUp runs `devstack up` and waits until it says the stack is up.
func startUp(t *testing.T, bins string, s e2eStack) (*running, []int) {
	t.Helper()
	r := startDevstack(t, bins, s.args("up")...)
	out := r.out
	waitFor(t, `"The dev stack is up."`, 150*time.Second, r.exited, out, func() bool {
		return strings.Contains(out.String(), "The dev stack is up.")
	})
	return r, waitChildren(t, r, []string{"temporal", devstack.BinWorker, devstack.BinApprover})
}

// interrupt stops the stack as Ctrl-C does and checks it exits cleanly,
// leaving no child process.
func interrupt(t *testing.T, r *running, pids []int) {
	t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := r.wait(60 * time.Second); err != nil {
		t.Fatalf("devstack up after Ctrl-C: %v; output:\n%s", err, r.out)
	}
	assertGone(t, pids)
	for _, want := range []string{"stopping the dev stack", "the dev stack stopped; its state is kept in"} {
		if !strings.Contains(r.out.String(), want) {
			t.Errorf("no %q:\n%s", want, r.out)
		}
	}
}

// runProgram runs one of the built programs to completion.
func runProgram(t *testing.T, ctx context.Context, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(bin), args, err, out)
	}
	return string(out)
}

// parseExports reads the `export NAME=VALUE` lines of `devstack env`.
func parseExports(t *testing.T, text string) []string {
	t.Helper()
	var vars []string
	for line := range strings.Lines(text) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "export ")
		if !ok {
			continue
		}
		name, value, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("bad export line %q", line)
		}
		if strings.HasPrefix(value, "'") {
			if len(value) < 2 || !strings.HasSuffix(value, "'") {
				t.Fatalf("bad quoting in %q", line)
			}
			value = strings.ReplaceAll(value[1:len(value)-1], `'\''`, "'")
		}
		vars = append(vars, name+"="+value)
	}
	return vars
}

func dialTest(t *testing.T, ctx context.Context, s e2eStack) client.Client {
	t.Helper()
	tc, err := client.DialContext(ctx, client.Options{
		HostPort: net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ports.Temporal)),
		Logger:   tlog.NewStructuredLogger(slog.New(slog.DiscardHandler)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tc.Close)
	return tc
}

// waitPending polls the run's approvals query until one approval is
// pending (at most a minute), and returns it.
func waitPending(t *testing.T, ctx context.Context, tc client.Client, id string) workflows.PendingApproval {
	t.Helper()
	var pending workflows.PendingApproval
	testutil.WaitFor(t, time.Minute, "one pending approval in "+id, func() (bool, error) {
		v, err := tc.QueryWorkflow(ctx, id, "", workflows.ApprovalsQuery)
		if err != nil {
			return false, err
		}
		var view workflows.ApprovalsView
		if err := v.Get(&view); err != nil {
			return false, err
		}
		if len(view.Pending) != 1 {
			return false, fmt.Errorf("%d pending", len(view.Pending))
		}
		pending = view.Pending[0]
		return true, nil
	})
	return pending
}

// TestStackRestartKeepsPendingApproval: with the stack stopped (Ctrl-C)
// while an approval is pending and started again, the approval is still
// pending, and approving it completes the run, the tool executed once.
func TestStackRestartKeepsPendingApproval(t *testing.T) {
	bins := buildPrograms(t)
	s := newE2EStack(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	start := time.Now()

	r, pids := startUp(t, bins, s)
	t.Logf("stack up after %s", time.Since(start).Round(time.Millisecond))
	env := childEnv(parseExports(t, runProgram(t, ctx, filepath.Join(bins, "devstack"), childEnv(), s.args("env")...))...)
	out := runProgram(t, ctx, filepath.Join(bins, "starter"), env, "--requester", "restart-test", "Publish the blog post called 'Survives a restart'")
	m := regexp.MustCompile(`Started workflow (hitl-[0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("starter printed no workflow id:\n%s", out)
	}
	id := m[1]
	tc := dialTest(t, ctx, s)
	before := waitPending(t, ctx, tc, id)
	if before.Tool != "publish_blog_post" || before.RequiredRole != "publisher" {
		t.Errorf("pending = %+v", before)
	}

	interrupt(t, r, pids)
	t.Logf("stack stopped after %s", time.Since(start).Round(time.Millisecond))
	if posts, _ := devstack.ListPosts(s.blogDir()); len(posts) != 0 {
		t.Fatalf("posts before approval: %q", posts)
	}

	r, pids = startUp(t, bins, s)
	t.Logf("stack up again after %s", time.Since(start).Round(time.Millisecond))
	tc = dialTest(t, ctx, s)
	if !strings.Contains(r.out.String(), "re-announced 1 pending approval request(s)") {
		t.Errorf("the restarted stack did not re-announce the pending approval:\n%s", r.out)
	}
	after := waitPending(t, ctx, tc, id)
	if after.ToolCallID != before.ToolCallID {
		t.Fatalf("pending tool call %s after the restart, want %s", after.ToolCallID, before.ToolCallID)
	}

	data, err := os.ReadFile(filepath.Join(s.work, "state", devstack.SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	var secrets devstack.Secrets
	if err := json.Unmarshal(data, &secrets); err != nil {
		t.Fatal(err)
	}
	pat, ok := secrets.User("pat")
	if !ok || pat.Role != "publisher" {
		t.Fatalf("no demo publisher in the secrets: %+v", secrets.Users)
	}
	approverEnv := append(slices.Clone(env), "APPROVER_USER="+pat.Name, "APPROVER_PASSWORD="+pat.Password)
	out = runProgram(t, ctx, filepath.Join(bins, "approver"), approverEnv, "approve", after.ToolCallID)
	if !strings.Contains(out, "Decision sent: approved") {
		t.Errorf("approver output:\n%s", out)
	}

	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	var res workflows.AgentResult
	if err := tc.GetWorkflow(rctx, id, "").Get(rctx, &res); err != nil {
		t.Fatalf("run %s: %v; devstack output:\n%s", id, err, r.out)
	}
	executed := 0
	for _, e := range res.Audit {
		if e.Kind == workflows.AuditExecuted {
			executed++
			if e.Tool != "publish_blog_post" || e.ToolCallID != before.ToolCallID {
				t.Errorf("executed entry %+v", e)
			}
		}
	}
	if executed != 1 {
		t.Errorf("audit has %d executed entries, want 1: %+v", executed, res.Audit)
	}
	posts, err := devstack.ListPosts(s.blogDir())
	if err != nil || len(posts) != 1 {
		t.Errorf("posts = %q, %v; want one", posts, err)
	}
	if !strings.HasPrefix(res.Answer, "[scripted model]") {
		t.Errorf("answer %q", res.Answer)
	}
	interrupt(t, r, pids)
	t.Logf("done after %s", time.Since(start).Round(time.Millisecond))
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Error("the test ran out of time")
	}
}
