package workflows

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

func TestValidateToolCallID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"call_abc123", true},
		{"call_Zx9dFq2LmN8pQr4StUv6WxYz", true},
		{"fc_68a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f607", true},
		{"call-approve-1", true},
		{"a.b:c@d", true},
		{strings.Repeat("x", MaxToolCallIDLen), true},
		{strings.Repeat("x", MaxToolCallIDLen+1), false},
		{"", false},
		{"call 1", false},
		{`call"1`, false},
		{"call'1", false},
		{"call\x001", false},
		{"callé", false},
		{"call<1>", false},
	}
	for _, tt := range tests {
		if got := ValidateToolCallID(tt.id) == nil; got != tt.want {
			t.Errorf("ValidateToolCallID(%q) == nil is %v, want %v", tt.id, got, tt.want)
		}
	}
}

// Decisions with oversized or malformed ids, client ids or roles change
// nothing, are listed with bounded strings, and do not keep a valid
// decision from resolving the approval.
func TestOversizedDecisionFieldsAreIgnored(t *testing.T) {
	long := func(n int) string { return strings.Repeat("m", n) }
	tests := []struct {
		name   string
		d      Decision
		reason string
	}{
		{"message id too long", approve("call_1", "alice", "publisher", long(MaxMessageIDLen+1)), "invalid ably message id (want 1 to 128 printable ASCII bytes)"},
		{"message id not printable", approve("call_1", "alice", "publisher", "m\n1"), "invalid ably message id (want 1 to 128 printable ASCII bytes)"},
		{"message id not ASCII", approve("call_1", "alice", "publisher", "mé"), "invalid ably message id (want 1 to 128 printable ASCII bytes)"},
		{"client id too long", approve("call_1", long(10<<10), "publisher", "m1"), "approver client id longer than 128 bytes"},
		{"role too long", approve("call_1", "alice", "publisher"+long(1<<20), "m1"), "approver role longer than 64 bytes"},
		{"role one byte too long", approve("call_1", "alice", "publisher"+long(MaxRoleLen+1-len("publisher")), "m1"), "approver role longer than 64 bytes"},
		{"huge unknown call id", approve(long(1<<20), "alice", "publisher", "m1"), "unknown tool call"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.decide(time.Minute, tt.d)
			h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m-ok"))

			res := h.run(AgentInput{Policy: testPolicy(t)})

			tools := h.tools()
			if len(tools) != 1 || tools[0].ApprovedBy != "alice" {
				t.Fatalf("tools = %+v, want one run approved by alice", tools)
			}
			e, ok := findAudit(res.Audit, AuditIgnored, truncate(tt.d.ToolCallID, maxAuditFieldLen))
			if !ok || e.Reason != tt.reason {
				t.Fatalf("ignored entry = %+v (found %v), want reason %q; audit %q", e, ok, tt.reason, kinds(res.Audit))
			}
			if a, ok := findAudit(res.Audit, AuditApproved, "call_1"); !ok || a.AblyMessageID != "m-ok" {
				t.Errorf("approved entry = %+v (found %v), want message m-ok", a, ok)
			}
			wantBoundedAudit(t, res.Audit)
		})
	}
}

// An approver's reason is cut before it reaches the audit, approver
// screens and the model.
func TestLongReasonIsBounded(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.decide(time.Minute, reject("call_1", "carol", "admin", "m1", strings.Repeat("r", 100<<10)))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	e, ok := findAudit(res.Audit, AuditRejected, "call_1")
	if !ok || len(e.Reason) > MaxReasonLen || !strings.HasSuffix(e.Reason, "…") {
		t.Errorf("rejected entry reason has %d bytes (found %v), want at most %d and a cut mark", len(e.Reason), ok, MaxReasonLen)
	}
	_, resolved := h.published()
	if len(resolved) != 1 || resolved[0].Data.Reason != e.Reason {
		t.Errorf("approval-resolved reason differs from the audit's")
	}
	out, _ := h.outputOf(2, "call_1")
	if want := "rejected by carol (admin): " + e.Reason; out != want {
		t.Errorf("output to the model has %d bytes, want %d", len(out), len(want))
	}
}

