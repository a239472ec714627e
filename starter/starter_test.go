package main

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/workflows"
)

func testEnv(t *testing.T) config.Env {
	t.Helper()
	return config.Env{"TEMPORAL_CONFIG_FILE": filepath.Join(t.TempDir(), "none.toml"), "USER": "alice"}
}

func TestLoadConfig(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		prompt    string
		requester string
		wait      bool
		wantErr   string
	}{
		{"prompt only", []string{"Publish it"}, nil, "Publish it", "alice", false, ""},
		{"flags after prompt", []string{"Publish it", "--wait", "--requester", "bob"}, nil, "Publish it", "bob", true, ""},
		{"words joined", []string{"-wait", "Publish", "the", "post"}, nil, "Publish the post", "alice", true, ""},
		{"no prompt", nil, nil, "", "", false, "no prompt"},
		{"blank prompt", []string{"   "}, nil, "", "", false, "no prompt"},
		{"blank requester flag falls back to $USER", []string{"--requester", " ", "x"}, nil, "x", "alice", false, ""},
		{"bad dial timeout", []string{"-dial-timeout", "0s", "x"}, nil, "", "", false, "dial-timeout"},
		{"negative turns", []string{"-max-turns", "-1", "x"}, nil, "", "", false, "max-turns"},
		{"too many turns", []string{"-max-turns", "100000000", "x"}, nil, "", "", false, "--max-turns 100000000: want 0"},
		{"unknown flag", []string{"-nope", "x"}, nil, "", "", false, "nope"},
		{"longest prompt", []string{strings.Repeat("a", maxPromptBytes)}, nil, strings.Repeat("a", maxPromptBytes), "alice", false, ""},
		{"huge prompt", []string{strings.Repeat("a", maxPromptBytes+1)}, nil, "", "", false, "prompt is 16385 bytes, at most 16384"},
		{"most turns", []string{"-max-turns", strconv.Itoa(workflows.MaxTurnsLimit), "x"}, nil, "x", "alice", false, ""},
		{"longest requester", []string{"--requester", strings.Repeat("r", workflows.MaxClientIDLen), "x"}, nil, "x", strings.Repeat("r", workflows.MaxClientIDLen), false, ""},
		{"requester too long", []string{"--requester", strings.Repeat("r", workflows.MaxClientIDLen+1), "x"}, nil, "", "", false, "--requester is 129 bytes, at most 128"},
		{"ui not a URL", []string{"--ui", "notaurl", "x"}, nil, "", "", false, "want the Web UI's http(s) base URL"},
		{"ui without host", []string{"--ui", "http://", "x"}, nil, "", "", false, "want the Web UI's http(s) base URL"},
		{"ui from env, bad", []string{"x"}, map[string]string{"TEMPORAL_UI_URL": "ftp://ui"}, "", "", false, "TEMPORAL_UI_URL"},
		{"temporal address malformed", []string{"x"}, map[string]string{"TEMPORAL_ADDRESS": "garbage"}, "", "", false, "want host:port"},
		// Not sent with U+FFFD in place of the bytes, nor shown to
		// approvers with a control character.
		{"prompt not UTF-8", []string{"Publish \xff it"}, nil, "", "", false, "prompt is not valid UTF-8"},
		{"multi-line prompt", []string{"Publish\n\tit"}, nil, "Publish\n\tit", "alice", false, ""},
		{"requester not UTF-8", []string{"--requester", "bob\xff", "x"}, nil, "", "", false, "--requester is not valid UTF-8"},
		{"requester with a control character", []string{"--requester", "bob\x1b[2J", "x"}, nil, "", "", false, "--requester \"bob\\x1b[2J\": unprintable character U+001B"},
		{"requester from $USER not UTF-8", []string{"x"}, map[string]string{"USER": "bob\xff"}, "", "", false, "--requester is not valid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := loadConfig(tt.args, env, io.Discard)
			if err == nil {
				err = c.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Prompt != tt.prompt || c.Requester != tt.requester || c.Wait != tt.wait {
				t.Errorf("got prompt %q requester %q wait %v", c.Prompt, c.Requester, c.Wait)
			}
			if c.UIURL != "http://127.0.0.1:8233" || c.Temporal.HostPort != "127.0.0.1:7233" {
				t.Errorf("defaults: %+v", c)
			}
		})
	}
}

