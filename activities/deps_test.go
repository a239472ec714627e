package activities

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/workflows"
)

// teamPolicy is the team's policy file.
const teamPolicy = `{"roles":["editor","publisher","admin"],
 "tools":{"publish_blog_post":{"minRole":"publisher","timeout":"10m"},
          "search_posts":{"minRole":"none"},
          "delete_post":{"minRole":"admin","timeout":"5m"}}}`

// testIDKey keys the agent's message ids in these tests.
var testIDKey = []byte("activities-test-message-id-key!!")

// withTrust fills in what every Activities needs besides what a test
// exercises: the team's policy, a decision verifier (of the tests' key,
// testKeys, whose signer it also returns) and a message-id key.
func withTrust(t *testing.T, d Deps) (Deps, *signing.Signer) {
	t.Helper()
	p, err := workflows.ParsePolicy([]byte(teamPolicy))
	if err != nil {
		t.Fatal(err)
	}
	signer, verifier := testKeys()
	d.Policy, d.Verifier, d.MessageIDKey = p, verifier, testIDKey
	if d.Runs == nil {
		d.Runs = callerRuns{}
	}
	return d, signer
}

// callerRuns answers DescribeWorkflowExecution as Temporal would for a
// run of kind on queue (the agent's workflow on its task queue when
// empty), or fails with err.
type callerRuns struct {
	queue, kind string
	err         error
}

func (r callerRuns) DescribeWorkflowExecution(_ context.Context, id, runID string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	if r.err != nil {
		return nil, r.err
	}
	queue, kind := r.queue, r.kind
	if queue == "" {
		queue = workflows.TaskQueue
	}
	if kind == "" {
		kind = workflows.WorkflowName
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{WorkflowExecutionInfo: &workflowpb.WorkflowExecutionInfo{
		Execution: &commonpb.WorkflowExecution{WorkflowId: id, RunId: runID}, Type: &commonpb.WorkflowType{Name: kind}, TaskQueue: queue}}, nil
}

// testKeys is the bridge's key pair in these tests: withTrust's verifier
// checks what approved signs.
var testKeys = sync.OnceValues(func() (*signing.Signer, *signing.Verifier) {
	signer, verifier, err := signing.NewPair("k1", rand.Reader)
	if err != nil {
		panic(err)
	}
	return signer, verifier
})

func TestNewRequiresTrust(t *testing.T) {
	reg, _ := testRegistry(t)
	_, err := New(Deps{Model: noModel{}, Tools: reg, Publisher: nopPublisher{t}, MessageIDKey: []byte("short")})
	for _, want := range []string{"no decision verifier", "no Temporal client to describe runs", "message-id key shorter than 16 bytes", "policy (Deps.Policy)"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New without trust = %v, want %q", err, want)
		}
	}
}

// WorkerPolicy hands a run the worker's policy and its tools' schemas.
func TestWorkerPolicy(t *testing.T) {
	reg, _ := testRegistry(t)
	d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: nopPublisher{t}})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	wp, err := a.WorkerPolicy(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if wp.Policy.Tools["delete_post"].MinRole != "admin" || len(wp.Schemas) != 3 || len(wp.LocalTools) != 3 {
		t.Fatalf("worker policy = %+v", wp)
	}
	// The schema the run checks arguments against is the tool's own.
	canon, err := workflows.CanonicalArguments(`{"title":"x","body":"y"}`, wp.Schemas[ToolPublishBlogPost])
	if err != nil || canon != `{"body":"y","title":"x"}` {
		t.Errorf("canonical publish arguments = %q, %v", canon, err)
	}
	if _, err := workflows.CanonicalArguments(`{"title":"x","author":"y"}`, wp.Schemas[ToolPublishBlogPost]); err == nil {
		t.Error("the publish schema allows an unknown field")
	}
}

