package main

import (
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"go.temporal.io/sdk/client"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// workflowIDRandomBytes is the randomness of a workflow id: 128 bits, so
// ids never collide in practice.
const workflowIDRandomBytes = 16

// newWorkflowID returns "hitl-" and 32 random hex digits (128 bits).
func newWorkflowID(random io.Reader) (string, error) {
	var b [workflowIDRandomBytes]byte
	if _, err := io.ReadFull(random, b[:]); err != nil {
		return "", fmt.Errorf("workflow id: %w", err)
	}
	return "hitl-" + hex.EncodeToString(b[:]), nil
}

// workflowLink is the Web UI page of a workflow:
// <ui>/namespaces/<ns>/workflows/<id>, without the user name and password
// the UI's URL may hold (the link is printed, and logs keep it; the
// browser asks for them), and with its query, if any, after the path.
func workflowLink(uiURL, namespace, workflowID string) string {
	page := "/namespaces/" + url.PathEscape(namespace) + "/workflows/" + url.PathEscape(workflowID)
	u, err := url.Parse(uiURL)
	if err != nil {
		return strings.TrimRight(config.RedactURL(uiURL), "/") + page
	}
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	return strings.TrimRight(u.Scheme+"://"+u.Host+u.EscapedPath(), "/") + page + queryOf(u)
}

// queryOf is u's query with its "?", or "".
func queryOf(u *url.URL) string {
	if u.RawQuery == "" {
		return ""
	}
	return "?" + u.RawQuery
}

// maxSummaryRunes bounds the UI's one-line summary.
const maxSummaryRunes = 120

// truncate shortens s to at most n runes, marking the cut with "…", and
// puts it on one line.
func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// startOptions are the options of one run: its id, the task queue and the
// summary and details the Web UI shows. An id already in use by a running
// workflow is an error, never a silent attach to that other run.
func startOptions(id, prompt, requester string) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                workflows.TaskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            truncate(prompt, maxSummaryRunes),
		StaticDetails:                            staticDetails(prompt, requester),
	}
}

// staticDetails renders the run's requester and prompt as Markdown for the
// Web UI. The policy is the worker's: the run's current details show it.
func staticDetails(prompt, requester string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**Requester:** %s\n\n", mdEscape(requester))
	fmt.Fprintf(&b, "**Prompt:** %s\n\n", mdEscape(truncate(prompt, 1000)))
	return b.String()
}

// mdEscape keeps user text from breaking the Markdown table or formatting.
func mdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "`", "'", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

// noAnswer stands for an answer with no text: the model may end its last
// turn with none (a blank line there looked like a cut output).
const noAnswer = "(none: the model's last turn wrote no text)"

// printResult writes the final answer and the audit trail as a table.
func printResult(w io.Writer, res workflows.AgentResult) error {
	answer := termtext.Block(res.Answer)
	if strings.TrimSpace(res.Answer) == "" {
		answer = noAnswer
	}
	fmt.Fprintf(w, "\nAnswer (%d model turns):\n%s\n\n", res.Turns, answer)
	return printAudit(w, res.Audit)
}

// printAudit writes the audit trail as an aligned table, one entry a line.
func printAudit(w io.Writer, audit []workflows.AuditEntry) error {
	if len(audit) == 0 {
		_, err := fmt.Fprintln(w, "Audit trail: (empty)")
		return err
	}
	fmt.Fprintln(w, "Audit trail:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tTOOL\tCALL\tBY\tROLE\tREASON")
	for _, e := range audit {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.Time.UTC().Format(time.TimeOnly), termtext.Cell(e.Kind), termtext.Cell(e.Tool), termtext.Cell(e.ToolCallID),
			termtext.Cell(e.Actor), termtext.Cell(e.Role), termtext.Cell(truncate(e.Reason, 80)))
	}
	return tw.Flush()
}
