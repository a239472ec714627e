package signing

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/hitl/durable-approvals/workflows"
)

// FuzzVerify feeds Verify and VerifyCounted what whoever may signal a run
// controls: every field of a decision, its key id and signature. Neither
// may panic; a decision signed with the fields verifies under the verify
// key, and under the retired key only for VerifyCounted; no other
// signature text verifies (not even another base64 of the same bytes), nor
// is told apart by Verify as the retired key's.
func FuzzVerify(f *testing.F) {
	sk, vk, err := Generate("k1", bytes.NewReader(bytes.Repeat([]byte{9}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	sk0, vk0, err := Generate("k0", bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		f.Fatal(err)
	}
	s, err := ParseSigner(sk)
	if err != nil {
		f.Fatal(err)
	}
	s0, err := ParseSigner(sk0)
	if err != nil {
		f.Fatal(err)
	}
	v, err := ParseVerifierRetired(vk, vk0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("call_1", "approved", "pat", "publisher", "ok", "m1", int64(1_700_000_000_000_000_000), "hitl-1", "sha256:ab", `{"a":1}`, "k1", "")
	f.Add("", "", "", "", "", "", int64(0), "", "", "", "", "AAAA")
	f.Add("c", "rejected", "\xff", "r", "\u2028", "m", int64(-1), "w", "", "", "k9", "!!")
	f.Fuzz(func(t *testing.T, call, decision, approver, role, reason, msgID string, nanos int64, workflowID, digest, args, keyID, sig string) {
		d := decision1(call, decision, approver, role, reason, msgID, nanos, workflowID, digest, args)
		s0.Sign(&d)
		good0 := d.Signature
		if err := v.Verify(d); !errors.Is(err, ErrRetiredKey) {
			t.Fatalf("a new decision signed with the retired key: %v", err)
		}
		if err := v.VerifyCounted(d); err != nil {
			t.Fatalf("a counted decision signed with the retired key: %v", err)
		}
		s.Sign(&d)
		good := d.Signature
		if err := v.Verify(d); err != nil {
			t.Fatalf("a decision signed as it is: %v", err)
		}
		if err := v.VerifyCounted(d); err != nil {
			t.Fatalf("a counted decision signed as it is: %v", err)
		}
		d.KeyID, d.Signature = keyID, sig
		err := v.Verify(d)
		if err == nil && (keyID != "k1" || sig != good) {
			t.Fatalf("key %q, signature %q verified; the signer's is %q", keyID, sig, good)
		}
		if errors.Is(err, ErrRetiredKey) && (keyID != "k0" || sig != good0) {
			t.Fatalf("key %q, signature %q told apart as the retired key's; its signature is %q", keyID, sig, good0)
		}
		if v.VerifyCounted(d) == nil && !(keyID == "k1" && sig == good || keyID == "k0" && sig == good0) {
			t.Fatalf("key %q, signature %q verified as counted; the signers' are %q and %q", keyID, sig, good, good0)
		}
	})
}

func decision1(call, decision, approver, role, reason, msgID string, nanos int64, workflowID, digest, args string) (d workflows.Decision) {
	d.ToolCallID, d.Decision, d.ApproverClientID, d.ApproverRole, d.Reason, d.AblyMessageID = call, decision, approver, role, reason, msgID
	if nanos != 0 {
		d.PublishedAt = time.Unix(0, nanos)
	}
	d.WorkflowID, d.ArgumentsDigest, d.Arguments = workflowID, digest, args
	return d
}
