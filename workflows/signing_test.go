package workflows

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// FuzzSigningPayload: a signal's payload is JSON that anyone who may signal
// the run chooses. Whatever decision it decodes to (as Temporal's JSON
// converter decodes it), the bytes the bridge signs and the worker checks
// start with the domain and decode back to every field the workflow acts
// on, so two decisions that differ in any of them never share a signature.
func FuzzSigningPayload(f *testing.F) {
	f.Add([]byte(`{"toolCallId":"call_1","decision":"approved","approverClientId":"alice","approverRole":"publisher","ablyMessageId":"m1","publishedAt":"2025-01-01T00:00:00.123456789Z","workflowId":"wf-1","keyId":"k1","signature":"c2ln"}`))
	f.Add([]byte(`{"toolCallId":"call_1","decision":"rejected","approverClientId":"bob","approverRole":"editor","reason":"no\u0000\u2028\ud800","ablyMessageId":"m2"}`))
	f.Add([]byte(`{"toolCallId":"call_1","decision":"approved","approverClientId":"carol","approverRole":"admin","ablyMessageId":"m3","argumentsDigest":"sha256:00","arguments":"{\"title\":\"<x>&\"}","publishedAt":"1970-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"decision":"approved","approverClientId":"\xff\xfe","publishedAt":"2262-04-11T23:47:16.854775808Z"}`))
	f.Fuzz(func(t *testing.T, signal []byte) {
		var d Decision
		if json.Unmarshal(signal, &d) != nil {
			return
		}
		p := d.SigningPayload()
		body, ok := bytes.CutPrefix(p, []byte(decisionSigningDomain))
		if !ok {
			t.Fatalf("payload %q lacks the domain", p)
		}
		var got struct {
			KeyID            string `json:"keyId"`
			WorkflowID       string `json:"workflowId"`
			ToolCallID       string `json:"toolCallId"`
			Decision         string `json:"decision"`
			ApproverClientID string `json:"approverClientId"`
			ApproverRole     string `json:"approverRole"`
			Reason           string `json:"reason"`
			AblyMessageID    string `json:"ablyMessageId"`
			PublishedAt      int64  `json:"publishedAtNanos"`
			ArgumentsDigest  string `json:"argumentsDigest"`
			Arguments        string `json:"arguments"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("payload %q: %v", body, err)
		}
		var nanos int64
		if !d.PublishedAt.IsZero() {
			nanos = d.PublishedAt.UnixNano()
		}
		want := got
		want.KeyID, want.WorkflowID, want.ToolCallID, want.Decision = d.KeyID, d.WorkflowID, d.ToolCallID, d.Decision
		want.ApproverClientID, want.ApproverRole, want.Reason, want.AblyMessageID = d.ApproverClientID, d.ApproverRole, d.Reason, d.AblyMessageID
		want.PublishedAt, want.ArgumentsDigest, want.Arguments = nanos, d.ArgumentsDigest, d.Arguments
		if got != want {
			t.Fatalf("payload of %+v decodes to %+v", d, got)
		}
		// The one field the payload holds lossily: a time and one 2^64 ns
		// away, or the zero time and 1970's first instant, share it
		// (signing.Verifier.Verify refuses those); any other time is told
		// apart to the nanosecond.
		if t0 := d.PublishedAt; !t0.IsZero() && nanos != 0 && time.Unix(0, nanos).Equal(t0) {
			if other := t0.Add(time.Nanosecond); bytes.Equal((&Decision{PublishedAt: other}).SigningPayload(), (&Decision{PublishedAt: t0}).SigningPayload()) &&
				time.Unix(0, other.UnixNano()).Equal(other) {
				t.Fatalf("times %v and %v share a payload", t0, other)
			}
		}
	})
}
