package prod

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/converter"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/testutil"
	"github.com/hitl/durable-approvals/workflows"
)

// webhook is the CMS that publish_blog_post posts to: it counts every post
// it receives per idempotency key (workflow id and tool-call id), so a tool
// that ran twice shows as two posts, whatever the ledger says.
type webhook struct {
	srv   *httptest.Server
	mu    sync.Mutex
	posts map[string]int // idempotency key -> posts received
	title map[string]string
}

func newWebhook(t *testing.T) *webhook {
	t.Helper()
	w := &webhook{posts: map[string]int{}, title: map[string]string{}}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || r.Method != http.MethodPost {
			http.Error(rw, "bad request", http.StatusBadRequest)
			return
		}
		var post struct {
			Title string `json:"title"`
		}
		_ = json.Unmarshal(body, &post)
		key := r.Header.Get(activities.HeaderIdempotencyKey)
		w.mu.Lock()
		w.posts[key]++
		w.title[key] = post.Title
		w.mu.Unlock()
		rw.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(rw, `{"url":"https://cms.example/posts/%d"}`, len(body))
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) URL() string { return w.srv.URL + "/posts" }

// postsOf is how many posts the tool call published.
func (w *webhook) postsOf(wfID, toolCallID string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.posts[activities.IdempotencyKey(wfID, toolCallID)]
}

// approvals queries a run's pending approvals and audit trail.
func (h *harness) approvals(wfID string) (workflows.ApprovalsView, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var v workflows.ApprovalsView
	resp, err := h.st.Temporal.QueryWorkflow(ctx, wfID, "", workflows.ApprovalsQuery)
	if err != nil {
		return v, err
	}
	return v, resp.Get(&v)
}

// waitPending waits until the run has one pending approval whose request
// is on Ably (audited as requested), and returns it.
func (h *harness) waitPending(wfID string) workflows.PendingApproval {
	h.t.Helper()
	var got workflows.PendingApproval
	testutil.WaitFor(h.t, stepTimeout, "a published pending approval on "+wfID, func() (bool, error) {
		v, err := h.approvals(wfID)
		if err != nil || len(v.Pending) != 1 {
			return false, err
		}
		if countAudit(v.Audit, workflows.AuditRequested, v.Pending[0].ToolCallID) == 0 {
			return false, nil
		}
		got = v.Pending[0]
		return true, nil
	})
	return got
}

// result waits for the run's result.
func (h *harness) result(wfID string) workflows.AgentResult {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	var res workflows.AgentResult
	if err := h.st.Temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &res); err != nil {
		h.t.Fatalf("run %s: %v", wfID, err)
	}
	return res
}

func countAudit(audit []workflows.AuditEntry, kind, toolCallID string) int {
	n := 0
	for _, e := range audit {
		if e.Kind == kind && e.ToolCallID == toolCallID {
			n++
		}
	}
	return n
}

// call is one approved tool call of a scenario.
type call struct {
	wfID, toolCallID, title string
}

// pendingRuns starts one run per title and waits until each waits for a
// publisher.
func (h *harness) pendingRuns(titles ...string) []call {
	h.t.Helper()
	calls := make([]call, len(titles))
	for i, title := range titles {
		calls[i] = call{wfID: h.startRun("Publish the blog post called '" + title + "'"), title: title}
	}
	for i := range calls {
		p := h.waitPending(calls[i].wfID)
		if p.Tool != "publish_blog_post" || p.RequiredRole != "publisher" {
			h.t.Fatalf("pending = %+v, want publish_blog_post needing publisher", p)
		}
		calls[i].toolCallID = p.ToolCallID
	}
	return calls
}

