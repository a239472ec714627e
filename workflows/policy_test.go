package workflows

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // substring; empty means success
		check   func(t *testing.T, p Policy)
	}{
		{name: "team policy", in: testPolicyJSON, check: func(t *testing.T, p Policy) {
			if got := p.Tools["publish_blog_post"].ApprovalTimeout(); got != 10*time.Minute {
				t.Errorf("publish timeout = %s", got)
			}
			if got := p.Tools["delete_post"].ApprovalTimeout(); got != 5*time.Minute {
				t.Errorf("delete timeout = %s", got)
			}
			if p.Tools["search_posts"].NeedsApproval() {
				t.Error("search_posts needs approval")
			}
			if !p.Tools["delete_post"].NeedsApproval() {
				t.Error("delete_post needs no approval")
			}
		}},
		{name: "default roles and timeout", in: `{"tools":{"t":{"minRole":"admin"}}}`, check: func(t *testing.T, p Policy) {
			if !slices.Equal(p.Roles, DefaultRoles) {
				t.Errorf("roles = %v", p.Roles)
			}
			if got := p.Tools["t"].ApprovalTimeout(); got != DefaultApprovalTimeout {
				t.Errorf("timeout = %s", got)
			}
			p.Roles[0] = "changed"
			if DefaultRoles[0] != "editor" {
				t.Error("ParsePolicy aliases DefaultRoles")
			}
		}},
		{name: "unknown field", in: `{"tools":{"t":{"minRole":"admin"}},"extra":1}`, wantErr: "unknown field"},
		{name: "unknown tool field", in: `{"tools":{"t":{"minRole":"admin","maxRole":"x"}}}`, wantErr: "unknown field"},
		{name: "trailing data", in: `{"tools":{"t":{"minRole":"admin"}}} {}`, wantErr: "trailing data"},
		{name: "not json", in: `roles: [a]`, wantErr: "policy:"},
		{name: "empty", in: ``, wantErr: "policy:"},
		{name: "no tools", in: `{"roles":["a"]}`, wantErr: "no tool has a policy"},
		{name: "minRole missing", in: `{"tools":{"t":{}}}`, wantErr: "tools.t: minRole is required"},
		{name: "minRole not a role", in: `{"tools":{"t":{"minRole":"root"}}}`, wantErr: `minRole "root" is not in roles`},
		{name: "numeric timeout", in: `{"tools":{"t":{"minRole":"admin","timeout":600}}}`, wantErr: "duration must be a string"},
		{name: "bad timeout", in: `{"tools":{"t":{"minRole":"admin","timeout":"10 minutes"}}}`, wantErr: "bad duration"},
		// A reviewer reads the first; encoding/json alone takes the last
		// (or the field whatever its case), here a tool without approval.
		{name: "tool written twice", in: `{"tools":{"delete_post":{"minRole":"admin","timeout":"5m"},"delete_post":{"minRole":"none"}}}`, wantErr: `policy: tools: duplicate key "delete_post"`},
		{name: "minRole written twice", in: `{"tools":{"delete_post":{"minRole":"admin","minRole":"none"}}}`, wantErr: `policy: tools.delete_post: duplicate key "minRole"`},
		{name: "minRole in another case", in: `{"tools":{"delete_post":{"minRole":"admin","MINROLE":"none"}}}`, wantErr: `differ only in case`},
		{name: "tools in another case", in: `{"tools":{"delete_post":{"minRole":"admin"}},"Tools":{"delete_post":{"minRole":"none"}}}`, wantErr: `differ only in case`},
		{name: "a field in another case alone", in: `{"tools":{"delete_post":{"MinRole":"admin"}}}`, wantErr: `policy: tools.delete_post: key "MinRole": write it "minRole"`},
		{name: "zero timeout", in: `{"tools":{"t":{"minRole":"admin","timeout":"0s"}}}`, wantErr: "tools.t: timeout 0s: omit it for the default"},
		{name: "zero timeout written as 0m", in: `{"tools":{"t":{"minRole":"admin","timeout":"0m"}},"roles":["admin"]}`, wantErr: "tools.t: timeout 0s"},
		{name: "negative timeout", in: `{"tools":{"t":{"minRole":"admin","timeout":"-1m"}}}`, wantErr: "out of range"},
		{name: "timeout too long", in: `{"tools":{"t":{"minRole":"admin","timeout":"721h"}}}`, wantErr: "out of range"},
		{name: "the longest timeout", in: `{"tools":{"t":{"minRole":"admin","timeout":"720h"}}}`},
		{name: "duplicate role", in: `{"roles":["a","a"],"tools":{"t":{"minRole":"a"}}}`, wantErr: `duplicate role "a"`},
		{name: "empty role", in: `{"roles":["a",""],"tools":{"t":{"minRole":"a"}}}`, wantErr: "empty role name"},
		{name: "reserved role none", in: `{"roles":["none","a"],"tools":{"t":{"minRole":"a"}}}`, wantErr: `"none" is reserved`},
		{name: "empty tool name", in: `{"tools":{"":{"minRole":"admin"}}}`, wantErr: "empty tool name"},
		{name: "every problem reported", in: `{"roles":["a","a"],"tools":{"x":{"minRole":"b"},"y":{}}}`, check: nil, wantErr: "tools.y: minRole is required"},
		{name: "every rule", in: `{"tools":{"t":{"minRole":"publisher","timeout":"30m","approvals":2,"rejectBy":"quorum",
			"distinctFromRequester":true,"editable":true,"escalate":[{"after":"10m","minRole":"admin"}]}}}`, check: func(t *testing.T, p Policy) {
			tp := p.Tools["t"]
			if tp.RequiredApprovals() != 2 || tp.RejectBy != RejectByQuorum || !tp.DistinctFromRequester || !tp.Editable ||
				len(tp.Escalate) != 1 || time.Duration(tp.Escalate[0].After) != 10*time.Minute || tp.Escalate[0].MinRole != "admin" || !tp.hasRules() {
				t.Errorf("rules = %+v", tp)
			}
			if p.Tools["t"].RequiredApprovals() != 2 || (ToolPolicy{}).RequiredApprovals() != 1 {
				t.Error("RequiredApprovals")
			}
		}},
		{name: "approvals out of range", in: `{"tools":{"t":{"minRole":"admin","approvals":11}}}`, wantErr: "approvals 11 out of range [1, 10]"},
		{name: "the most approvals", in: `{"tools":{"t":{"minRole":"admin","approvals":10}}}`},
		{name: "negative approvals", in: `{"tools":{"t":{"minRole":"admin","approvals":-1}}}`, wantErr: "out of range"},
		{name: "bad rejectBy", in: `{"tools":{"t":{"minRole":"admin","rejectBy":"all"}}}`, wantErr: `rejectBy "all"`},
		{name: "rules on a tool without approval", in: `{"tools":{"t":{"minRole":"none","editable":true}}}`, wantErr: `need a minRole other than "none"`},
		{name: "escalation to the same role", in: `{"tools":{"t":{"minRole":"admin","escalate":[{"after":"1m","minRole":"admin"}]}}}`, wantErr: "must be higher"},
		{name: "escalation to a lower role", in: `{"tools":{"t":{"minRole":"publisher","escalate":[{"after":"1m","minRole":"editor"}]}}}`, wantErr: "must be higher"},
		{name: "escalation to an unknown role", in: `{"tools":{"t":{"minRole":"publisher","escalate":[{"after":"1m","minRole":"root"}]}}}`, wantErr: `minRole "root" is not in roles`},
		{name: "escalation after the timeout", in: `{"tools":{"t":{"minRole":"publisher","timeout":"5m","escalate":[{"after":"5m","minRole":"admin"}]}}}`, wantErr: "before the timeout"},
		{name: "escalations out of order", in: `{"roles":["a","b","c"],"tools":{"t":{"minRole":"a","timeout":"1h","escalate":[{"after":"20m","minRole":"b"},{"after":"10m","minRole":"c"}]}}}`, wantErr: "must be later than"},
		{name: "escalation without after", in: `{"tools":{"t":{"minRole":"publisher","escalate":[{"minRole":"admin"}]}}}`, wantErr: "must be later than"},
		{name: "too many escalations", in: `{"roles":["a","b","c","d","e","f","g"],"tools":{"t":{"minRole":"a","timeout":"1h","escalate":[
			{"after":"1m","minRole":"b"},{"after":"2m","minRole":"c"},{"after":"3m","minRole":"d"},{"after":"4m","minRole":"e"},{"after":"5m","minRole":"f"},{"after":"6m","minRole":"g"}]}}}`, wantErr: "at most 5"},
		{name: "unknown rule field", in: `{"tools":{"t":{"minRole":"admin","escalate":[{"after":"1m","minRole":"admin","notify":true}]}}}`, wantErr: "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePolicy([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParsePolicy error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePolicy: %v", err)
			}
			if tt.check != nil {
				tt.check(t, p)
			}
		})
	}
}

