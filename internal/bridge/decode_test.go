package bridge

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/workflows"
)

// msg builds an approval-response as ably-go delivers it; mutate adjusts it.
func msg(mutate func(m *ably.Message)) *ably.Message {
	m := &ably.Message{
		ID:        "conn1:0:0",
		Name:      workflows.MsgApprovalResponse,
		ClientID:  "alice",
		Data:      map[string]any{"decision": "approved"},
		Timestamp: 1_700_000_000_000,
		Extras: map[string]any{
			"userClaim": "publisher",
			"headers":   map[string]any{"toolCallId": "call_abc123"},
		},
	}
	if mutate != nil {
		mutate(m)
	}
	return m
}

func TestDecodeResponse(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_000).UTC()
	tests := []struct {
		name    string
		m       *ably.Message
		want    Response
		wantErr string
	}{
		{
			name: "realtime map data",
			m:    msg(nil),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "approved", PublishedAt: ts},
		},
		{
			name: "json string with encoding json and workflowId header",
			m: msg(func(m *ably.Message) {
				m.Data = `{"decision":"rejected","reason":"not now"}`
				m.Encoding = "json"
				m.Extras["headers"] = map[string]any{"toolCallId": "call_abc123", "workflowId": "agent-1"}
			}),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", WorkflowID: "agent-1", Decision: "rejected", Reason: "not now", PublishedAt: ts},
		},
		{
			name: "bytes",
			m:    msg(func(m *ably.Message) { m.Data = []byte(`{"decision":"approved"}`) }),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "approved", PublishedAt: ts},
		},
		{
			name: "json over base64",
			m: msg(func(m *ably.Message) {
				m.Data = base64.StdEncoding.EncodeToString([]byte(`{"decision":"approved"}`))
				m.Encoding = "json/base64"
			}),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "approved", PublishedAt: ts},
		},
		{
			// A client's fields this bridge does not know are skipped, and a
			// reason cut inside a character (half a surrogate pair, as
			// JSON.stringify writes it) still counts, with U+FFFD.
			name: "fields not known, a reason cut inside a character",
			m: msg(func(m *ably.Message) {
				m.Data, m.Encoding = `{"decision":"rejected","reason":"no \ud83d","client":{"name":"guide"}}`, "json"
			}),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "rejected", Reason: "no \uFFFD", PublishedAt: ts},
		},
		{
			name: "msgpack map any keys",
			m: msg(func(m *ably.Message) {
				m.Data = map[any]any{"decision": "approved"}
				m.Extras = map[string]any{"userClaim": "admin", "headers": map[any]any{"toolCallId": "call_1"}}
			}),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "admin", ToolCallID: "call_1", Decision: "approved", PublishedAt: ts},
		},
		{
			name: "no timestamp",
			m:    msg(func(m *ably.Message) { m.Timestamp = 0 }),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "approved"},
		},
		{
			name: "approval with edited arguments",
			m: msg(func(m *ably.Message) {
				m.Data = map[string]any{"decision": "approved", "arguments": `{"title":"Edited"}`, "argumentsDigest": "sha256:" + strings.Repeat("ab", 32)}
			}),
			want: Response{MessageID: "conn1:0:0", ClientID: "alice", Role: "publisher", ToolCallID: "call_abc123", Decision: "approved", PublishedAt: ts,
				Arguments: `{"title":"Edited"}`, ArgumentsDigest: "sha256:" + strings.Repeat("ab", 32)},
		},
		{name: "edit without digest", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "approved", "arguments": `{"title":"Edited"}`}
		}), wantErr: "an edit must name the argumentsDigest"},
		{name: "rejection with arguments", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "rejected", "arguments": `{"title":"Edited"}`, "argumentsDigest": "sha256:" + strings.Repeat("ab", 32)}
		}), wantErr: "only an approval carries edited arguments"},
		{name: "arguments as an object", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "approved", "arguments": map[string]any{"title": "x"}, "argumentsDigest": "sha256:" + strings.Repeat("ab", 32)}
		}), wantErr: "bad JSON"},
		{name: "long arguments", m: msg(func(m *ably.Message) {
			m.Data = []byte(`{"decision":"approved","argumentsDigest":"sha256:` + strings.Repeat("ab", 32) + `","arguments":"` + strings.Repeat("x", workflows.MaxEditedArgumentsLen+1) + `"}`)
		}), wantErr: "longer than"},
		{name: "nil", m: nil, wantErr: "nil message"},
		{name: "wrong name", m: msg(func(m *ably.Message) { m.Name = "approval-request" }), wantErr: "is not"},
		{name: "no id", m: msg(func(m *ably.Message) { m.ID = "" }), wantErr: "no id"},
		{name: "missing userClaim", m: msg(func(m *ably.Message) { delete(m.Extras, "userClaim") }), wantErr: "userClaim"},
		{name: "empty userClaim", m: msg(func(m *ably.Message) { m.Extras["userClaim"] = "" }), wantErr: "userClaim"},
		{name: "non-string userClaim", m: msg(func(m *ably.Message) { m.Extras["userClaim"] = map[string]any{"role": "admin"} }), wantErr: "userClaim"},
		{name: "nil extras", m: msg(func(m *ably.Message) { m.Extras = nil }), wantErr: "userClaim"},
		{name: "missing clientId", m: msg(func(m *ably.Message) { m.ClientID = "" }), wantErr: "clientId"},
		{name: "missing toolCallId", m: msg(func(m *ably.Message) { m.Extras["headers"] = map[string]any{} }), wantErr: "missing tool call id"},
		{name: "missing headers", m: msg(func(m *ably.Message) { delete(m.Extras, "headers") }), wantErr: "missing tool call id"},
		{name: "numeric toolCallId", m: msg(func(m *ably.Message) { m.Extras["headers"] = map[string]any{"toolCallId": 42} }), wantErr: "missing tool call id"},
		{name: "quote in toolCallId", m: msg(func(m *ably.Message) { m.Extras["headers"] = map[string]any{"toolCallId": "x' OR '1'='1"} }), wantErr: "not allowed"},
		{name: "long toolCallId", m: msg(func(m *ably.Message) {
			m.Extras["headers"] = map[string]any{"toolCallId": strings.Repeat("a", workflows.MaxToolCallIDLen+1)}
		}), wantErr: "longer"},
		{name: "long message id", m: msg(func(m *ably.Message) { m.ID = strings.Repeat("a", workflows.MaxMessageIDLen+1) }), wantErr: "message id longer than 128"},
		{name: "control char in message id", m: msg(func(m *ably.Message) { m.ID = "conn1:0\n:0" }), wantErr: "not printable"},
		{name: "non-ASCII message id", m: msg(func(m *ably.Message) { m.ID = "conn1:0:0é" }), wantErr: "not printable"},
		{name: "long clientId", m: msg(func(m *ably.Message) { m.ClientID = strings.Repeat("a", workflows.MaxClientIDLen+1) }), wantErr: "clientId longer than 128"},
		{name: "control char in clientId", m: msg(func(m *ably.Message) { m.ClientID = "ali\x00ce" }), wantErr: "unprintable"},
		{name: "invalid UTF-8 clientId", m: msg(func(m *ably.Message) { m.ClientID = "ali\xffce" }), wantErr: "not valid UTF-8"},
		{name: "long role", m: msg(func(m *ably.Message) { m.Extras["userClaim"] = strings.Repeat("r", workflows.MaxRoleLen+1) }), wantErr: "userClaim longer than 64"},
		{name: "control char in role", m: msg(func(m *ably.Message) { m.Extras["userClaim"] = "admin\n" }), wantErr: "unprintable"},
		{name: "non-string workflowId", m: msg(func(m *ably.Message) {
			m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": 7}
		}), wantErr: "workflowId: not a string"},
		{name: "control char in workflowId", m: msg(func(m *ably.Message) {
			m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": "a\x1bb"}
		}), wantErr: "unprintable"},
		{name: "bad decision", m: msg(func(m *ably.Message) { m.Data = map[string]any{"decision": "yes"} }), wantErr: "data.decision"},
		{name: "decision case", m: msg(func(m *ably.Message) { m.Data = map[string]any{"decision": "Approved"} }), wantErr: "data.decision"},
		{name: "no decision", m: msg(func(m *ably.Message) { m.Data = map[string]any{"reason": "x"} }), wantErr: "data.decision"},
		{name: "decision not a string", m: msg(func(m *ably.Message) { m.Data = map[string]any{"decision": true} }), wantErr: "bad JSON"},
		// Read as approved by encoding/json alone, as rejected by the
		// guide's client and the inbox (JSON.parse, exact case).
		{name: "decision in two cases", m: msg(func(m *ably.Message) {
			m.Data, m.Encoding = `{"decision":"rejected","DECISION":"approved"}`, "json"
		}), wantErr: "differ only in case"},
		{name: "decision twice", m: msg(func(m *ably.Message) {
			m.Data, m.Encoding = `{"decision":"rejected","decision":"approved"}`, "json"
		}), wantErr: `duplicate key "decision"`},
		{name: "string without json encoding", m: msg(func(m *ably.Message) { m.Data = `{"decision":"approved"}` }), wantErr: "without encoding"},
		{name: "plain string", m: msg(func(m *ably.Message) { m.Data = "approved" }), wantErr: "without encoding"},
		{name: "json array", m: msg(func(m *ably.Message) { m.Data = `[{"decision":"approved"}]`; m.Encoding = "json" }), wantErr: "not a JSON object"},
		{name: "trailing json", m: msg(func(m *ably.Message) { m.Data = `{"decision":"approved"}{}`; m.Encoding = "json" }), wantErr: "trailing"},
		{name: "unknown encoding", m: msg(func(m *ably.Message) { m.Data = "eA=="; m.Encoding = "cipher+aes-128-cbc/base64" }), wantErr: "unsupported encoding"},
		{name: "json encoding on map", m: msg(func(m *ably.Message) { m.Encoding = "json" }), wantErr: `encoding "json" on`},
		// The bridge drops a response naming a digest that no request
		// could carry, rather than forward it for the run to ignore.
		{name: "short argumentsDigest", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "approved", "argumentsDigest": "sha256:00"}
		}), wantErr: "data.argumentsDigest"},
		{name: "upper-case argumentsDigest", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "approved", "argumentsDigest": "sha256:" + strings.Repeat("AB", 32)}
		}), wantErr: "data.argumentsDigest"},
		{name: "argumentsDigest of another hash", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "rejected", "argumentsDigest": "md5:" + strings.Repeat("ab", 32)}
		}), wantErr: "data.argumentsDigest"},
		{name: "no data", m: msg(func(m *ably.Message) { m.Data = nil }), wantErr: "no data"},
		{name: "number data", m: msg(func(m *ably.Message) { m.Data = 1.0 }), wantErr: "unsupported data type"},
		{name: "oversized", m: msg(func(m *ably.Message) {
			m.Data = []byte(`{"decision":"approved","reason":"` + strings.Repeat("x", workflows.MaxMessageDataLen) + `"}`)
		}), wantErr: "larger than"},
		{
			// A forged userClaim inside data or headers is not the server-set one.
			name: "forged claim in headers",
			m: msg(func(m *ably.Message) {
				delete(m.Extras, "userClaim")
				m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "userClaim": "admin"}
				m.Data = map[string]any{"decision": "approved", "userClaim": "admin"}
			}),
			wantErr: "userClaim",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResponse(tt.m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected err: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeResponseReasonTruncated(t *testing.T) {
	long := strings.Repeat("é", workflows.MaxReasonLen) // 2 bytes per rune
	got, err := DecodeResponse(msg(func(m *ably.Message) { m.Data = map[string]any{"decision": "rejected", "reason": long} }))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Reason) > workflows.MaxReasonLen || !strings.HasPrefix(long, got.Reason) || len(got.Reason) < workflows.MaxReasonLen-1 {
		t.Fatalf("reason len %d not cut on a rune boundary at %d", len(got.Reason), workflows.MaxReasonLen)
	}
}

