package approvercli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func reqData(tc, wf string, expires time.Time) workflows.ApprovalRequestData {
	return workflows.ApprovalRequestData{
		Tool: "publish_blog_post", Arguments: `{"title":"Hello"}`, ToolCallID: tc, WorkflowID: wf,
		RequiredRole: "publisher", Requester: "bob", RequestedAt: t0, ExpiresAt: expires,
	}
}

// requestMsg is an approval-request as the agent publishes it through
// ably-go REST: JSON text with encoding "json".
func requestMsg(t *testing.T, from string, d workflows.ApprovalRequestData) *ably.Message {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return &ably.Message{
		ID: d.WorkflowID + ":" + d.ToolCallID + ":request", Name: workflows.MsgApprovalRequest, ClientID: from,
		Data: string(b), Encoding: "json",
		Extras: map[string]any{"headers": map[string]any{"toolCallId": d.ToolCallID, "workflowId": d.WorkflowID}},
	}
}

func resolvedMsg(from string, d workflows.ApprovalResolvedData) *ably.Message {
	return &ably.Message{
		ID: d.WorkflowID + ":" + d.ToolCallID + ":resolved", Name: workflows.MsgApprovalResolved, ClientID: from,
		Data: map[string]any{"toolCallId": d.ToolCallID, "workflowId": d.WorkflowID, "tool": d.Tool, "outcome": d.Outcome, "decidedBy": d.DecidedBy},
	}
}

func keys(rs []Request) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.WorkflowID+"/"+r.ToolCallID)
	}
	return out
}