func TestValidateReportsAllProblems(t *testing.T) {
	p := Policy{Roles: []string{"a", "a"}, Tools: map[string]ToolPolicy{"x": {MinRole: "b"}, "y": {}}}
	err := p.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad policy")
	}
	for _, want := range []string{`duplicate role "a"`, `tools.x: minRole "b" is not in roles`, "tools.y: minRole is required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := (Policy{}).Validate(); err == nil {
		t.Error("the zero policy validated")
	}
}

func TestCheck(t *testing.T) {
	p := testPolicy(t)
	tests := []struct {
		tool, role string
		wantErr    string // empty: may approve
	}{
		{"publish_blog_post", "publisher", ""},
		{"publish_blog_post", "admin", ""},
		{"publish_blog_post", "editor", "insufficient role: editor < publisher"},
		{"publish_blog_post", "", "no role"},
		{"publish_blog_post", "superuser", `unknown role "superuser"`},
		{"publish_blog_post", "Publisher", `unknown role "Publisher"`},
		{"publish_blog_post", "none", `unknown role "none"`},
		{"delete_post", "admin", ""},
		{"delete_post", "publisher", "insufficient role: publisher < admin"},
		{"search_posts", "admin", `tool "search_posts" needs no approval`},
		{"drop_database", "admin", `tool "drop_database" has no policy`},
		{"", "admin", `tool "" has no policy`},
	}
	for _, tt := range tests {
		t.Run(tt.tool+"/"+tt.role, func(t *testing.T) {
			err := p.Check(tt.tool, tt.role)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("Check(%q, %q) = %v, want nil", tt.tool, tt.role, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Check(%q, %q) = %v, want %q", tt.tool, tt.role, err, tt.wantErr)
			}
		})
	}
	if err := (Policy{}).Check("publish_blog_post", "admin"); err == nil {
		t.Error("the zero policy allowed a call")
	}
}

