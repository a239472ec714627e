package approvercli

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// Only y/yes and n/no (any case, spaces around) answer the prompt: an
// empty line (a second Enter) answers nothing, and a reason over
// MaxReasonLen is asked for again. The request's time runs out before the
// lines arrive, though the screen has not swept it yet: a line taken as a
// decision would say the request is no longer pending, and send nothing.
func TestWatcherAnswers(t *testing.T) {
	again := "Please answer y or n. " + PromptDecision
	tests := []struct {
		name      string
		lines     []string
		want      string
		wantStage stage
	}{
		{"empty line", []string{""}, again, stageDecision},
		{"spaces", []string{"   "}, again, stageDecision},
		{"another word", []string{"ok"}, again, stageDecision},
		{"no, in capitals, with spaces", []string{" NO "}, PromptReason, stageReason},
		{"reason too long", []string{"n", strings.Repeat("r", workflows.MaxReasonLen+1)},
			PromptReason + fmt.Sprintf("Reason too long (max %d bytes). %s", workflows.MaxReasonLen, PromptReason), stageReason},
		{"yes once expired", []string{"y"}, "This request is no longer pending; decision not sent.\n", stageDecision},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, s, w, out := newScreen("alice", "publisher")
			w.onEvent(s.apply(requestMsg(t, "hitl-agent", reqData("call_a", "wf-1", t0.Add(time.Hour)))))
			if w.current == nil {
				t.Fatalf("request not shown:\n%s", out)
			}
			out.Reset()
			c.now = t0.Add(time.Hour)
			for _, l := range tt.lines {
				w.onLine(t.Context(), inputLine{text: l, at: w.shownAt})
			}
			if got := out.String(); got != tt.want || w.stage != tt.wantStage {
				t.Fatalf("output %q, stage %d; want %q, stage %d", got, w.stage, tt.want, tt.wantStage)
			}
		})
	}
}