// checkOnce waits for the run to finish and checks that its tool call was
// decided once and ran once:
//   - the CMS webhook received exactly one post for it (the side effect),
//     and the idempotency ledger holds one entry;
//   - the workflow scheduled ExecuteTool once and PublishApprovalResolved
//     once for it (its history), and its audit has one approved and one
//     executed entry (however many copies of the decision arrived);
//   - Ably carries one approval-resolved for it.
func (h *harness) checkOnce(c call) {
	h.t.Helper()
	res := h.result(c.wfID)
	if n := countAudit(res.Audit, workflows.AuditApproved, c.toolCallID); n != 1 {
		h.t.Errorf("%s: approved audit entries = %d, want 1\n%s", c.title, n, dump(res.Audit))
	}
	if n := countAudit(res.Audit, workflows.AuditExecuted, c.toolCallID); n != 1 {
		h.t.Errorf("%s: executed audit entries = %d, want 1\n%s", c.title, n, dump(res.Audit))
	}
	if n := h.webhook.postsOf(c.wfID, c.toolCallID); n != 1 {
		h.t.Errorf("%s: the CMS received %d posts, want 1", c.title, n)
	}
	if n := h.ledgerEntries(activities.IdempotencyKey(c.wfID, c.toolCallID)); n != 1 {
		h.t.Errorf("%s: %d idempotency-ledger entries, want 1", c.title, n)
	}
	scheduled := h.scheduledActivities(c.wfID, c.toolCallID)
	if n := scheduled[workflows.ActivityExecuteTool]; n != 1 {
		h.t.Errorf("%s: ExecuteTool scheduled %d times, want 1", c.title, n)
	}
	if n := scheduled[workflows.ActivityPublishApprovalResolved]; n != 1 {
		h.t.Errorf("%s: PublishApprovalResolved scheduled %d times, want 1", c.title, n)
	}
	if n := h.resolvedOnAbly(c.toolCallID); n != 1 {
		h.t.Errorf("%s: %d approval-resolved messages on Ably, want 1", c.title, n)
	}
}

// ledgerEntries counts the idempotency-ledger files of key (the blog's
// ledger is BLOG_DIR/.ledger, one directory for every worker).
func (h *harness) ledgerEntries(key string) int {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(h.st.BlogDir(), ".ledger", "*.json"))
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			h.t.Fatal(err)
		}
		var e struct{ Key string }
		if json.Unmarshal(b, &e) == nil && e.Key == key {
			n++
		}
	}
	return n
}

// scheduledActivities counts, from the run's history, the activities run
// for toolCallID, by activity type: activities scheduled (their input names
// the call) and local activities recorded (their marker's summary names it;
// the workflow's fast path runs Ably publishes and local tools so).
func (h *harness) scheduledActivities(wfID, toolCallID string) map[string]int {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	it := h.st.Temporal.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	dc := converter.GetDefaultDataConverter()
	out := map[string]int{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			h.t.Fatalf("history of %s: %v", wfID, err)
		}
		if m := ev.GetMarkerRecordedEventAttributes(); m != nil && m.GetMarkerName() == "LocalActivity" {
			var data struct{ ActivityType string }
			var summary string
			if err := dc.FromPayloads(m.GetDetails()["data"], &data); err != nil {
				h.t.Fatalf("local activity marker of %s: %v", wfID, err)
			}
			if p := ev.GetUserMetadata().GetSummary(); p != nil {
				_ = dc.FromPayload(p, &summary)
			}
			if strings.Contains(summary, "("+toolCallID+")") {
				out[data.ActivityType]++
			}
			continue
		}
		a := ev.GetActivityTaskScheduledEventAttributes()
		if a == nil {
			continue
		}
		var in struct {
			CallID string `json:"callId"`
			Data   struct {
				ToolCallID string `json:"toolCallId"`
			} `json:"data"`
		}
		if err := dc.FromPayloads(a.GetInput(), &in); err != nil {
			continue
		}
		if in.CallID == toolCallID || in.Data.ToolCallID == toolCallID {
			out[a.GetActivityType().GetName()]++
		}
	}
	return out
}

// resolvedOnAbly counts the approval-resolved messages about toolCallID in
// the channel's history.
func (h *harness) resolvedOnAbly(toolCallID string) int {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := ablyconn.Config{APIKey: h.st.AblyKey(), Endpoint: h.st.AblyEndpoint(), TLS: false}
	// Over plain HTTP Ably refuses Basic auth: sign a JWT with the key, as
	// the trusted programs do, allowed only to read the history.
	opts, err := cfg.TrustedOptions("prod-e2e-reader", `{"`+workflows.DefaultChannel+`":["history"]}`)
	if err != nil {
		h.t.Fatal(err)
	}
	rest, err := ably.NewREST(append(opts, ably.WithLogLevel(ably.LogNone))...)
	if err != nil {
		h.t.Fatal(err)
	}
	pages, err := rest.Channels.Get(workflows.DefaultChannel).History(ably.HistoryWithLimit(1000)).Pages(ctx)
	if err != nil {
		h.t.Fatalf("channel history: %v", err)
	}
	n := 0
	for pages.Next(ctx) {
		for _, m := range pages.Items() {
			if m.Name != workflows.MsgApprovalResolved {
				continue
			}
			if headers, ok := m.Extras["headers"].(map[string]any); ok && headers["toolCallId"] == toolCallID {
				n++
			}
		}
	}
	if err := pages.Err(); err != nil {
		h.t.Fatalf("channel history: %v", err)
	}
	return n
}

func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return strings.TrimSpace(string(b))
}