// A model's unknown tool with a huge name leaves bounded audit entries.
func TestAuditStringsFromTheModelAreBounded(t *testing.T) {
	h := newHarness(t)
	name := strings.Repeat("n", 200<<10)
	h.model = script(calls(ToolCall{CallID: "call_1", Name: name, Arguments: `{}`}), answer("done"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	wantBoundedAudit(t, res.Audit)
	if out, _ := h.outputOf(2, "call_1"); len(out) > 300 {
		t.Errorf("denial sent to the model has %d bytes", len(out))
	}
}

func wantBoundedAudit(t *testing.T, audit []AuditEntry) {
	t.Helper()
	for _, e := range audit {
		for _, f := range []string{e.Kind, e.ToolCallID, e.Tool, e.Actor, e.Role, e.AblyMessageID} {
			if len(f) > maxAuditFieldLen {
				t.Errorf("audit entry %s has a field of %d bytes", e.Kind, len(f))
			}
		}
		if len(e.Reason) > maxAuditReasonLen {
			t.Errorf("audit entry %s has a reason of %d bytes", e.Kind, len(e.Reason))
		}
	}
}

// Another approver cannot spend a real approval's message id: an ignored
// decision with the same Ably message id from another clientId does not
// make the real one a duplicate.
func TestIgnoredDecisionOfAnotherClientDoesNotBlockTheRealOne(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.env.RegisterDelayedCallback(func() {
		h.env.SignalWorkflow(DecisionSignal, h.sign(approve("call_1", "eve", "editor", "m1")))
		h.env.SignalWorkflow(DecisionSignal, h.sign(approve("call_1", "alice", "publisher", "m1")))
	}, time.Minute)

	res := h.run(AgentInput{Policy: testPolicy(t)})

	tools := h.tools()
	if len(tools) != 1 || tools[0].ApprovedBy != "alice" {
		t.Errorf("tools = %+v, want one run approved by alice", tools)
	}
	wantKinds(t, res.Audit, "requested:call_1", "ignored:call_1:insufficient role: editor < publisher", "approved:call_1", "executed:call_1")
}

// Pending ids must fit SAToolCallIDs: a call that needs approval is denied
// when its id would not fit next to the pending ones, whatever the
// resolved ids take.
func TestClassifyKeepsPendingIDsWithinBudget(t *testing.T) {
	p := testPolicy(t)
	newRunWith := func(pending, resolved int) *run {
		r := &run{policy: p, approvals: map[string]*approval{}, seenCalls: map[string]bool{}}
		for i := range pending + resolved {
			id := fmt.Sprintf("p%0*d", MaxToolCallIDLen-1, i)
			a := &approval{}
			if i < resolved {
				a.state = stateApproved
			}
			r.approvals[id] = a
			r.order = append(r.order, id)
		}
		return r
	}
	// One response of valid ids always fits: the check only guards
	// against future changes of these limits.
	if full := 1 + MaxToolCallsPerTurn*(MaxToolCallIDLen+3); full > saCallIDsBudget {
		t.Errorf("%d calls with %d-byte ids take %d bytes, more than the budget %d", MaxToolCallsPerTurn, MaxToolCallIDLen, full, saCallIDsBudget)
	}
	newID := strings.Repeat("n", MaxToolCallIDLen)
	fit := (saCallIDsBudget - 1) / (MaxToolCallIDLen + 3) // pending ids that fit with the new one
	tests := []struct {
		name              string
		pending, resolved int
		admitted          int
		want              string
	}{
		{"few pending", 3, 0, 0, ""},
		{"many resolved", 2, 200, 0, ""},
		{"just fits", fit - 1, 50, 0, ""},
		{"pending fill the budget", fit, 0, 0, "too many pending approvals"},
		{"admitted in the same response count", fit - 3, 0, 3, "too many pending approvals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunWith(tt.pending, tt.resolved)
			var admitted []string
			for i := range tt.admitted {
				admitted = append(admitted, fmt.Sprintf("a%0*d", MaxToolCallIDLen-1, i))
			}
			_, why := r.classify(0, ToolCall{CallID: newID, Name: "publish_blog_post", Arguments: `{}`}, admitted)
			if why != tt.want {
				t.Fatalf("classify = %q, want %q", why, tt.want)
			}
			// An auto-approved tool never needs the search attribute.
			if _, why := r.classify(0, ToolCall{CallID: newID, Name: "search_posts", Arguments: `{}`}, admitted); why != "" {
				t.Errorf("auto-approved call denied: %q", why)
			}
			if why == "" {
				r.approvals[newID] = &approval{}
				r.order = append(r.order, newID)
				ids := r.searchableCallIDs()
				if size := jsonLen(ids); size > saCallIDsBudget {
					t.Errorf("search attribute takes %d bytes, budget %d", size, saCallIDsBudget)
				}
				if !slices.Contains(ids, newID) {
					t.Errorf("the new pending id is not listed")
				}
			}
		})
	}
}

// The most approvals one response can ask for, with the longest ids the
// workflow accepts, are all routable, and every upsert stays within the
// budget; longer ids are denied instead of breaking the upsert.
func TestLongToolCallIDsAndSearchAttributeBudget(t *testing.T) {
	tests := []struct {
		name      string
		idLen     int
		wantTools int
	}{
		{"longest valid ids", MaxToolCallIDLen, MaxToolCallsPerTurn},
		{"ids too long", 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.wantTools > 0 {
				h.captureUpserts()
			}
			var cs []ToolCall
			for i := range MaxToolCallsPerTurn {
				cs = append(cs, publishCall(fmt.Sprintf("c%0*d", tt.idLen-1, i)))
			}
			h.model = script(calls(cs...), answer("done"))
			if tt.wantTools > 0 {
				h.env.RegisterDelayedCallback(func() {
					for i, c := range cs {
						h.env.SignalWorkflow(DecisionSignal, h.sign(approve(c.CallID, "alice", "publisher", fmt.Sprintf("m%d", i))))
					}
				}, time.Minute)
			}

			h.run(AgentInput{Policy: testPolicy(t)})

			if n := len(h.tools()); n != tt.wantTools {
				t.Errorf("tools ran %d times, want %d", n, tt.wantTools)
			}
			if tt.wantTools == 0 {
				h.wantOutput(2, cs[0].CallID, "denied: invalid tool call id")
				if reqs, _ := h.published(); len(reqs) != 0 {
					t.Errorf("%d approval requests published for invalid ids", len(reqs))
				}
				return
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			for i, u := range h.upserts {
				ids, _ := u.GetKeywordList(SAToolCallIDs)
				b, _ := json.Marshal(ids)
				if len(b) > saCallIDsBudget {
					t.Errorf("upsert %d: %s takes %d bytes, budget %d", i, SAToolCallIDs.GetName(), len(b), saCallIDsBudget)
				}
			}
			if len(h.routable) != tt.wantTools {
				t.Errorf("%d ids routable when their request was published, want %d", len(h.routable), tt.wantTools)
			}
		})
	}
}

// The conversation sent to the model is bounded: model text and arguments
// are cut, and the run ends with an answer instead of a model call whose
// input would pass the size limit.
func TestConversationSizeLimit(t *testing.T) {
	h := newHarness(t)
	h.model = func(req ModelRequest) (ModelResponse, error) {
		var cs []ToolCall
		for i := range MaxToolCallsPerTurn {
			cs = append(cs, ToolCall{CallID: fmt.Sprintf("t%d_%d", req.Turn, i), Name: "search_posts", Arguments: `{"query":"x"}`})
		}
		r := calls(cs...)
		r.Output = append([]ConversationItem{{Type: ItemMessage, Role: "assistant", Text: strings.Repeat("t", 100<<10)}}, r.Output...)
		return r, nil
	}
	h.tool = func(ToolRequest) (ToolResult, error) { return ToolResult{Output: strings.Repeat("o", 100<<10)}, nil }

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if !strings.HasPrefix(res.Answer, "stopped: the conversation reached its size limit") {
		t.Errorf("answer = %q, want the size-limit note", res.Answer)
	}
	reqs := h.models()
	if len(reqs) < 2 || len(reqs) >= DefaultMaxTurns || res.Turns != len(reqs) {
		t.Errorf("model called %d times (turns %d), want the limit to stop the run early", len(reqs), res.Turns)
	}
	for _, r := range reqs {
		if size := jsonLen(r.Input); size > maxConversation {
			t.Errorf("model call %d: input of %d bytes, limit %d", r.Turn, size, maxConversation)
		}
		for _, it := range r.Input {
			if len(it.Text) > maxModelItemLen || len(it.Arguments) > maxModelItemLen || len(it.Output) > maxToolOutputLen {
				t.Errorf("model call %d: %s item of %d/%d/%d bytes", r.Turn, it.Type, len(it.Text), len(it.Arguments), len(it.Output))
			}
		}
	}
}

// A huge prompt is refused before any model call, without an error.
func TestOversizedPromptStopsBeforeTheModel(t *testing.T) {
	h := newHarness(t)
	h.model = script()
	res := h.run(AgentInput{Policy: testPolicy(t), Prompt: strings.Repeat("p", maxConversation+1)})
	if n := len(h.models()); n != 0 || res.Turns != 0 {
		t.Errorf("model called %d times, turns %d, want 0", n, res.Turns)
	}
	if !strings.HasPrefix(res.Answer, "stopped: the conversation reached its size limit") {
		t.Errorf("answer = %q", res.Answer)
	}
}

// A flood of ignored decisions on some approvals hides neither the first
// ignored decisions of the others nor the number of unlisted ones.
func TestIgnoredAuditIsCappedPerApproval(t *testing.T) {
	h := newHarness(t)
	var cs []ToolCall
	for i := range MaxToolCallsPerTurn {
		cs = append(cs, publishCall(fmt.Sprintf("call_%02d", i)))
	}
	h.model = script(calls(cs...), answer("done"))
	const perCall, unknown = 25, 30
	sent := map[string]int{}
	h.env.RegisterDelayedCallback(func() {
		// The first calls are flooded before the last ones see any.
		for _, c := range cs {
			for j := range perCall {
				h.env.SignalWorkflow(DecisionSignal, h.sign(approve(c.CallID, "eve", "editor", fmt.Sprintf("%s-m%d", c.CallID, j))))
				sent[c.CallID]++
			}
		}
		for j := range unknown {
			h.env.SignalWorkflow(DecisionSignal, h.sign(approve("nope", "eve", "editor", fmt.Sprintf("u%d", j))))
			sent[""]++
		}
	}, time.Minute)
	h.env.RegisterDelayedCallback(func() {
		for i, c := range cs {
			h.env.SignalWorkflow(DecisionSignal, h.sign(approve(c.CallID, "alice", "publisher", fmt.Sprintf("ok%d", i))))
		}
	}, 2*time.Minute)

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != MaxToolCallsPerTurn {
		t.Errorf("tools ran %d times, want %d", n, MaxToolCallsPerTurn)
	}
	listed := map[string]int{}
	summarized := map[string]int{}
	total := 0
	for _, e := range res.Audit {
		if e.Kind != AuditIgnored {
			continue
		}
		var n int
		if _, err := fmt.Sscanf(e.Reason, "%d more ignored decisions", &n); err == nil {
			summarized[e.ToolCallID] += n
			continue
		}
		key := e.ToolCallID
		if key == "nope" {
			key = ""
		}
		listed[key]++
		total++
	}
	for key, n := range sent {
		if listed[key] < ignoredAlwaysKept || listed[key] > maxIgnoredPerApproval {
			t.Errorf("%q: %d ignored decisions listed, want %d to %d", key, listed[key], ignoredAlwaysKept, maxIgnoredPerApproval)
		}
		if listed[key]+summarized[key] != n {
			t.Errorf("%q: %d listed + %d summarized, want %d sent", key, listed[key], summarized[key], n)
		}
	}
	if total > maxIgnoredPerRun+ignoredAlwaysKept*(MaxToolCallsPerTurn+1) {
		t.Errorf("%d ignored decisions listed", total)
	}
	if listed["call_15"] < ignoredAlwaysKept {
		t.Errorf("the last approval's ignored decisions are hidden")
	}
}

func TestToolErrorIsBounded(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(ToolCall{CallID: "c1", Name: "search_posts", Arguments: `{}`}), answer("failed"))
	h.tool = func(ToolRequest) (ToolResult, error) {
		return ToolResult{}, temporal.NewNonRetryableApplicationError(strings.Repeat("e", 4<<10), "Boom", nil)
	}

	res := h.run(AgentInput{Policy: testPolicy(t)})

	out, _ := h.outputOf(2, "c1")
	if len(out) > len("tool failed: ")+maxToolErrorLen || !strings.HasSuffix(out, "…") {
		t.Errorf("error sent to the model has %d bytes, want at most %d", len(out), len("tool failed: ")+maxToolErrorLen)
	}
	if e, ok := findAudit(res.Audit, AuditFailed, "c1"); !ok || len(e.Reason) > maxToolErrorLen || "tool failed: "+e.Reason != out {
		t.Errorf("failed entry has a reason of %d bytes (found %v)", len(e.Reason), ok)
	}
}