func TestPendingApply(t *testing.T) {
	in10 := t0.Add(10 * time.Minute)
	tests := []struct {
		name      string
		msgs      func(t *testing.T) []*ably.Message
		advance   time.Duration
		wantKinds []EventKind
		wantList  []string
	}{
		{
			name: "agent request shown",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10))}
			},
			wantKinds: []EventKind{EventRequest},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			name: "spoofed request from another clientId ignored",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "mallory", reqData("call_1", "wf-1", in10))}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "request without clientId ignored",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "", reqData("call_1", "wf-1", in10))}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "later resolution drops the request",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{
					requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)),
					requestMsg(t, "hitl-agent", reqData("call_2", "wf-1", in10)),
					resolvedMsg("hitl-agent", workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Outcome: "approved"}),
				}
			},
			wantKinds: []EventKind{EventRequest, EventRequest, EventResolved},
			wantList:  []string{"wf-1/call_2"},
		},
		{
			name: "spoofed resolution does not hide a request",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{
					requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)),
					resolvedMsg("mallory", workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Outcome: "approved"}),
				}
			},
			wantKinds: []EventKind{EventRequest, EventIgnored},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			name: "resolution before a replayed request keeps it out",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{
					resolvedMsg("hitl-agent", workflows.ApprovalResolvedData{ToolCallID: "call_1", WorkflowID: "wf-1", Outcome: "expired"}),
					requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)),
				}
			},
			wantKinds: []EventKind{EventResolved, EventIgnored},
		},
		{
			name: "already expired request not shown",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", t0))}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "request expires later",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{
					requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)),
					requestMsg(t, "hitl-agent", reqData("call_2", "wf-2", t0.Add(time.Hour))),
				}
			},
			advance:   10 * time.Minute,
			wantKinds: []EventKind{EventRequest, EventRequest},
			wantList:  []string{"wf-2/call_2"},
		},
		{
			name: "duplicate delivery counted once",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)), requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10))}
			},
			wantKinds: []EventKind{EventRequest, EventIgnored},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			// The agent publishes a revision again (a reannouncement) under
			// another message id: the same revision is shown once.
			name: "same revision under another message id counted once",
			msgs: func(t *testing.T) []*ably.Message {
				again := requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10))
				again.ID += "-again"
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)), again}
			},
			wantKinds: []EventKind{EventRequest, EventIgnored},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			name: "bad workflow id",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call_1", "wf 1\x1b[2J", in10))}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "no tool name",
			msgs: func(t *testing.T) []*ably.Message {
				d := reqData("call_1", "wf-1", in10)
				d.Tool = ""
				return []*ably.Message{requestMsg(t, "hitl-agent", d)}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "approval-ignored without an approver",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{
					requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10)),
					{ID: "ign", Name: workflows.MsgApprovalIgnored, ClientID: "hitl-agent", Data: map[string]any{
						"toolCallId": "call_1", "workflowId": "wf-1", "tool": "publish_blog_post", "approver": "", "decision": "approved", "ablyMessageId": "m1", "reason": "r",
					}},
				}
			},
			wantKinds: []EventKind{EventRequest, EventIgnored},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			name: "headers and data disagree",
			msgs: func(t *testing.T) []*ably.Message {
				m := requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", in10))
				m.Extras["headers"] = map[string]any{"toolCallId": "call_9"}
				return []*ably.Message{m}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "guide-shaped request: ids from headers",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{{
					ID: "x", Name: workflows.MsgApprovalRequest, ClientID: "hitl-agent",
					Data:   map[string]any{"tool": "publish_blog_post", "arguments": `{"title":"t"}`},
					Extras: map[string]any{"headers": map[string]any{"toolCallId": "call_7", "workflowId": "wf-7"}},
				}}
			},
			wantKinds: []EventKind{EventRequest},
			wantList:  []string{"wf-7/call_7"},
		},
		{
			name: "arguments and their digest agree",
			msgs: func(t *testing.T) []*ably.Message {
				d := reqData("call_1", "wf-1", in10)
				d.ArgumentsDigest = workflows.ArgumentsDigest(d.Arguments)
				return []*ably.Message{requestMsg(t, "hitl-agent", d)}
			},
			wantKinds: []EventKind{EventRequest},
			wantList:  []string{"wf-1/call_1"},
		},
		{
			// A decision names the digest: the arguments shown must be
			// the ones it names.
			name: "arguments that do not match their digest",
			msgs: func(t *testing.T) []*ably.Message {
				d := reqData("call_1", "wf-1", in10)
				d.ArgumentsDigest = workflows.ArgumentsDigest(`{"title":"Something else"}`)
				return []*ably.Message{requestMsg(t, "hitl-agent", d)}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "bad tool call id",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{requestMsg(t, "hitl-agent", reqData("call 1", "wf-1", in10))}
			},
			wantKinds: []EventKind{EventIgnored},
		},
		{
			name: "other message names ignored",
			msgs: func(t *testing.T) []*ably.Message {
				return []*ably.Message{{Name: workflows.MsgApprovalResponse, ClientID: "hitl-agent"}}
			},
			wantKinds: []EventKind{EventIgnored},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			p := NewPending("hitl-agent", c.Now)
			var kinds []EventKind
			for _, m := range tt.msgs(t) {
				kinds = append(kinds, p.Apply(m).Kind)
			}
			if got, want := kinds, tt.wantKinds; !equal(got, want) {
				t.Fatalf("kinds = %v, want %v", got, want)
			}
			c.now = c.now.Add(tt.advance)
			if got, want := keys(p.List()), tt.wantList; !equal(got, want) {
				t.Fatalf("list = %v, want %v", got, want)
			}
		})
	}
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPendingExpireAndFind(t *testing.T) {
	c := &clock{now: t0}
	p := NewPending("hitl-agent", c.Now)
	p.Apply(requestMsg(t, "hitl-agent", reqData("call_1", "wf-1", t0.Add(time.Minute))))
	p.Apply(requestMsg(t, "hitl-agent", reqData("call_2", "wf-2", t0.Add(time.Hour))))
	p.Apply(resolvedMsg("hitl-agent", workflows.ApprovalResolvedData{ToolCallID: "call_3", WorkflowID: "wf-3", Outcome: "rejected"}))
	if got := p.Find("call_1"); len(got) != 1 || got[0].WorkflowID != "wf-1" {
		t.Fatalf("Find(call_1) = %v", keys(got))
	}
	if d, ok := p.Resolution("call_3"); !ok || d.Outcome != "rejected" {
		t.Fatalf("Resolution(call_3) = %+v, %v", d, ok)
	}
	if got := p.Expire(); len(got) != 0 {
		t.Fatalf("expired early: %v", keys(got))
	}
	first := p.Find("call_1")[0]
	c.now = t0.Add(time.Minute)
	// Expired, though not swept yet: no decision is sent on it.
	if p.Has(first) {
		t.Error("Has: an expired request is still pending")
	}
	if _, ok := p.Get(first); ok {
		t.Error("Get: an expired request is still pending")
	}
	if got := keys(p.Expire()); !equal(got, []string{"wf-1/call_1"}) {
		t.Fatalf("Expire = %v", got)
	}
	if got := p.Find("call_1"); len(got) != 0 {
		t.Fatalf("expired request still found: %v", keys(got))
	}
}

