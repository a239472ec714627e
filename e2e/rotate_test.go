package e2e

import (
	"crypto/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// rotatePolicy gates publishing by two distinct publishers (or higher), so
// that a call can hold a counted approval signed with one decision key
// while it waits for the second.
const rotatePolicy = `{
  "roles": ["editor", "publisher", "admin"],
  "tools": {
    "publish_blog_post": {"minRole": "publisher", "timeout": "10m", "approvals": 2},
    "search_posts": {"minRole": "none"},
    "delete_post": {"minRole": "publisher", "timeout": "10m"}
  }
}`

// TestDecisionKeyRotation follows ARCHITECTURE.md's rotation of the
// decision keys ("Where the state lives", decision keys) over the real
// processes, with runs pending and decided at each step: the new verify
// key added to the worker, the bridge switched to the new signing key,
// the old key retired (a bridge still signing with it is refused, a call
// approved under it still runs), the old key dropped; then the wrong order
// (the bridge switched first), whose decisions count once the worker holds
// the key and a bridge restart's catch-up forwards them again.
func TestDecisionKeyRotation(t *testing.T) {
	s := newStack(t, rotatePolicy)
	step := s.stepper(t)
	oldSign, oldVerify := s.signingKey, s.verifyKey
	newSign, newVerify := newKeyPair(t, "k-new")

	restartWorker := func(verifyKeys, retiredKeys string) {
		s.worker.stop(syscall.SIGTERM, 20*time.Second)
		s.verifyKey, s.retiredKeys = verifyKeys, retiredKeys
		s.startWorker()
	}
	restartBridge := func(signingKey string) {
		s.bridge.stop(syscall.SIGTERM, 20*time.Second)
		s.signingKey = signingKey
		s.startBridge()
	}
	approve := func(role, callID string) {
		s.t.Helper()
		if out, err := s.cli(role, "approve", callID); err != nil {
			s.t.Fatalf("%s approves %s: %v\n%s", role, callID, err, out)
		}
	}
	counted := func(id, role, progress string) {
		s.t.Helper()
		s.waitAudit(id, users[role].name+"'s approval counted", func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditCounted && e.Actor == users[role].name && strings.HasPrefix(e.Reason, progress)
		})
	}
	// quorum approves a waiting run's call by two publishers and checks
	// that its tool ran once.
	quorum := func(id, callID, title string) {
		s.t.Helper()
		approve("publisher", callID)
		counted(id, "publisher", "1 of 2 approvals")
		approve("publisher2", callID)
		assertRanOnce(s.t, s, s.result(id), callID, title)
	}

	// ignoredUntil starts a run whose first approval the worker ignores,
	// signed with a key it does not accept (why: the audit's reason), and
	// that counts after fix, when a bridge forwards it again; the second
	// approval then runs the call once. With told, the approver's CLI
	// hears from the run that it did not count (a retired key's signature
	// is genuine); without, it hears nothing (an unknown key's could be a
	// forgery, which gets no word out).
	ignoredUntil := func(title, why string, told bool, fix func()) {
		s.t.Helper()
		id := s.startRun("Publish the blog post called '" + title + "'")
		call := s.waitPending(id, 1)[0].ToolCallID
		out, err := s.cli("publisher", "approve", call)
		switch {
		case told && (err == nil || !strings.Contains(out, "Not counted") || !strings.Contains(out, why)):
			s.t.Fatalf("publisher approves %s under a retired key: %v, want exit status 1 and the run's word: %s\n%s", call, err, why, out)
		case !told && (err != nil || strings.Contains(out, "Not counted")):
			s.t.Fatalf("publisher approves %s: %v, want no word from the run\n%s", call, err, out)
		}
		s.waitAudit(id, "the approval ignored: "+why, func(e workflows.AuditEntry) bool {
			return e.Kind == workflows.AuditIgnored && e.Actor == users["publisher"].name && strings.Contains(e.Reason, why)
		})
		fix()
		counted(id, "publisher", "1 of 2 approvals")
		approve("publisher2", call)
		assertRanOnce(s.t, s, s.result(id), call, title)
	}

	// Runs: decided before the rotation; half approved under the old key,
	// completed before it is dropped.
	var decided, early string
	var earlyCall, decidedCall string
	step("before: a run decided and a run half approved under the old key", func(t *testing.T) {
		decided = s.startRun("Publish the blog post called 'Rotation decided'")
		decidedCall = s.waitPending(decided, 1)[0].ToolCallID
		quorum(decided, decidedCall, "Rotation decided")

		early = s.startRun("Publish the blog post called 'Rotation early'")
		earlyCall = s.waitPending(early, 1)[0].ToolCallID
		approve("publisher", earlyCall)
		counted(early, "publisher", "1 of 2 approvals")
	})

	var mid, late, last string
	var midCall, lateCall, lastCall string
	step("1: the worker verifies the old and the new key", func(t *testing.T) {
		restartWorker(oldVerify+","+newVerify, "")
		id := s.startRun("Publish the blog post called 'Rotation one'")
		quorum(id, s.waitPending(id, 1)[0].ToolCallID, "Rotation one")

		mid = s.startRun("Publish the blog post called 'Rotation mid'")
		midCall = s.waitPending(mid, 1)[0].ToolCallID
		approve("publisher", midCall)
		counted(mid, "publisher", "1 of 2 approvals")

		late = s.startRun("Publish the blog post called 'Rotation late'")
		lateCall = s.waitPending(late, 1)[0].ToolCallID
		approve("publisher", lateCall)
		counted(late, "publisher", "1 of 2 approvals")

		last = s.startRun("Publish the blog post called 'Rotation last'")
		lastCall = s.waitPending(last, 1)[0].ToolCallID
		approve("publisher", lastCall)
		counted(last, "publisher", "1 of 2 approvals")
	})

	step("2: the bridge signs with the new key", func(t *testing.T) {
		restartBridge(newSign)
		id := s.startRun("Publish the blog post called 'Rotation two'")
		quorum(id, s.waitPending(id, 1)[0].ToolCallID, "Rotation two")
		// Calls approved across the switch (old key, then new) run while
		// the worker still holds the old key: the tool activity checks
		// every approval of the call again.
		approve("publisher2", midCall)
		assertRanOnce(t, s, s.result(mid), midCall, "Rotation mid")
		approve("publisher2", earlyCall)
		assertRanOnce(t, s, s.result(early), earlyCall, "Rotation early")
	})

	step("3: the old key retired", func(t *testing.T) {
		restartWorker(newVerify, oldVerify)
		id := s.startRun("Publish the blog post called 'Rotation three'")
		quorum(id, s.waitPending(id, 1)[0].ToolCallID, "Rotation three")

		// The run decided before the rotation replays on this worker
		// (its verdicts are recorded): its audit is whole.
		v, err := s.approvals(decided)
		if err != nil {
			t.Fatalf("query of the run decided before the rotation: %v", err)
		}
		if count(v.Audit, workflows.AuditCounted, decidedCall) != 1 || count(v.Audit, workflows.AuditApproved, decidedCall) != 1 ||
			count(v.Audit, workflows.AuditExecuted, decidedCall) != 1 || count(v.Audit, workflows.AuditIgnored, decidedCall) != 0 {
			t.Fatalf("the replayed audit of %s:\n%s", decided, dump(v.Audit))
		}

		// A call whose first approval was signed with the old key and
		// counted, completed once that key is retired: its tool checks the
		// approvals again, the retired key's too, and runs.
		approve("publisher2", lateCall)
		assertRanOnce(t, s, s.result(late), lateCall, "Rotation late")

		// A bridge still signing with the retired key: its new decisions
		// are refused, their approvers are told why, and they count once
		// a bridge with the new key forwards them again (its catch-up).
		restartBridge(oldSign)
		ignoredUntil("Rotation stale bridge", `retired key "e2e"`, true, func() { restartBridge(newSign) })
	})

	step("4: the old key dropped", func(t *testing.T) {
		restartWorker(newVerify, "")
		id := s.startRun("Publish the blog post called 'Rotation four'")
		quorum(id, s.waitPending(id, 1)[0].ToolCallID, "Rotation four")

		// A call whose first approval was signed with the old key and
		// counted, completed once the worker no longer holds that key at
		// all: the tool activity checks the approvals again with the
		// worker's keys and refuses it, as ARCHITECTURE.md says (drop the
		// old key only once no call approved under it waits to run; sooner,
		// for a key that leaked, such calls are refused).
		approve("publisher2", lastCall)
		res := s.result(last)
		failed := findEntry(t, res.Audit, workflows.AuditFailed, lastCall)
		if !strings.Contains(failed.Reason, "tool not run: approval 1 ("+users["publisher"].name+`): signature: unknown key "e2e"`) {
			t.Fatalf("failed entry = %+v, want the old key's approval refused", failed)
		}
		if n := count(res.Audit, workflows.AuditExecuted, lastCall); n != 0 {
			t.Fatalf("the call approved under the dropped key ran (%d executed entries)", n)
		}
		if got := postsWith(t, s, "Rotation last"); len(got) != 0 {
			t.Fatalf("the call approved under the dropped key published %v", got)
		}
	})

	step("the wrong order: the bridge switched first", func(t *testing.T) {
		thirdSign, thirdVerify := newKeyPair(t, "k-third")
		restartBridge(thirdSign)
		// The fix: the worker gets the key, and a bridge restart's
		// catch-up forwards the decision again.
		ignoredUntil("Rotation wrong order", `unknown key "k-third"`, false, func() {
			restartWorker(newVerify+","+thirdVerify, "")
			restartBridge(thirdSign)
		})
	})
}

// newKeyPair makes a decision key pair with id, as approver keygen does.
func newKeyPair(t *testing.T, id string) (signingKey, verifyKey string) {
	t.Helper()
	sk, vk, err := signing.Generate(id, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return sk, vk
}
