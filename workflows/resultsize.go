package workflows

import (
	"fmt"
	"unicode/utf8"
)

// maxResultLen bounds the JSON of a run's result and of ApprovalsQuery's
// answer. Temporal refuses a payload over 2 MiB (the server's default
// blob size limit): a result over it would fail a run after its tools
// ran, and lose its answer and audit trail. The audit trail is bounded per
// entry, not in number of entries, and the edits of a run that allows them
// can hold 32 KiB each (the arguments and those they replaced); the answer
// is bounded only by the model result's own limit, close to 2 MiB.
const maxResultLen = 2<<20 - 64<<10

// minAuditLen is what fitResult keeps for the audit trail, at least, when
// the answer alone is larger than maxResultLen allows: the answer is cut
// first.
const minAuditLen = 64 << 10

// Texts that fitResult and fitAudit put where they left something out.
const (
	omittedArguments = "left out of this answer for its size: the workflow history holds the signal with them"
	answerCut        = "\n\n[the answer was cut to fit Temporal's payload limit]"
)

// fitResult returns the answer and the audit trail of a run's result,
// fitted to maxResultLen bytes of JSON together (fitAudit; the answer is
// cut, marked, only when the audit trail, fitted to minAuditLen, leaves it
// too little room).
func fitResult(answer string, turns int, audit []AuditEntry) (string, []AuditEntry) {
	rest := maxResultLen - jsonLen(AgentResult{Answer: answer, Turns: turns})
	if rest >= minAuditLen {
		return answer, fitAudit(audit, rest)
	}
	audit = fitAudit(audit, minAuditLen)
	room := maxResultLen - jsonLen(AgentResult{Turns: turns, Audit: audit})
	return cutToJSON(answer, room), audit
}

// fitAudit returns entries fitted to budget bytes of JSON (as a list), or
// entries themselves when they fit. In turn, until they fit:
//   - the edited arguments (Arguments, Original) of the oldest entries are
//     left out, their Omitted saying so;
//   - the oldest entries' reasons are cut to maxAuditFieldLen;
//   - the oldest entries are left out, and an AuditOmitted entry first
//     says how many.
//
// The workflow history holds every decision and tool result regardless.
func fitAudit(entries []AuditEntry, budget int) []AuditEntry {
	sizes := make([]int, len(entries))
	total := 2 // []
	for i, e := range entries {
		sizes[i] = jsonLen(e)
		total += sizes[i] + 1 // a comma each, one too many: a margin
	}
	if total <= budget {
		return entries
	}
	out := make([]AuditEntry, len(entries))
	copy(out, entries)
	resize := func(i int) {
		n := jsonLen(out[i])
		total += n - sizes[i]
		sizes[i] = n
	}
	for i := 0; i < len(out) && total > budget; i++ {
		if out[i].Arguments != "" || out[i].Original != "" {
			out[i].Arguments, out[i].Original = "", ""
			out[i].Omitted = omittedArguments
			resize(i)
		}
	}
	for i := 0; i < len(out) && total > budget; i++ {
		if len(out[i].Reason) > maxAuditFieldLen {
			out[i].Reason = truncate(out[i].Reason, maxAuditFieldLen)
			resize(i)
		}
	}
	if total <= budget {
		return out
	}
	// Leave out the oldest entries, making room for the note too.
	note := func(n int) AuditEntry {
		return AuditEntry{Kind: AuditOmitted, Reason: fmt.Sprintf("%d earlier entries of the audit trail are left out of this answer for its size (see the workflow history)", n)}
	}
	total += jsonLen(note(len(out))) + 1
	drop := 0
	for drop < len(out) && total > budget {
		total -= sizes[drop] + 1
		drop++
	}
	return append([]AuditEntry{note(drop)}, out[drop:]...)
}

// cutToJSON returns s, or s cut and marked with answerCut, so that its
// JSON (escapes count: encoding/json writes "<" as six bytes) is at most
// room bytes; "" when not even the mark fits. One pass over s: a
// workflow task must not spend seconds on it.
func cutToJSON(s string, room int) string {
	if jsonLen(s) <= room {
		return s
	}
	room -= jsonLen(answerCut)
	if room < 0 {
		return ""
	}
	n, cut := 0, 0 // the quotes are counted in jsonLen(answerCut)
	for cut < len(s) {
		r, size := utf8.DecodeRuneInString(s[cut:])
		if n += escapedLen(r, size); n > room {
			break
		}
		cut += size
	}
	return s[:cut] + answerCut
}

// escapedLen is how many bytes encoding/json writes for the rune r, size
// bytes of UTF-8 in the text (its appendString, HTML escaped).
func escapedLen(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1: // a byte that is not UTF-8
		return len(`\ufffd`)
	case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029':
		return len(`\u0000`)
	default:
		return size
	}
}