func TestWriteRequest(t *testing.T) {
	r := Request{ApprovalRequestData: reqData("call_1", "wf-1", t0.Add(9*time.Minute+30*time.Second))}
	r.Arguments = `{"title":"Hi","body":"\u001b[31mred"}`
	r.Requester = "bob\x1b[2J"
	var buf bytes.Buffer
	writeRequest(&buf, r, t0)
	out := buf.String()
	for _, want := range []string{
		"Tool:          publish_blog_post",
		"  {\n    \"title\": \"Hi\",",
		`"body": "\u001b[31mred"`,
		`Requested by:  "bob\x1b[2J"`,
		"Required role: publisher",
		"Time left:     9m30s",
		"Tool call ID:  call_1",
		"Workflow ID:   wf-1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.ContainsRune(out, '\x1b') {
		t.Errorf("raw escape character reached the terminal:\n%q", out)
	}
}

// A single-line field cannot fake screen lines: newlines, tabs and other
// control or format characters get the field quoted.
func TestWriteResolvedOneLine(t *testing.T) {
	tests := []struct{ reason, want string }{
		{"fine", "Resolved: publish_blog_post (call_1) rejected by alice (publisher): fine\n"},
		{"no\nResolved: delete_post (call_2) approved by admin", `: "no\nResolved: delete_post (call_2) approved by admin"` + "\n"},
		{"tab\there", `: "tab\there"` + "\n"},
		{"bidi\u202eevil", `: "bidi\u202eevil"` + "\n"},
		{"line\u2028sep", `: "line\u2028sep"` + "\n"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		writeResolved(&buf, workflows.ApprovalResolvedData{Tool: "publish_blog_post", ToolCallID: "call_1", Outcome: "rejected",
			DecidedBy: "alice", Role: "publisher", Reason: tt.reason})
		out := buf.String()
		if !strings.HasSuffix(out, tt.want) || strings.Count(out, "\n") != 1 {
			t.Errorf("writeResolved(reason %q) = %q, want one line ending %q", tt.reason, out, tt.want)
		}
	}
	// The arguments block stays multi-line but is cleaned.
	if got := prettyArgs(`{"a":"b"}`); got != "{\n  \"a\": \"b\"\n}" {
		t.Errorf("prettyArgs = %q", got)
	}
	if got := prettyArgs("{\"a\":\"\u202e\"}"); !strings.HasPrefix(got, `"`) {
		t.Errorf("prettyArgs kept a bidi override raw: %q", got)
	}
}

// TestWriteRequestShowsInvisibleCharacters: arguments whose strings hold
// characters a terminal shows as nothing, though Go counts them as
// printable, are quoted with those characters escaped, as the web inbox
// marks them: "Hello" followed by variation selectors (which can carry any
// bytes) does not pass for "Hello" on the approver's screen.
func TestWriteRequestShowsInvisibleCharacters(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{"variation selectors supplement", "Hello\U000e0100\U000e0101", `Hello\U000e0100\U000e0101`},
		{"variation selector", "ok\ufe0f", `ok\ufe0f`},
		{"Hangul filler", "admin\u3164", `admin\u3164`},
		{"halfwidth Hangul filler", "admin\uffa0", `admin\uffa0`},
		{"combining grapheme joiner", "ta\u034fg", `ta\u034fg`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args, err := workflows.CanonicalArguments(fmt.Sprintf(`{"title":%q}`, tt.value), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := Request{ApprovalRequestData: reqData("call_1", "wf-1", t0.Add(time.Hour))}
			r.Arguments = args
			var buf bytes.Buffer
			writeRequest(&buf, r, t0)
			out := buf.String()
			if strings.ContainsFunc(out, func(r rune) bool {
				return unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
			}) {
				t.Errorf("an invisible character reached the terminal:\n%q", out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output lacks %s:\n%s", tt.want, out)
			}
		})
	}
}

// A long watch remembers at most maxResolved resolutions, the newest.
func TestPendingResolvedBounded(t *testing.T) {
	p := NewPending("hitl-agent", func() time.Time { return t0 })
	if p.maxResolved != MaxResolved {
		t.Fatalf("maxResolved = %d, want %d", p.maxResolved, MaxResolved)
	}
	p.maxResolved = 3
	for i := range 5 {
		d := workflows.ApprovalResolvedData{ToolCallID: fmt.Sprintf("call_%d", i), WorkflowID: "wf-1", Tool: "t", Outcome: "approved"}
		p.Apply(resolvedMsg("hitl-agent", d))
		p.Apply(resolvedMsg("hitl-agent", d)) // a duplicate does not count twice
	}
	if len(p.resolved) != 3 || len(p.resolvedOrder) != 3 {
		t.Fatalf("%d resolutions (%d ordered), want 3", len(p.resolved), len(p.resolvedOrder))
	}
	if _, ok := p.Resolution("call_1"); ok {
		t.Error("the oldest resolutions were kept")
	}
	if _, ok := p.Resolution("call_4"); !ok {
		t.Error("the newest resolution was forgotten")
	}
}

func TestPrettyArgsNotJSON(t *testing.T) {
	if got, want := prettyArgs("not json\x07"), `"not json\a"`; got != want {
		t.Fatalf("prettyArgs = %q, want %q", got, want)
	}
}

// FuzzPendingApply feeds arbitrary channel messages to the pending set and
// the screen renderer: no panic, nothing from a non-agent is ever kept, a
// request kept has valid ids and arguments that match its digest, and
// rendering never writes a raw control character.
func FuzzPendingApply(f *testing.F) {
	f.Add(`{"id":"x","name":"approval-request","clientId":"hitl-agent","data":{"tool":"t","arguments":"{}","toolCallId":"call_1","workflowId":"wf"}}`, "")
	f.Add(`{"id":"x","name":"approval-request","clientId":"hitl-agent","encoding":"json","extras":{"headers":{"toolCallId":"c","workflowId":"w"}}}`, `{"tool":"\u001b[2J","arguments":"{\"a\":\"\\u0007\"}"}`)
	f.Add(`{"id":"x","name":"approval-resolved","clientId":"hitl-agent","encoding":"json"}`, `{"toolCallId":"c","workflowId":"w","outcome":"approved"}`)
	f.Add(`{"id":"x","name":"approval-resolved","clientId":"hitl-agent","encoding":"json"}`, `{"toolCallId":"c","workflowId":"w","outcome":"rejected","reason":"a\nResolved: x"}`)
	f.Add(`{"id":"x","name":"approval-request","clientId":"mallory","data":{"tool":"t","toolCallId":"c","workflowId":"w"}}`, "")
	f.Add(`{"id":"x","name":"approval-request","clientId":"hitl-agent","encoding":"json"}`,
		`{"tool":"publish_blog_post","arguments":"{\"title\":\"x\"}","argumentsDigest":"`+workflows.ArgumentsDigest(`{"title":"x"}`)+`","toolCallId":"c","workflowId":"w","revision":2,"runId":"r"}`)
	f.Fuzz(func(t *testing.T, msgJSON, data string) {
		var m ably.Message
		if err := json.Unmarshal([]byte(msgJSON), &m); err != nil {
			return
		}
		if m.Data == nil && data != "" {
			m.Data = data
		}
		p := NewPending("hitl-agent", func() time.Time { return t0 })
		ev := p.Apply(&m)
		if ev.Kind != EventIgnored && m.ClientID != "hitl-agent" {
			t.Fatalf("accepted %s from %q", m.Name, m.ClientID)
		}
		if ev.Kind == EventResolved {
			var buf bytes.Buffer
			writeResolved(&buf, ev.Resolved)
			if out := buf.String(); strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("resolution printed as more than one line: %q", out)
			}
		}
		for _, r := range p.List() {
			// What is shown is a request the agent could have made: valid
			// ids, a tool, and arguments that are the ones its digest
			// names (the digest is what an approval names).
			if r.Publisher != "hitl-agent" || r.Tool == "" || workflows.ValidateToolCallID(r.ToolCallID) != nil ||
				workflows.ValidateWorkflowID(r.WorkflowID) != nil || workflows.ValidateRunID(r.RunID) != nil {
				t.Fatalf("kept a request no agent could have made: %+v", r)
			}
			if r.ArgumentsDigest != "" && workflows.ArgumentsDigest(r.Arguments) != r.ArgumentsDigest {
				t.Fatalf("kept arguments %q under digest %q", r.Arguments, r.ArgumentsDigest)
			}
			var buf bytes.Buffer
			writeRequest(&buf, r, t0)
			for _, c := range buf.String() {
				if c < 0x20 && c != '\n' && c != '\t' || c == 0x7f {
					t.Fatalf("raw control character %U in output %q", c, buf.String())
				}
			}
		}
	})
}

