package approvercli

import (
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// A revision whose arguments differ from the first one this CLI saw counts
// as edited even when it names no editor: an approval of it needs the
// digest the approver reviewed.
func TestRevisionKeepsTheFirstDigest(t *testing.T) {
	p := NewPending("hitl-agent", func() time.Time { return t0 })
	rev := func(n int, args string) Request {
		d := reqData("call_1", "wf-1", t0.Add(time.Hour))
		d.Revision, d.Arguments, d.ArgumentsDigest = n, args, workflows.ArgumentsDigest(args)
		m := requestMsg(t, "hitl-agent", d)
		m.ID += "-" + string(rune('0'+n))
		ev := p.Apply(m)
		if ev.Kind != EventRequest && ev.Kind != EventUpdated {
			t.Fatalf("revision %d: %+v", n, ev)
		}
		return ev.Request
	}
	first := rev(0, `{"title":"Hello"}`)
	second := rev(1, `{"title":"Goodbye"}`)
	if second.FirstDigest != first.ArgumentsDigest {
		t.Fatalf("FirstDigest = %q, want the first revision's %q", second.FirstDigest, first.ArgumentsDigest)
	}
	if why := reviewRefusal(second, "", false); why == "" {
		t.Error("an approval of changed arguments without --digest is not refused")
	}
}