// WorkerPolicy hands a run the worker's tool and model retries: the
// defaults, the ones configured, and New refuses one out of bounds.
func TestWorkerPolicyRetries(t *testing.T) {
	def, defModel := workflows.DefaultToolRetry(), workflows.DefaultModelRetry()
	tests := []struct {
		name       string
		retry      *workflows.ToolRetry
		modelRetry *workflows.ModelRetry
		want       workflows.ToolRetry
		wantModel  workflows.ModelRetry
		wantErr    string
	}{
		{"defaults", nil, nil, def, defModel, ""},
		{"tool retry configured", &workflows.ToolRetry{MaxAttempts: 4, MaxInterval: 5 * time.Second}, nil, workflows.ToolRetry{MaxAttempts: 4, MaxInterval: 5 * time.Second}, defModel, ""},
		{"model retry configured", nil, &workflows.ModelRetry{For: 10 * time.Minute}, def, workflows.ModelRetry{For: 10 * time.Minute}, ""},
		{"no attempts", &workflows.ToolRetry{MaxInterval: time.Second}, nil, workflows.ToolRetry{}, defModel, "Deps.ToolRetry: tool attempts 0"},
		{"too many attempts", &workflows.ToolRetry{MaxAttempts: workflows.MaxToolAttempts + 1, MaxInterval: time.Second}, nil, workflows.ToolRetry{}, defModel, "tool attempts 21: want 1 to 20"},
		{"interval too short", &workflows.ToolRetry{MaxAttempts: 3, MaxInterval: time.Millisecond}, nil, workflows.ToolRetry{}, defModel, "tool retry interval 1ms"},
		{"interval too long", &workflows.ToolRetry{MaxAttempts: 3, MaxInterval: time.Hour}, nil, workflows.ToolRetry{}, defModel, "tool retry interval 1h0m0s"},
		{"no model retry window", nil, &workflows.ModelRetry{}, def, workflows.ModelRetry{}, "Deps.ModelRetry: model retry window 0s"},
		{"model retry window too short", nil, &workflows.ModelRetry{For: time.Second}, def, workflows.ModelRetry{}, "model retry window 1s: want 1m0s to 24h0m0s"},
		{"model retry window too long", nil, &workflows.ModelRetry{For: 48 * time.Hour}, def, workflows.ModelRetry{}, "model retry window 48h0m0s"},
		{"model attempt timeout configured", nil, &workflows.ModelRetry{For: time.Hour, AttemptTimeout: 10 * time.Minute}, def, workflows.ModelRetry{For: time.Hour, AttemptTimeout: 10 * time.Minute}, ""},
		{"model attempt timeout too long", nil, &workflows.ModelRetry{For: time.Hour, AttemptTimeout: time.Hour}, def, workflows.ModelRetry{}, "model attempt timeout 1h0m0s: want 30s to 30m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, _ := testRegistry(t)
			d, _ := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: nopPublisher{t}, ToolRetry: tt.retry, ModelRetry: tt.modelRetry})
			a, err := New(d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New = %v, want an error with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wp, err := a.WorkerPolicy(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if wp.ToolRetry == nil || *wp.ToolRetry != tt.want {
				t.Errorf("tool retry = %+v, want %+v", wp.ToolRetry, tt.want)
			}
			if wp.ModelRetry == nil || *wp.ModelRetry != tt.wantModel {
				t.Errorf("model retry = %+v, want %+v", wp.ModelRetry, tt.wantModel)
			}
		})
	}
}