func TestWorkflowLink(t *testing.T) {
	tests := []struct{ ui, ns, id, want string }{
		{"http://127.0.0.1:8233", "default", "hitl-0a1b2c3d", "http://127.0.0.1:8233/namespaces/default/workflows/hitl-0a1b2c3d"},
		{"http://ui:8080/", "prod", "hitl-x", "http://ui:8080/namespaces/prod/workflows/hitl-x"},
		{"http://ui", "a/b", "id with space", "http://ui/namespaces/a%2Fb/workflows/id%20with%20space"},
		{"https://alice:s3cret@ui.example/temporal/", "prod", "hitl-x", "https://ui.example/temporal/namespaces/prod/workflows/hitl-x"},
		{"https://ui.example/?org=acme", "prod", "hitl-x", "https://ui.example/namespaces/prod/workflows/hitl-x?org=acme"},
	}
	for _, tt := range tests {
		if got := workflowLink(tt.ui, tt.ns, tt.id); got != tt.want {
			t.Errorf("workflowLink(%q, %q, %q) = %q, want %q", tt.ui, tt.ns, tt.id, got, tt.want)
		}
	}
}

func TestNewWorkflowID(t *testing.T) {
	seed := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 4)
	id, err := newWorkflowID(bytes.NewReader(seed))
	if want := "hitl-" + strings.Repeat("deadbeef", 4); err != nil || id != want {
		t.Errorf("newWorkflowID = %q, %v; want %q", id, err, want)
	}
	if _, err := newWorkflowID(iotest.ErrReader(errors.New("no entropy"))); err == nil {
		t.Error("newWorkflowID with a failing reader: no error")
	}
	// Fewer than 128 bits of randomness is an error, not a short id.
	if id, err := newWorkflowID(bytes.NewReader(seed[:15])); err == nil {
		t.Errorf("newWorkflowID with 15 random bytes = %q, want an error", id)
	}

	idRE := regexp.MustCompile(`^hitl-[0-9a-f]{32}$`)
	seen := make(map[string]bool)
	for range 1000 {
		id, err := newWorkflowID(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if !idRE.MatchString(id) {
			t.Fatalf("id %q does not match %s", id, idRE)
		}
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestDefaultRequester(t *testing.T) {
	osUser := func(name string, err error) func() (*user.User, error) {
		return func() (*user.User, error) { return &user.User{Username: name}, err }
	}
	tests := []struct {
		name    string
		env     config.Env
		current func() (*user.User, error)
		want    string
	}{
		{"$USER wins", config.Env{"USER": "alice"}, osUser("root", nil), "alice"},
		{"no $USER: OS user", config.Env{}, osUser("root", nil), "root"},
		{"blank $USER: OS user", config.Env{"USER": "  "}, osUser("root", nil), "root"},
		{"no $USER, no OS user", config.Env{}, osUser("", errors.New("user: unknown userid 1000")), unknownRequester},
		{"no $USER, blank OS user name", config.Env{}, osUser(" ", nil), unknownRequester},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := defaultRequester(tt.env, tt.current); got != tt.want {
				t.Errorf("defaultRequester = %q, want %q", got, tt.want)
			}
		})
	}
}

// Containers and CI often run as root without $USER: the starter must
// still start, naming the OS user (or "unknown") as the requester, and
// --requester still wins.
func TestLoadConfigWithoutUSER(t *testing.T) {
	want := unknownRequester
	if u, err := user.Current(); err == nil && strings.TrimSpace(u.Username) != "" {
		want = strings.TrimSpace(u.Username)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"fallback", []string{"x"}, want},
		{"flag wins", []string{"--requester", "bob", "x"}, "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := testEnv(t)
			delete(env, "USER")
			c, err := loadConfig(tt.args, env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if c.Requester != tt.want {
				t.Errorf("requester = %q, want %q", c.Requester, tt.want)
			}
		})
	}
}