// The guide's canApprove compares indexOf results, so an unknown role (-1)
// passes an unknown required role (-1): -1 >= -1. CanApprove must deny both.
func TestCanApprove(t *testing.T) {
	roles := []string{"editor", "publisher", "admin"}
	tests := []struct {
		role, required string
		ok             bool
	}{
		{"editor", "editor", true},
		{"admin", "publisher", true},
		{"publisher", "publisher", true},
		{"editor", "publisher", false},
		{"publisher", "admin", false},
		{"hacker", "editor", false},
		{"hacker", "unknown", false}, // the guide's bug: -1 >= -1
		{"", "editor", false},
		{"", "", false},
		{"admin", "", false},
		{"admin", "unknown", false},
		{"ADMIN", "editor", false},
		{" admin", "editor", false},
	}
	for _, tt := range tests {
		t.Run(tt.role+"/"+tt.required, func(t *testing.T) {
			err := CanApprove(roles, tt.role, tt.required)
			if got := err == nil; got != tt.ok {
				t.Errorf("CanApprove(%q, %q) = %v, want ok=%v", tt.role, tt.required, err, tt.ok)
			}
		})
	}
	if err := CanApprove(nil, "admin", "admin"); err == nil {
		t.Error("CanApprove with no roles allowed a call")
	}
}