// A history read meets the agent's requests of calls resolved or expired
// long ago by the hundred: those are logged at debug level, not as
// warnings (the ops probe saw 271 warning lines from one `approver list`
// with nothing pending); a request that is not the agent's still warns.
func TestSessionLogsRoutineIgnoresAtDebug(t *testing.T) {
	var buf bytes.Buffer
	s := &session{cfg: Config{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))},
		pending: NewPending(workflows.DefaultAgentClientID, time.Now)}
	request := func(clientID, call string, expires time.Time) *ably.Message {
		return &ably.Message{ID: "m-" + call, Name: workflows.MsgApprovalRequest, ClientID: clientID, Data: workflows.ApprovalRequestData{
			Tool: "publish_blog_post", Arguments: `{"title":"x"}`, ToolCallID: call, WorkflowID: "wf-1", RequiredRole: "publisher",
			RequestedAt: expires.Add(-time.Minute), ExpiresAt: expires}}
	}
	data := func(m *ably.Message) *ably.Message {
		b, err := json.Marshal(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		m.Data, m.Encoding = string(b), "json"
		return m
	}
	s.apply(data(request(workflows.DefaultAgentClientID, "call_old", time.Now().Add(-time.Hour))))
	s.apply(data(request("mallory", "call_forged", time.Now().Add(time.Hour))))
	withDigest := func(m *ably.Message, digest string) *ably.Message {
		d := m.Data.(workflows.ApprovalRequestData)
		d.ArgumentsDigest = digest
		m.Data = d
		return data(m)
	}
	live := func() *ably.Message {
		return request(workflows.DefaultAgentClientID, "call_live", time.Now().Add(time.Hour))
	}
	s.apply(withDigest(live(), workflows.ArgumentsDigest(`{"title":"x"}`)))
	s.apply(withDigest(live(), workflows.ArgumentsDigest(`{"title":"x"}`))) // the same request again: a copy
	s.apply(withDigest(live(), workflows.ArgumentsDigest(`{"title":"y"}`))) // the same revision, other arguments
	var levels []string
	for line := range strings.Lines(buf.String()) {
		switch {
		case strings.Contains(line, "m-call_old"):
			levels = append(levels, "old:"+field(line, "level"))
		case strings.Contains(line, "mallory"):
			levels = append(levels, "forged:"+field(line, "level"))
		case strings.Contains(line, "m-call_live"):
			levels = append(levels, "live:"+field(line, "level"))
		}
	}
	if !slices.Equal(levels, []string{"old:DEBUG", "forged:WARN", "live:DEBUG", "live:WARN"}) {
		t.Fatalf("levels %q, want the expired request at DEBUG and mallory's at WARN; log:\n%s", levels, buf.String())
	}
}

