package workflows

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
)

// Attack 1 of the security review: whoever starts a run chose its policy.
// A run whose input says delete_post needs no approval still asks an admin,
// as the worker's policy says, and the audit shows the ignored input.
func TestRunIgnoresThePolicyOfItsInput(t *testing.T) {
	h := newHarness(t)
	h.policy = testPolicy(t)
	permissive, err := ParsePolicy([]byte(`{"tools":{"delete_post":{"minRole":"none"},"publish_blog_post":{"minRole":"none"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	h.model = script(calls(ToolCall{CallID: "call_1", Name: "delete_post", Arguments: `{"slug":"hello-world"}`}), answer("done"))

	res := h.run(AgentInput{Policy: permissive})

	if n := len(h.tools()); n != 0 {
		t.Fatalf("the tool ran %d times without approval", n)
	}
	reqs, _ := h.published()
	if len(reqs) != 1 || reqs[0].Data.RequiredRole != "admin" {
		t.Fatalf("approval requests = %+v, want one asking an admin", reqs)
	}
	wantKinds(t, res.Audit, "policy-ignored:", "requested:call_1", "expired:call_1")
}

// Attack 2: anyone who can signal the workflow could approve. A decision
// that the bridge did not sign changes nothing and is audited.
func TestUnverifiedDecisionsAreIgnored(t *testing.T) {
	_, otherKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		d    func(h *harness) Decision
		why  string
	}{
		{"unsigned forged admin", func(*harness) Decision { return approve("call_1", "mallory", "admin", "m1") },
			"unsigned: the approver bridge signs every decision it forwards"},
		{"signed with another key", func(h *harness) Decision {
			d := approve("call_1", "mallory", "admin", "m1")
			d.WorkflowID, d.KeyID = testWorkflowID, testKeyID
			d.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(otherKey, d.SigningPayload()))
			return d
		}, "signature: bad signature"},
		{"unknown key id", func(h *harness) Decision {
			d := h.sign(approve("call_1", "mallory", "admin", "m1"))
			d.KeyID = "k9"
			return d
		}, `signature: unknown key "k9"`},
		{"role raised after signing", func(h *harness) Decision {
			d := h.sign(approve("call_1", "erin", "editor", "m1"))
			d.ApproverRole = "admin"
			return d
		}, "signature: bad signature"},
		{"signed for another run", func(h *harness) Decision {
			d := h.sign(approve("call_1", "pat", "admin", "m1"))
			d.WorkflowID = "hitl-other-run"
			return d
		}, "signature: signed for another run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.model = script(calls(publishCall("call_1")), answer("done"))
			h.decideRaw(time.Minute, tt.d(h))
			h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m2"))

			res := h.run(AgentInput{Policy: testPolicy(t)})

			tools := h.tools()
			if len(tools) != 1 || tools[0].ApprovedBy != "alice" {
				t.Fatalf("tools = %+v, want one run approved by alice (the forged decision must change nothing)", tools)
			}
			wantKinds(t, res.Audit, "requested:call_1", "ignored:call_1:"+tt.why, "approved:call_1", "executed:call_1")
		})
	}
}

// A verification that cannot run (the local activity fails) counts as no
// verification: the decision is ignored, with the reason.
func TestDecisionIgnoredWhenVerificationFails(t *testing.T) {
	h := newHarness(t)
	h.verifyErr = errors.New("no verify keys")
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))

	res := h.run(AgentInput{Policy: testPolicy(t)})

	if n := len(h.tools()); n != 0 {
		t.Fatalf("the tool ran %d times on an unverified decision", n)
	}
	e, ok := findAudit(res.Audit, AuditIgnored, "call_1")
	if !ok || !strings.HasPrefix(e.Reason, "the signature could not be checked: ") {
		t.Fatalf("ignored entry = %+v, %v; want a verification failure", e, ok)
	}
}

// Junk (unknown calls, duplicates) is refused before any signature check,
// so it costs the run no local activity. A signed decision of a low role
// for a pending call is refused before it too, then checked once for its
// approval-ignored notice (changeIgnoredNotice): a forged one gets none.
func TestOnlyDecidableDecisionsAreVerified(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	h.decideRaw(time.Minute, approve("nope", "eve", "editor", "u1"))
	h.decide(time.Minute, approve("call_1", "eve", "editor", "u2"))
	h.decide(2*time.Minute, approve("call_1", "alice", "publisher", "m1"))
	h.decide(3*time.Minute, approve("call_1", "alice", "publisher", "m1"))

	h.run(AgentInput{Policy: testPolicy(t)})

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.verified != 2 {
		t.Fatalf("%d signature checks, want 2 (the one decidable decision, and eve's for her notice)", h.verified)
	}
	if len(h.ignored) != 1 || h.ignored[0].Data.Approver != "eve" || h.ignored[0].Data.AblyMessageID != "u2" {
		t.Fatalf("approval-ignored notices %+v, want one, to eve about u2", h.ignored)
	}
}

// Attack 3: the approver saw one value while the tool ran another. Calls
// whose arguments can be read two ways are denied before anyone is asked,
// and the model is told why.
func TestAmbiguousArgumentsAreDeniedBeforeAsking(t *testing.T) {
	tests := []struct {
		name   string
		call   ToolCall
		why    string
		schema string // when set, the tool's argument schema
	}{
		{"duplicate key", ToolCall{CallID: "call_1", Name: "publish_blog_post",
			Arguments: `{"title":"Quarterly update","body":"Numbers.","title":"We are shutting down"}`}, `duplicate key "title"`, ""},
		{"key in another case", ToolCall{CallID: "call_1", Name: "publish_blog_post",
			Arguments: `{"title":"Quarterly update","body":"Numbers.","TITLE":"We are shutting down"}`}, `keys "title" and "TITLE" differ only in case`, ""},
		{"long s", ToolCall{CallID: "call_1", Name: "delete_post",
			Arguments: `{"slug":"old-draft","ſlug":"introducing-our-new-api"}`}, `keys "slug" and "ſlug" differ only in case`, ""},
		{"unknown field", ToolCall{CallID: "call_1", Name: "publish_blog_post",
			Arguments: `{"title":"x","author":"y"}`}, `key "author" is not allowed`, ""},
		// A schema that lets tags hold any keys: only the lookalike check
		// refuses two that read the same.
		{"keys that differ in Unicode normalisation", ToolCall{CallID: "call_1", Name: "publish_blog_post",
			Arguments: `{"title":"x","tags":{"caf\u00e9":"a","cafe\u0301":"b"}}`}, `keys "caf\u00e9" and "cafe\u0301" look the same`,
			`{"type":"object","properties":{"title":{"type":"string"},"tags":{"type":"object"}},"required":["title"],"additionalProperties":false}`},
		{"a schema key with an invisible character", ToolCall{CallID: "call_1", Name: "publish_blog_post",
			Arguments: `{"title":"x","bo\u200bdy":"y"}`}, `looks like the schema's "body"`,
			`{"type":"object","properties":{"title":{"type":"string"},"body":{"type":"string"}},"required":["title"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			if tt.schema != "" {
				h.schemas[tt.call.Name] = json.RawMessage(tt.schema)
			}
			h.model = script(calls(tt.call), answer("done"))

			res := h.run(AgentInput{Policy: testPolicy(t)})

			if reqs, _ := h.published(); len(reqs) != 0 {
				t.Fatalf("a human was asked: %+v", reqs)
			}
			if n := len(h.tools()); n != 0 {
				t.Fatalf("the tool ran %d times", n)
			}
			out, _ := h.outputOf(2, "call_1")
			if !strings.HasPrefix(out, "denied: arguments refused: ") || !strings.Contains(out, tt.why) || !strings.HasSuffix(out, "(no human was asked)") {
				t.Errorf("output to the model = %q, want a refusal naming %q", out, tt.why)
			}
			e, ok := findAudit(res.Audit, AuditDenied, "call_1")
			if !ok || !strings.Contains(e.Reason, tt.why) {
				t.Errorf("denied entry = %+v, %v", e, ok)
			}
		})
	}
}

// The request, the pending view and the tool all use the canonical bytes,
// and the request carries their digest.
func TestApproverSeesTheArgumentsThatRun(t *testing.T) {
	h := newHarness(t)
	raw := "{ \"title\": \"Hello <b>\",\n  \"body\": \"caf\\u00e9\" }"
	const canonical = `{"body":"café","title":"Hello <b>"}`
	h.model = script(calls(ToolCall{CallID: "call_1", Name: "publish_blog_post", Arguments: raw}), answer("done"))
	var view ApprovalsView
	h.queryAt(time.Minute, &view)
	h.decide(2*time.Minute, Decision{ToolCallID: "call_1", Decision: DecisionApproved, ApproverClientID: "alice", ApproverRole: "publisher",
		AblyMessageID: "m1", ArgumentsDigest: ArgumentsDigest(canonical)})

	h.run(AgentInput{Policy: testPolicy(t)})

	reqs, _ := h.published()
	if len(reqs) != 1 || reqs[0].Data.Arguments != canonical || reqs[0].Data.ArgumentsDigest != ArgumentsDigest(canonical) {
		t.Fatalf("approval request = %+v, want canonical arguments %s and their digest", reqs, canonical)
	}
	if len(view.Pending) != 1 || view.Pending[0].Arguments != canonical || view.Pending[0].ArgumentsDigest != ArgumentsDigest(canonical) {
		t.Errorf("pending = %+v", view.Pending)
	}
	tools := h.tools()
	if len(tools) != 1 || tools[0].Arguments != canonical {
		t.Fatalf("tool requests = %+v, want one with %s", tools, canonical)
	}
	// The model's own function_call keeps what the model wrote.
	for _, it := range h.models()[1].Input {
		if it.Type == ItemFunctionCall && it.Arguments != raw {
			t.Errorf("conversation function_call arguments = %q, want the model's %q", it.Arguments, raw)
		}
	}
}

// A decision names the digest of what its approver saw: another digest is
// ignored; none (the guide's client) is accepted.
func TestDecisionForOtherArgumentsIsIgnored(t *testing.T) {
	h := newHarness(t)
	h.model = script(calls(publishCall("call_1")), answer("done"))
	stale := approve("call_1", "alice", "publisher", "m1")
	stale.ArgumentsDigest = ArgumentsDigest(`{"title":"Something else"}`)
	h.decide(time.Minute, stale)
	h.decide(2*time.Minute, approve("call_1", "pat", "publisher", "m2")) // no digest: the guide's client

	res := h.run(AgentInput{Policy: testPolicy(t)})

	tools := h.tools()
	if len(tools) != 1 || tools[0].ApprovedBy != "pat" {
		t.Fatalf("tools = %+v, want one run approved by pat", tools)
	}
	e, ok := findAudit(res.Audit, AuditIgnored, "call_1")
	if !ok || !strings.HasPrefix(e.Reason, "the approver saw other arguments") {
		t.Errorf("ignored entry = %+v, %v", e, ok)
	}
}

// Tools the worker marks local run as local activities, with the same
// outcome for the model and the audit as activities.
func TestLocalToolsRunAsLocalActivities(t *testing.T) {
	for _, local := range []bool{false, true} {
		t.Run(fmt.Sprint("local=", local), func(t *testing.T) {
			h := newHarness(t)
			if local {
				h.localTools = []string{"publish_blog_post", "search_posts"}
			}
			h.model = script(calls(publishCall("call_1"), ToolCall{CallID: "call_2", Name: "search_posts", Arguments: `{"query":"api"}`}), answer("done"))
			h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
			localRuns := 0
			h.env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
				if info.ActivityType.Name == ActivityExecuteTool {
					localRuns++
				}
			})

			res := h.run(AgentInput{Policy: testPolicy(t)})

			if want := map[bool]int{false: 0, true: 2}[local]; localRuns != want {
				t.Errorf("%d tool runs as local activities, want %d", localRuns, want)
			}

			if n := len(h.tools()); n != 2 {
				t.Fatalf("tools ran %d times, want 2", n)
			}
			h.wantOutput(2, "call_1", "ok:publish_blog_post:call_1")
			h.wantOutput(2, "call_2", "ok:search_posts:call_2")
			if count := len(res.Audit); count != 5 {
				t.Errorf("audit = %q", kinds(res.Audit))
			}
		})
	}
}