func TestStartOptions(t *testing.T) {
	prompt := "Publish the blog post called 'Introducing our new API'\n" + strings.Repeat("more ", 100)
	o := startOptions("hitl-1", prompt, "al|ce")
	if o.ID != "hitl-1" || o.TaskQueue != workflows.TaskQueue {
		t.Errorf("id/queue = %s/%s", o.ID, o.TaskQueue)
	}
	if !o.WorkflowExecutionErrorWhenAlreadyStarted {
		t.Error("WorkflowExecutionErrorWhenAlreadyStarted is false: an id collision would silently return the other run")
	}
	if n := len([]rune(o.StaticSummary)); n > maxSummaryRunes || strings.Contains(o.StaticSummary, "\n") || !strings.HasSuffix(o.StaticSummary, "…") {
		t.Errorf("summary %q: %d runes, want one truncated line", o.StaticSummary, n)
	}
	for _, want := range []string{`al\|ce`, "**Prompt:** Publish the blog post"} {
		if !strings.Contains(o.StaticDetails, want) {
			t.Errorf("details lack %q:\n%s", want, o.StaticDetails)
		}
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a\nb\tc", 10, "a b c"},
		{"héllo wörld", 5, "héll…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestPrintResult(t *testing.T) {
	at := time.Date(2026, 11, 25, 13, 4, 5, 0, time.UTC)
	res := workflows.AgentResult{Answer: "Published.", Turns: 2, Audit: []workflows.AuditEntry{
		{Time: at, Kind: workflows.AuditRequested, Tool: "publish_blog_post", ToolCallID: "call_1"},
		{Time: at.Add(time.Second), Kind: workflows.AuditApproved, Tool: "publish_blog_post", ToolCallID: "call_1", Actor: "pat", Role: "publisher"},
		{Time: at.Add(2 * time.Second), Kind: workflows.AuditIgnored, ToolCallID: "call_1", Actor: "erin", Role: "editor", Reason: "insufficient role:\teditor < publisher"},
	}}
	var b bytes.Buffer
	if err := printResult(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.Contains(out, "Answer (2 model turns):\nPublished.") {
		t.Errorf("no answer in:\n%s", out)
	}
	header := slicesIndex(lines, "TIME")
	if header < 0 || len(lines)-header-1 != 3 {
		t.Fatalf("want a header and 3 rows:\n%s", out)
	}
	for _, want := range []string{"13:04:05  requested", "approved", "pat", "publisher", "insufficient role: editor < publisher"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Columns line up: every row has KIND at the header's KIND offset.
	col := strings.Index(lines[header], "KIND")
	for _, l := range lines[header+1:] {
		if len(l) < col || l[col-2:col] != "  " {
			t.Errorf("row %q not aligned at column %d", l, col)
		}
	}
	b.Reset()
	if err := printAudit(&b, nil); err != nil || !strings.Contains(b.String(), "(empty)") {
		t.Errorf("empty audit: %q, %v", b.String(), err)
	}
	// A model that ends its last turn with no text: said so, not a blank.
	for _, answer := range []string{"", " \n "} {
		b.Reset()
		if err := printResult(&b, workflows.AgentResult{Answer: answer, Turns: 2}); err != nil {
			t.Fatal(err)
		}
		if want := "Answer (2 model turns):\n" + noAnswer + "\n"; !strings.Contains(b.String(), want) {
			t.Errorf("answer %q: output %q, want %q in it", answer, b.String(), want)
		}
	}
}

// What approvers and the model wrote reaches the terminal quoted when it
// holds control characters: an approver's reason cannot drive the
// operator's terminal.
func TestPrintResultQuotesControlCharacters(t *testing.T) {
	res := workflows.AgentResult{Answer: "Done.\x1b]0;owned\x07", Turns: 1, Audit: []workflows.AuditEntry{
		{Time: time.Now(), Kind: workflows.AuditRejected, ToolCallID: "call_1", Actor: "ada", Role: "admin", Reason: "bad\x1b[31mRED\x1b[0m idea"},
	}}
	var b bytes.Buffer
	if err := printResult(&b, res); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsRune(out, 0x1b) || strings.ContainsRune(out, 0x07) {
		t.Fatalf("control characters reached the output: %q", out)
	}
	for _, want := range []string{`"bad\x1b[31mRED\x1b[0m idea"`, `"Done.\x1b]0;owned\a"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

func slicesIndex(lines []string, prefix string) int {
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return i
		}
	}
	return -1
}

// A refused --ui (TEMPORAL_UI_URL) is named in the error without what a
// URL may carry as a credential: its user information and its query.
func TestValidateRedactsUIURL(t *testing.T) {
	for _, ui := range []string{"ftp://u:SECRET@ui.example/?token=SECRET", "http://u:SECRET@[::1", "http://SECRET@/"} {
		t.Run(ui, func(t *testing.T) {
			c, err := loadConfig([]string{"--ui", ui, "x"}, testEnv(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			if err == nil || !strings.Contains(err.Error(), "--ui") {
				t.Fatalf("Validate() = %v, want the --ui refused", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("Validate() = %v shows a credential of the URL", err)
			}
		})
	}
}

// TestValidateReportsEveryProblem: a command line with several mistakes
// has them all named in the one error, not only the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		want []string
	}{
		{"prompt and flags", []string{"-dial-timeout", "0s", "-max-turns", "-1", "--ui", "notaurl"},
			[]string{"no prompt", "--dial-timeout must be positive", "--max-turns -1: want 0", "--ui \"notaurl\""}},
		{"prompt and requester", []string{"--requester", strings.Repeat("r", workflows.MaxClientIDLen+1), "Publish \xff it"},
			[]string{"prompt is not valid UTF-8", "--requester is 129 bytes"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(tt.args, testEnv(t), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Validate()
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("Validate() = %v, want it to say %q", err, want)
				}
			}
		})
	}
}