func TestDecodeResponseLimitsAccepted(t *testing.T) {
	id, client, role := strings.Repeat("i", workflows.MaxMessageIDLen), strings.Repeat("c", workflows.MaxClientIDLen), strings.Repeat("r", workflows.MaxRoleLen)
	got, err := DecodeResponse(msg(func(m *ably.Message) {
		m.ID, m.ClientID, m.Extras["userClaim"] = id, client, role
		m.Data = map[string]any{"decision": "rejected", "reason": strings.Repeat("x", 3000)}
	}))
	if err != nil {
		t.Fatalf("values at the limits refused: %v", err)
	}
	d := got.Signal()
	if d.AblyMessageID != id || d.ApproverClientID != client || d.ApproverRole != role || len(d.Reason) != workflows.MaxReasonLen || workflows.MaxReasonLen != 512 {
		t.Fatalf("signal = %d-byte id, %d-byte client, %d-byte role, %d-byte reason", len(d.AblyMessageID), len(d.ApproverClientID), len(d.ApproverRole), len(d.Reason))
	}
}

func TestResponseSignal(t *testing.T) {
	r := Response{MessageID: "m1", ClientID: "alice", Role: "admin", ToolCallID: "call_1", WorkflowID: "wf", Decision: "approved", Reason: "ok", PublishedAt: time.Unix(5, 0),
		ArgumentsDigest: "sha256:00", Arguments: `{"title":"x"}`}
	want := workflows.Decision{ToolCallID: "call_1", Decision: "approved", ApproverClientID: "alice", ApproverRole: "admin", Reason: "ok", AblyMessageID: "m1", PublishedAt: time.Unix(5, 0),
		ArgumentsDigest: "sha256:00", Arguments: `{"title":"x"}`}
	if got := r.Signal(); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

// FuzzDecodeResponse feeds arbitrary JSON-encoded messages (as a JSON
// subscriber or a history page would see them) and arbitrary data strings
// through the decoder: it must never panic, and anything it accepts must
// satisfy the invariants the bridge relies on.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(`{"id":"a:0:0","name":"approval-response","clientId":"alice","data":{"decision":"approved"},"extras":{"userClaim":"publisher","headers":{"toolCallId":"call_1"}}}`, "")
	f.Add(`{"id":"a:0:0","name":"approval-response","clientId":"alice","encoding":"json","extras":{"userClaim":"admin","headers":{"toolCallId":"call_1","workflowId":"wf"}}}`, `{"decision":"rejected","reason":"no"}`)
	f.Add(`{"id":"x","name":"approval-response","clientId":"c","encoding":"json/base64","extras":{"userClaim":"r","headers":{"toolCallId":"t"}}}`, `eyJkZWNpc2lvbiI6ImFwcHJvdmVkIn0=`)
	f.Add(`{"name":"approval-response","extras":{"headers":{"toolCallId":"' OR 1=1"}}}`, `{"decision":"approved"}`)
	f.Add(`{"id":"a:0:1","name":"approval-response","clientId":"alice","encoding":"json","extras":{"userClaim":"admin","headers":{"toolCallId":"call_1"}}}`,
		`{"decision":"approved","arguments":"{\"title\":\"x\"}","argumentsDigest":"sha256:`+strings.Repeat("0", 64)+`"}`)
	f.Fuzz(func(t *testing.T, msgJSON, data string) {
		var m ably.Message
		if err := json.Unmarshal([]byte(msgJSON), &m); err != nil {
			return
		}
		if m.Data == nil && data != "" {
			m.Data = data
		}
		r, err := DecodeResponse(&m)
		if err != nil {
			return
		}
		if r.Role == "" || r.ClientID == "" || r.MessageID == "" {
			t.Fatalf("accepted without identity: %+v", r)
		}
		if r.Decision != workflows.DecisionApproved && r.Decision != workflows.DecisionRejected {
			t.Fatalf("accepted decision %q", r.Decision)
		}
		if err := workflows.ValidateToolCallID(r.ToolCallID); err != nil {
			t.Fatalf("accepted bad tool call id: %v", err)
		}
		if _, err := VisibilityQuery(r.ToolCallID); err != nil {
			t.Fatalf("no query for accepted id: %v", err)
		}
		if len(r.Reason) > workflows.MaxReasonLen {
			t.Fatalf("reason too long: %d", len(r.Reason))
		}
		if workflows.ValidateMessageID(r.MessageID) != nil || len(r.ClientID) > workflows.MaxClientIDLen || len(r.Role) > workflows.MaxRoleLen {
			t.Fatalf("accepted unbounded identity: %q %q %q", r.MessageID, r.ClientID, r.Role)
		}
		if r.ArgumentsDigest != "" && workflows.ValidateArgumentsDigest(r.ArgumentsDigest) != nil {
			t.Fatalf("accepted a malformed argumentsDigest %q", r.ArgumentsDigest)
		}
		if r.Arguments != "" && (r.Decision != workflows.DecisionApproved || r.ArgumentsDigest == "" || len(r.Arguments) > workflows.MaxEditedArgumentsLen || !utf8.ValidString(r.Arguments)) {
			t.Fatalf("accepted an edit without its guarantees: %+v", r)
		}
	})
}