func TestVerifyDecision(t *testing.T) {
	reg, _ := testRegistry(t)
	d, signer := withTrust(t, Deps{Model: noModel{}, Tools: reg, Publisher: nopPublisher{t}})
	a, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	counts := &counterCapture{n: map[string]int64{}}
	ts.SetMetricsHandler(counts)
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	// The test environment runs every activity for this workflow id.
	const run = "default-test-workflow-id"
	verify := func(dec workflows.Decision) workflows.DecisionVerdict {
		t.Helper()
		v, err := env.ExecuteLocalActivity(a.VerifyDecision, dec)
		if err != nil {
			t.Fatalf("VerifyDecision: %v", err)
		}
		var out workflows.DecisionVerdict
		if err := v.Get(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	dec := workflows.Decision{ToolCallID: "call_1", Decision: workflows.DecisionApproved, ApproverClientID: "pat",
		ApproverRole: "publisher", AblyMessageID: "m1", WorkflowID: run}
	signer.Sign(&dec)
	if v := verify(dec); !v.Valid {
		t.Fatalf("VerifyDecision(signed) = %+v", v)
	}
	forged := dec
	forged.ApproverRole = "admin"
	if v := verify(forged); v.Valid || v.Reason != "bad signature" {
		t.Fatalf("VerifyDecision(forged) = %+v; want a bad-signature verdict", v)
	}
	if v := verify(workflows.Decision{WorkflowID: run}); v.Valid || v.Reason != "unsigned" {
		t.Fatalf("VerifyDecision(unsigned) = %+v", v)
	}
	other := dec
	other.WorkflowID = "hitl-other"
	signer.Sign(&other)
	if v := verify(other); v.Valid || v.Reason != "signed for another run" {
		t.Fatalf("VerifyDecision(another run's) = %+v", v)
	}
	rotated := dec
	rotated.KeyID = "k-new" // a bridge switched to a key the workers do not hold yet
	if v := verify(rotated); v.Valid || !strings.HasPrefix(v.Reason, "unknown key") {
		t.Fatalf("VerifyDecision(unknown key) = %+v", v)
	}
	want := map[string]int64{"bad_signature": 1, "unsigned": 1, "other_run": 1, "unknown_key": 1}
	for reason, n := range want {
		if got := counts.get(MetricDecisionsUnverified, "reason", reason); got != n {
			t.Errorf("%s{reason=%q} = %d, want %d (all: %v)", MetricDecisionsUnverified, reason, got, n, counts.n)
		}
	}
}

// counterCapture is a metrics handler that keeps counters by name and tags.
type counterCapture struct {
	mu   sync.Mutex
	tags map[string]string
	n    map[string]int64 // "name tag=value ..." -> count
	root *counterCapture
}

func (c *counterCapture) base() *counterCapture {
	if c.root != nil {
		return c.root
	}
	return c
}

func (c *counterCapture) WithTags(tags map[string]string) client.MetricsHandler {
	merged := maps.Clone(c.tags)
	if merged == nil {
		merged = map[string]string{}
	}
	maps.Copy(merged, tags)
	return &counterCapture{tags: merged, root: c.base()}
}

func (c *counterCapture) key(name string) string {
	k := name
	for _, t := range slices.Sorted(maps.Keys(c.tags)) {
		k += " " + t + "=" + c.tags[t]
	}
	return k
}

func (c *counterCapture) Counter(name string) client.MetricsCounter {
	return counterFunc(func(d int64) {
		b := c.base()
		b.mu.Lock()
		defer b.mu.Unlock()
		b.n[c.key(name)] += d
	})
}
func (c *counterCapture) Gauge(string) client.MetricsGauge { return nopGauge{} }
func (c *counterCapture) Timer(string) client.MetricsTimer { return nopTimer{} }

// get sums the counts of name whose tag equals value.
func (c *counterCapture) get(name, tag, value string) int64 {
	b := c.base()
	b.mu.Lock()
	defer b.mu.Unlock()
	var sum int64
	for k, v := range b.n {
		if strings.HasPrefix(k, name+" ") && strings.Contains(k+" ", " "+tag+"="+value+" ") {
			sum += v
		}
	}
	return sum
}

type counterFunc func(int64)

func (f counterFunc) Inc(d int64) { f(d) }

type nopGauge struct{}

func (nopGauge) Update(float64) {}

type nopTimer struct{}

func (nopTimer) Record(time.Duration) {}
