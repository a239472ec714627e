package workflows

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/worker"
)

// edit is an AuditEdited entry whose arguments and original are n bytes
// each.
func edit(i, n int) AuditEntry {
	return AuditEntry{Kind: AuditEdited, ToolCallID: fmt.Sprintf("call_%d", i), Actor: "ada", Role: "admin",
		Arguments: `{"body":"` + strings.Repeat("a", n) + `"}`, Original: `{"body":"` + strings.Repeat("b", n) + `"}`}
}

func TestFitAudit(t *testing.T) {
	small := []AuditEntry{{Kind: AuditRequested, ToolCallID: "call_1"}, {Kind: AuditApproved, ToolCallID: "call_1", Actor: "ada"}}
	var edits []AuditEntry
	for i := range 10 {
		edits = append(edits, edit(i, 1000))
	}
	var reasons []AuditEntry
	for i := range 10 {
		reasons = append(reasons, AuditEntry{Kind: AuditFailed, ToolCallID: fmt.Sprintf("call_%d", i), Reason: strings.Repeat("r", 1000)})
	}
	var many []AuditEntry
	for i := range 100 {
		many = append(many, AuditEntry{Kind: AuditExecuted, ToolCallID: fmt.Sprintf("call_%d", i)})
	}
	tests := []struct {
		name    string
		entries []AuditEntry
		budget  int
		// check looks at the fitted entries.
		check func(t *testing.T, got []AuditEntry)
	}{
		{name: "fits: unchanged", entries: small, budget: 1 << 10, check: func(t *testing.T, got []AuditEntry) {
			if len(got) != 2 || got[1] != small[1] {
				t.Errorf("got %+v", got)
			}
		}},
		{name: "the oldest edits' arguments go first", entries: edits, budget: jsonLen(edits) - 3000, check: func(t *testing.T, got []AuditEntry) {
			if len(got) != len(edits) {
				t.Fatalf("%d entries, want all %d", len(got), len(edits))
			}
			for i, e := range got {
				omitted := i < 2 // two edits' arguments make room for 3000 bytes
				if omitted != (e.Omitted == omittedArguments) || omitted != (e.Arguments == "" && e.Original == "") {
					t.Errorf("entry %d: omitted %q, arguments %d bytes, original %d bytes", i, e.Omitted, len(e.Arguments), len(e.Original))
				}
				if e.Kind != AuditEdited || e.Actor != "ada" || e.ToolCallID != edits[i].ToolCallID {
					t.Errorf("entry %d lost its record: %+v", i, e)
				}
			}
			if edits[0].Arguments == "" {
				t.Error("the caller's entries were changed")
			}
		}},
		{name: "then the oldest reasons are cut", entries: reasons, budget: jsonLen(reasons) - 1500, check: func(t *testing.T, got []AuditEntry) {
			for i, e := range got {
				if cut := i < 2; cut != (len(e.Reason) <= maxAuditFieldLen) || !utf8.ValidString(e.Reason) {
					t.Errorf("entry %d: reason of %d bytes", i, len(e.Reason))
				}
			}
		}},
		{name: "then the oldest entries, with a note", entries: many, budget: jsonLen(many[50:]) + 200, check: func(t *testing.T, got []AuditEntry) {
			if got[0].Kind != AuditOmitted || !strings.HasPrefix(got[0].Reason, fmt.Sprintf("%d earlier entries", 101-len(got))) {
				t.Fatalf("first entry %+v after leaving out %d", got[0], 101-len(got))
			}
			if last := got[len(got)-1]; last != many[99] {
				t.Errorf("last entry %+v, want the newest", last)
			}
			if len(got) < 40 {
				t.Errorf("%d entries kept, want about 50", len(got))
			}
		}},
		{name: "nothing fits but the note", entries: many, budget: 10, check: func(t *testing.T, got []AuditEntry) {
			if len(got) != 1 || got[0].Kind != AuditOmitted || !strings.HasPrefix(got[0].Reason, "100 earlier entries") {
				t.Errorf("got %+v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fitAudit(tt.entries, tt.budget)
			if n := jsonLen(got); n > tt.budget && len(got) > 1 {
				t.Errorf("%d bytes of JSON, over the budget of %d", n, tt.budget)
			}
			tt.check(t, got)
		})
	}
}

func TestCutToJSON(t *testing.T) {
	tests := []struct {
		name string
		s    string
		room int
	}{
		{name: "fits", s: "Published.", room: 100},
		{name: "ASCII", s: strings.Repeat("x", 10000), room: 1000},
		{name: "escapes count", s: strings.Repeat("<", 10000), room: 1000},
		{name: "runes are not split", s: strings.Repeat("é", 10000), room: 1001},
		{name: "U+FFFD and bytes that are not UTF-8", s: strings.Repeat("\ufffd\xff", 1000), room: 1000},
		{name: "quotes, controls, separators", s: strings.Repeat("\"\\\n\x01\u2028&>", 1000), room: 1000},
		{name: "no room for the mark", s: strings.Repeat("x", 100), room: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkCut(t, tt.s, tt.room) })
	}
}

// FuzzCutToJSON: escapedLen must agree with encoding/json on any text,
// the model's answer being any text.
func FuzzCutToJSON(f *testing.F) {
	f.Add("Published.", 5)
	f.Add("<a href=\"x\">\u2028\x01\xff\ufffd</a>\n\t", 40)
	f.Fuzz(func(t *testing.T, s string, room int) {
		checkCut(t, s, jsonLen(answerCut)+max(room%(4*len(s)+8), 0))
	})
}

// checkCut checks cutToJSON(s, room): the text itself when its JSON fits
// room, else the longest prefix, cut on a rune, whose JSON with answerCut
// fits, or "" when not even the mark does.
func checkCut(t *testing.T, s string, room int) {
	t.Helper()
	got := cutToJSON(s, room)
	if n := jsonLen(got); n > room {
		t.Fatalf("cutToJSON(%q, %d): %d bytes of JSON", s, room, n)
	}
	switch {
	case jsonLen(s) <= room:
		if got != s {
			t.Fatalf("cutToJSON(%q, %d) = %q, which fits uncut", s, room, got)
		}
	case jsonLen(answerCut) > room:
		if got != "" {
			t.Fatalf("cutToJSON(%q, %d) = %q, want nothing", s, room, got)
		}
	default:
		kept, ok := strings.CutSuffix(got, answerCut)
		if !ok || !strings.HasPrefix(s, kept) || len(kept) == len(s) {
			t.Fatalf("cutToJSON(%q, %d) = %q: not a marked prefix", s, room, got)
		}
		if !onRuneBoundary(s, len(kept)) {
			t.Fatalf("cutToJSON(%q, %d) = %q: a rune was split", s, room, got)
		}
		// The longest: one rune more would not fit.
		_, size := utf8.DecodeRuneInString(s[len(kept):])
		if jsonLen(s[:len(kept)+size]+answerCut) <= room {
			t.Fatalf("cutToJSON(%q, %d) kept %d bytes, %d fit", s, room, len(kept), len(kept)+size)
		}
	}
}

// TestResultFitsTemporalsLimit: a run whose answer and edits together
// pass Temporal's 2 MiB payload limit completes, with a result under it;
// before, the server would have refused the result after the tools ran.
func TestResultFitsTemporalsLimit(t *testing.T) {
	tests := []struct {
		name       string
		answer     string
		wantCut    bool
		wantKinds  []string
		wantMinLen int // of the answer
	}{
		{name: "small answer", answer: "Published.", wantKinds: []string{"requested:call_1", "approved:call_1", "executed:call_1"}},
		{name: "an answer of escapes over Temporal's limit", answer: strings.Repeat("<", 345<<10), wantCut: true,
			wantKinds: []string{"requested:call_1", "approved:call_1", "executed:call_1"}, wantMinLen: 300 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			// Fitting 2 MiB of JSON takes the workflow task about 0.1 s;
			// under -race, on a loaded machine, over the SDK's 1 s
			// deadlock detection (TMPRL1101), which is not what this
			// test is about.
			h.env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: time.Minute})
			h.model = script(calls(publishCall("call_1")), answer(tt.answer))
			h.decide(5*time.Minute, approve("call_1", "alice", "publisher", "m1"))
			res := h.run(AgentInput{Policy: testPolicy(t), Requester: "bob"})
			if n := jsonLen(res); n > maxResultLen {
				t.Errorf("result of %d bytes of JSON, over %d", n, maxResultLen)
			}
			if cut := strings.HasSuffix(res.Answer, answerCut); cut != tt.wantCut || len(res.Answer) < tt.wantMinLen {
				t.Errorf("answer of %d bytes, cut %v, want cut %v", len(res.Answer), cut, tt.wantCut)
			}
			wantKinds(t, res.Audit, tt.wantKinds...)
		})
	}
}

// onRuneBoundary reports whether s[:i] ends where a rune (or a byte that
// is not UTF-8) of s ends.
func onRuneBoundary(s string, i int) bool {
	at := 0
	for at < i {
		_, size := utf8.DecodeRuneInString(s[at:])
		at += size
	}
	return at == i
}