func TestDecisionJSONOmitsZeroPublishedAt(t *testing.T) {
	b, err := json.Marshal(approve("call_1", "alice", "publisher", "m1"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "publishedAt") {
		t.Errorf("zero PublishedAt encoded: %s", b)
	}
	d := approve("call_1", "alice", "publisher", "m1")
	d.PublishedAt = testStart
	b, _ = json.Marshal(d)
	var back Decision
	if err := json.Unmarshal(b, &back); err != nil || !back.PublishedAt.Equal(testStart) {
		t.Errorf("round trip of %s: %+v, %v", b, back, err)
	}
}

func TestValidateArgumentsDigest(t *testing.T) {
	good := ArgumentsDigest(`{"title":"x"}`)
	if err := ValidateArgumentsDigest(good); err != nil {
		t.Fatalf("ValidateArgumentsDigest(%q) = %v", good, err)
	}
	for _, bad := range []string{"", "sha256:", "md5:" + good[7:], strings.ToUpper(good), good + "0", good[:len(good)-1], "sha256:" + strings.Repeat("g", 64)} {
		if err := ValidateArgumentsDigest(bad); err == nil {
			t.Errorf("ValidateArgumentsDigest(%q) accepted", bad)
		}
	}
}

// A decision whose fields are as long as the wire allows counts.
func TestDecisionFieldsAtTheirLimitsCount(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	who, msgID := strings.Repeat("a", MaxClientIDLen), strings.Repeat("m", MaxMessageIDLen)
	h.decide(time.Minute, approve("call_1", who, "publisher", msgID))
	h.run(AgentInput{Policy: testPolicy(t)})
	if tools := h.tools(); len(tools) != 1 || tools[0].ApprovedBy != who {
		t.Fatalf("tools = %+v, want one run approved by the %d-byte client id", tools, MaxClientIDLen)
	}
}