// TestDecodeResponseBoundaries pins the decoder's edges that the cases
// above leave open: an empty workflowId header is a guide-shaped response,
// not a malformed one; the limits themselves are accepted; a reason of
// exactly the limit is kept whole.
func TestDecodeResponseBoundaries(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	atLimit := strings.Repeat("x", workflows.MaxEditedArgumentsLen)
	tests := []struct {
		name    string
		m       *ably.Message
		check   func(r Response) bool
		wantErr string
	}{
		{name: "empty workflowId header: no workflow named", m: msg(func(m *ably.Message) {
			m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": ""}
		}), check: func(r Response) bool { return r.WorkflowID == "" && r.ToolCallID == "call_1" }},
		{name: "edited arguments of exactly the limit", m: msg(func(m *ably.Message) {
			m.Data = []byte(`{"decision":"approved","argumentsDigest":"` + digest + `","arguments":"` + atLimit + `"}`)
		}), check: func(r Response) bool { return r.Arguments == atLimit }},
		{name: "reason of exactly the limit kept whole", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "rejected", "reason": strings.Repeat("é", workflows.MaxReasonLen/2)}
		}), check: func(r Response) bool { return r.Reason == strings.Repeat("é", workflows.MaxReasonLen/2) }},
		{name: "reason one byte over the limit cut on a rune boundary", m: msg(func(m *ably.Message) {
			m.Data = map[string]any{"decision": "rejected", "reason": "x" + strings.Repeat("é", workflows.MaxReasonLen/2)}
		}), check: func(r Response) bool { return r.Reason == "x"+strings.Repeat("é", workflows.MaxReasonLen/2-1) }},
		{name: "workflowId header too long", m: msg(func(m *ably.Message) {
			m.Extras["headers"] = map[string]any{"toolCallId": "call_1", "workflowId": strings.Repeat("w", workflows.MaxWorkflowIDLen+1)}
		}), wantErr: "extras.headers.workflowId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeResponse(tt.m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeResponse: %v", err)
			}
			if !tt.check(r) {
				t.Fatalf("decoded %+v", r)
			}
		})
	}
}

// TestTruncate: truncate cuts on a rune boundary and never past the
// string; the bridge also cuts untrusted, possibly invalid, ids for its
// logs with it.
func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"abc", 3, "abc"},
		{"abc", 2, "ab"},
		{"aé", 2, "a"},
		{"é", 1, ""},
		{"\xc0" + strings.Repeat("\x80", 8), 4, ""}, // no rune starts after the first byte
		{"", 0, ""},
	}
	for _, tt := range tests {
		if got := truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}
