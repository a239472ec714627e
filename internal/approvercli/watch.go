package approvercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// Watch is the interactive approver screen. It shows each pending request
// (those published before it started, then live ones), asks for a decision
// on in, and publishes it. Lines typed while no request is shown, or
// before the request shown was (a double Enter, a paste of "y\ny\n" that
// answered the previous one, a line waiting in the input when it starts),
// are discarded, so an early keystroke never answers a request the
// approver has not seen. It returns nil when ctx is cancelled or in reaches
// EOF.
func Watch(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	// Read the input from the start, before connecting: a line already
	// waiting (typed while the command started, or piped in) is then
	// stamped before any request is on the screen, and never answers one.
	// Started later, the reader would stamp such a line when it got round
	// to it, after the first request was shown.
	stop := make(chan struct{})
	defer close(stop)
	lines := readLines(in, stop)
	s, err := open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	who := s.clientID
	if who == "" {
		who = cfg.User
	}
	fmt.Fprintf(out, "Connected to Ably as %s.\nWaiting for approval requests on %s...\n", termtext.Line(who), termtext.Line(s.cfg.Channel))
	if note := s.historyNote(); note != "" {
		fmt.Fprintln(out, note)
	}

	w := newWatcher(s, out)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	w.showNext()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out)
			return nil
		case m := <-s.events:
			w.onEvent(s.apply(m))
		case line, ok := <-lines:
			if !ok {
				if w.current != nil && w.stage == stageReason {
					// "n" was typed, then the input ended at the
					// optional reason (echo n | approver watch): the
					// rejection stands, without one.
					fmt.Fprintln(out)
					w.decide(ctx, workflows.DecisionRejected, "")
				}
				fmt.Fprintln(out, "\nInput closed; exiting.")
				return nil
			}
			w.onLine(ctx, line)
		case err := <-s.authErr:
			return fmt.Errorf("the auth server refused to renew your token; nothing more can arrive: %w", err)
		case <-tick.C:
			w.expire()
			w.roleChanged()
		}
	}
}

func newWatcher(s *session, out io.Writer) *watcher {
	return &watcher{s: s, out: out, answered: map[string]bool{}, sent: map[string]string{}, belowRole: map[string]bool{}, role: s.role()}
}

type stage int

const (
	stageDecision stage = iota
	stageReason
)

type watcher struct {
	s        *session
	out      io.Writer
	current  *Request // the request being asked about, nil when idle
	stage    stage
	answered map[string]bool // requests this approver decided, by key
	// sent is the Ably message id of the last decision sent, by request
	// key: the agent's approval-ignored names it.
	sent map[string]string
	// shownAt is when current was last written to the screen (time.Now,
	// not the configured clock: it is compared with inputLine.at). A line
	// that arrived before it answers something else and is ignored.
	shownAt time.Time
	// toldEarly is set once the approver was told that a line typed
	// before current was shown was ignored.
	toldEarly bool
	// belowRole are the requests listed as Not for you because the
	// approver's role was below theirs, and role the role that was: when
	// a renewed token brings another, they are asked about again.
	belowRole map[string]bool
	role      string
}

// roleChanged asks again about the requests the approver's role was
// below, once a renewed token carries another role.
func (w *watcher) roleChanged() {
	role := w.s.role()
	if role == w.role {
		return
	}
	w.role = role
	for k := range w.belowRole {
		delete(w.answered, k)
	}
	clear(w.belowRole)
	if w.current == nil {
		w.showNext()
	}
}