// field is the value of key=value in a slog text line.
func field(line, key string) string {
	for f := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			return v
		}
	}
	return ""
}

// TestTimeLeftAtTheExpiry: a request is shown as expired exactly when
// Pending drops it (at ExpiresAt), not in its last second, while it is
// still listed and asked about and a decision sent then still counts.
func TestTimeLeftAtTheExpiry(t *testing.T) {
	exp := t0.Add(10 * time.Minute)
	r := Request{ApprovalRequestData: reqData("call_1", "wf-1", exp)}
	for _, tc := range []struct {
		before  time.Duration
		want    string
		expired bool
	}{
		{time.Second + time.Millisecond, "1s (until ", false},
		{time.Second, "1s (until ", false},
		{999 * time.Millisecond, "under 1s (until ", false},
		{time.Nanosecond, "under 1s (until ", false},
		{0, "expired", true},
		{-time.Millisecond, "expired", true},
	} {
		now := exp.Add(-tc.before)
		got := timeLeft(r, now)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s before the expiry: time left %q, want %q…", tc.before, got, tc.want)
		}
		p := NewPending("agent", func() time.Time { return now })
		if got := p.expired(r); got != tc.expired {
			t.Errorf("%s before the expiry: Pending.expired = %v, want %v", tc.before, got, tc.expired)
		}
	}
}