func TestDurationJSON(t *testing.T) {
	b, err := json.Marshal(ToolPolicy{MinRole: "admin", Timeout: Duration(90 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"minRole":"admin","timeout":"1m30s"}`; got != want {
		t.Errorf("marshal = %s, want %s", got, want)
	}
	var tp ToolPolicy
	if err := json.Unmarshal(b, &tp); err != nil || tp.ApprovalTimeout() != 90*time.Second {
		t.Errorf("round trip = %+v, %v", tp, err)
	}
}

// FuzzParsePolicy: any accepted policy is valid, survives a JSON round trip
// and denies unknown roles and tools.
func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(testPolicyJSON))
	f.Add([]byte(`{"tools":{"t":{"minRole":"admin"}}}`))
	f.Add([]byte(`{"roles":["a","b"],"tools":{"t":{"minRole":"b","timeout":"1s"},"u":{"minRole":"none"}}}`))
	f.Add([]byte(`{"roles":[],"tools":{}}`))
	f.Add([]byte(`{"tools":{"t":{"minRole":"admin","timeout":"-5m"}}} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("accepted policy does not validate: %v", err)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("marshal accepted policy: %v", err)
		}
		q, err := ParsePolicy(b)
		if err != nil {
			t.Fatalf("re-parse %s: %v", b, err)
		}
		if !slices.Equal(p.Roles, q.Roles) || len(p.Tools) != len(q.Tools) {
			t.Fatalf("round trip changed the policy: %+v -> %+v", p, q)
		}
		for name, tp := range p.Tools {
			if !reflect.DeepEqual(q.Tools[name], tp) {
				t.Fatalf("round trip changed tool %q: %+v -> %+v", name, tp, q.Tools[name])
			}
			if d := tp.ApprovalTimeout(); d <= 0 || d > MaxApprovalTimeout {
				t.Fatalf("tool %q timeout %s out of range", name, d)
			}
			if err := p.Check(name, "\x00not-a-role"); err == nil {
				t.Fatalf("unknown role may approve %q", name)
			}
			if err := p.Check(name, ""); err == nil {
				t.Fatalf("empty role may approve %q", name)
			}
			for _, role := range p.Roles {
				err := p.Check(name, role)
				if !tp.NeedsApproval() {
					if err == nil {
						t.Fatalf("Check allowed approval of %q, which needs none", name)
					}
					continue
				}
				want := p.RoleRank(role) >= p.RoleRank(tp.MinRole)
				if (err == nil) != want {
					t.Fatalf("Check(%q, %q) = %v, want ok=%v", name, role, err, want)
				}
			}
		}
		if _, ok := p.Tools["\x00unknown"]; !ok {
			if err := p.Check("\x00unknown", p.Roles[len(p.Roles)-1]); err == nil {
				t.Fatal("unknown tool may be approved")
			}
		}
	})
}

func TestToolNamesSorted(t *testing.T) {
	p := Policy{Tools: map[string]ToolPolicy{"zeta": {}, "alpha": {}, "mid": {}}}
	if got, want := strings.Join(p.ToolNames(), ","), "alpha,mid,zeta"; got != want {
		t.Fatalf("ToolNames() = %s, want %s", got, want)
	}
	if got := (Policy{}).ToolNames(); len(got) != 0 {
		t.Fatalf("ToolNames() of an empty policy = %v", got)
	}
}