// showNext shows the oldest pending request this approver has not
// answered, or goes idle.
func (w *watcher) showNext() {
	w.current = nil
	w.stage = stageDecision
	for _, r := range w.s.pending.List() {
		if w.answered[r.key()] || w.s.cfg.Workflow != "" && r.WorkflowID != w.s.cfg.Workflow {
			continue
		}
		why, below, warn := w.refused(r, workflows.DecisionApproved)
		if why != "" && below == "" && hasClient(r.ApprovedBy, w.s.clientID) {
			// Counted already; while more approvals are needed a
			// rejection can still take it back.
			fmt.Fprintf(w.out, "Approved by you: %s (%s): %s%s\n", termtext.Line(r.Tool), termtext.Line(r.ToolCallID),
				progress(len(r.ApprovedBy), r.Approvals, "approvals"), takeBack(r))
			w.answered[r.key()] = true
			continue
		}
		if why != "" {
			// Nothing this approver can decide: say so once, until the
			// request or the approver's role changes.
			fmt.Fprintf(w.out, "Not for you: %s (%s): %s\n", termtext.Line(r.Tool), termtext.Line(r.ToolCallID), why)
			w.answered[r.key()] = true
			continue
		}
		w.current = &r
		writeRequest(w.out, r, w.s.now())
		if warn != "" {
			fmt.Fprintln(w.out, warn)
		}
		// Stamped once the request is on the screen, before the prompt
		// (as notice does): anything that arrived earlier was typed
		// without it, and a line answering the prompt cannot arrive
		// before the stamp.
		w.shownAt, w.toldEarly = time.Now(), false
		fmt.Fprint(w.out, PromptDecision)
		return
	}
}

func (w *watcher) onEvent(ev Event) {
	switch ev.Kind {
	case EventRequest:
		if w.current == nil {
			w.showNext()
		}
	case EventUpdated:
		k := ev.Request.key()
		if ev.Request.ArgumentsDigest != ev.Previous.ArgumentsDigest || ev.Request.RequiredRole != ev.Previous.RequiredRole {
			// Edited arguments restart the count, and an escalation
			// changes who may decide: ask again.
			delete(w.answered, k)
		}
		if w.current != nil && w.current.key() == k {
			w.notice(k, func() {
				fmt.Fprintf(w.out, "Updated: %s (%s) changed while shown:\n", termtext.Line(ev.Request.Tool), termtext.Line(ev.Request.ToolCallID))
			})
			return
		}
		if w.current == nil {
			w.showNext()
		}
	case EventResolved:
		k := ev.Request.key()
		if !ev.WasPending && !w.answered[k] {
			return
		}
		delete(w.answered, k)
		delete(w.sent, k)
		w.notice(k, func() { writeResolved(w.out, ev.Resolved) })
	case EventNotCounted:
		// Only about the last decision this watch sent on the request
		// (once: a history read again after a reconnect meets it again),
		// which is asked about again.
		k := ev.Request.key()
		if ev.NotCounted.Approver != w.s.clientID || w.sent[k] == "" || ev.NotCounted.AblyMessageID != w.sent[k] {
			return
		}
		delete(w.sent, k)
		delete(w.answered, k)
		w.notice(k, func() { writeNotCounted(w.out, ev.NotCounted) })
		if w.current == nil {
			w.showNext()
		}
	}
}

// notice prints a line about the request with key k without garbling an
// open prompt: it breaks the prompt line, prints, and then either shows the
// next request (if k was the one being asked about) or says again which
// request the prompt is about, and repeats it. An answer typed before then
// was typed under the notice, and is ignored (IgnoredEarlyInput).
func (w *watcher) notice(k string, print func()) {
	if w.current == nil {
		print()
		return
	}
	fmt.Fprintln(w.out)
	print()
	if w.current.key() == k {
		w.showNext()
		return
	}
	fmt.Fprintf(w.out, "Still asking about: %s (%s)\n", termtext.Line(w.current.Tool), termtext.Line(w.current.ToolCallID))
	w.shownAt, w.toldEarly = time.Now(), false
	w.prompt()
}

// prompt repeats the question of the current stage.
func (w *watcher) prompt() {
	if w.stage == stageReason {
		fmt.Fprint(w.out, PromptReason)
		return
	}
	fmt.Fprint(w.out, PromptDecision)
}

func (w *watcher) onLine(ctx context.Context, in inputLine) {
	if w.current == nil {
		return // nothing is being asked
	}
	if in.at.Before(w.shownAt) {
		// Typed while something else (or nothing) was on the screen.
		if !w.toldEarly {
			w.toldEarly = true
			fmt.Fprintln(w.out)
			fmt.Fprintln(w.out, IgnoredEarlyInput)
			w.prompt()
		}
		return
	}
	line := strings.TrimSpace(in.text)
	switch w.stage {
	case stageDecision:
		switch strings.ToLower(line) {
		case "y", "yes":
			w.decide(ctx, workflows.DecisionApproved, "")
		case "n", "no":
			w.stage = stageReason
			fmt.Fprint(w.out, PromptReason)
		default:
			fmt.Fprint(w.out, "Please answer y or n. "+PromptDecision)
		}
	case stageReason:
		if len(line) > workflows.MaxReasonLen {
			fmt.Fprintf(w.out, "Reason too long (max %d bytes). %s", workflows.MaxReasonLen, PromptReason)
			return
		}
		w.decide(ctx, workflows.DecisionRejected, line)
	}
}

// refused says why this approver may not make decision on r with the
// role they hold now ("" when they may), below when that is their role
// being under r's (then r is marked belowRole: asked about again when a
// renewed token brings another role, roleChanged), and roleVerdict's
// warning.
func (w *watcher) refused(r Request, decision string) (why, below, warn string) {
	role := w.s.role()
	why = refusal(r, w.s.clientID, role, decision, false)
	below, warn = roleVerdict(r, role)
	if why == "" && below != "" {
		why = below
		w.belowRole[r.key()] = true
	}
	return why, below, warn
}

func (w *watcher) decide(ctx context.Context, decision, reason string) {
	r := *w.current
	if !w.s.pending.Has(r) {
		fmt.Fprintln(w.out, "This request is no longer pending; decision not sent.")
		w.showNext()
		return
	}
	if latest, ok := w.s.pending.Get(r); ok {
		r = latest
	}
	// The role may have gone down since the request was shown (a renewed
	// token): the agent would not count the decision, as `approve` says.
	why, below, _ := w.refused(r, decision)
	if why != "" && why == below {
		why += ": the agent would record the decision and keep waiting"
	}
	if why != "" {
		fmt.Fprintf(w.out, "Not sent: %s\n", why)
		w.answered[r.key()] = true
		w.showNext()
		return
	}
	if r.ArgumentsDigest != w.current.ArgumentsDigest {
		fmt.Fprintln(w.out, "The arguments changed while shown; decision not sent.")
		w.showNext()
		return
	}
	id, err := w.s.respond(ctx, r.ToolCallID, r.WorkflowID, r.ArgumentsDigest, decision, reason, "")
	if errors.Is(err, ErrUnconfirmed) {
		// Asked again, the approver could answer otherwise while this
		// decision is still on its way and counts first.
		fmt.Fprintf(w.out, "Decision %s not confirmed by Ably within %s (the connection may be down): it may still reach the agent, so this request is not asked about again here (`approver list` shows whether it still waits).\n", decision, w.s.cfg.Timeout)
		w.answered[r.key()] = true
		w.sent[r.key()] = id
		w.showNext()
		return
	}
	if err != nil {
		fmt.Fprintf(w.out, "Failed to send decision: %v\n", err)
		w.stage = stageDecision
		fmt.Fprint(w.out, PromptDecision)
		return
	}
	fmt.Fprintf(w.out, "Decision sent: %s\n", decision)
	w.answered[r.key()] = true
	w.sent[r.key()] = id
	w.showNext()
}

func (w *watcher) expire() {
	for _, r := range w.s.pending.Expire() {
		delete(w.answered, r.key())
		delete(w.sent, r.key())
		w.notice(r.key(), func() { fmt.Fprintf(w.out, "Expired: %s (%s)\n", termtext.Line(r.Tool), termtext.Line(r.ToolCallID)) })
	}
}
