package devstack

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/activities"
	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// demo runs the guide's scenario: the whole stack, one run of the prompt,
// and the approver CLI in this terminal as the demo publisher, so the
// human answers y/n; with cfg.Web (--web) the human decides in the web
// inbox instead, and demo waits for the run. It prints the answer, the
// audit trail, any post published, and the Web UI link.
func demo(ctx context.Context, cfg Config, stdin io.Reader, stdout, stderr io.Writer) error {
	st, err := Up(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stderr, "stack up: Temporal UI %s, logs in %s\n", cfg.UIURL(), cfg.LogDir())
	if cfg.Scripted() {
		fmt.Fprintln(stderr, "model: SCRIPTED offline model (OPENAI_API_KEY is unset); set OPENAI_API_KEY to use OpenAI")
	}

	before, err := ListPosts(cfg.BlogDir())
	if err != nil {
		return err
	}
	suffix, err := randomHex(rand.Reader, 16)
	if err != nil {
		return err
	}
	id := "hitl-demo-" + suffix
	run, err := st.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                                       id,
		TaskQueue:                                workflows.TaskQueue,
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		StaticSummary:                            cfg.Prompt,
		StaticDetails:                            "Started by `devstack demo`; approver: " + cfg.DemoUser + ".",
	}, workflows.WorkflowName, workflows.AgentInput{Prompt: cfg.Prompt, Requester: "devstack-demo"})
	if err != nil {
		return fmt.Errorf("start workflow: %w", err)
	}
	link := workflowLink(cfg.UIURL(), cfg.Namespace, id)
	fmt.Fprintf(stdout, "\nStarted workflow %s for: %s\n%s\n\n", id, cfg.Prompt, link)

	user, ok := st.secrets.User(cfg.DemoUser)
	if !ok {
		return fmt.Errorf("no demo user %q", cfg.DemoUser)
	}
	// The CLI approver, unless the decision comes from the web inbox.
	var approver *proc
	var approverExited <-chan struct{} // nil (never ready) with --web
	stopApprover := func() {
		if approver != nil {
			_ = approver.Stop(5 * time.Second)
		}
	}
	defer stopApprover()
	fmt.Fprintf(stdout, "Web inbox: %s  demo approvers: %s\n\n", cfg.InboxURL(), demoLogins(st.secrets))
	if policy, err := config.LoadPolicy(cfg.PolicyFile()); err == nil {
		if note := demoRoleNote(policy, user, cfg.Web); note != "" {
			fmt.Fprintln(stdout, note)
		}
	}
	if cfg.Web {
		fmt.Fprintf(stdout, "Decide in the web inbox: open %s and sign in as %s (%s) with password %s\nWaiting for the decision from the page; Ctrl-C stops (the run stays in Temporal).\n\n",
			cfg.InboxURL(), user.Name, user.Role, user.Password)
	} else {
		fmt.Fprintf(stdout, "Starting the approver as %s (%s). Answer the approval request below with y or n (after n, an optional reason).\n(The web inbox shows the request too; `devstack demo --web` waits for the page instead of this terminal.)\n\n", user.Name, user.Role)
		if approver, err = startApprover(st.bins[BinApprover], id, cfg.partEnv(approverEnv(cfg, user)), cfg.Root, stdin, stdout, stderr); err != nil {
			return err
		}
		approverExited = approver.Exited()
	}

	type outcome struct {
		res workflows.AgentResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		o.err = run.Get(ctx, &o.res)
		done <- o
	}()
	// Ctrl-C or SIGTERM cut the demo short: an error, so that its exit
	// status says so (130 or 143, config.ExitCode), as the starter's
	// interrupted wait does; the run goes on in Temporal.
	stopping := func() error {
		fmt.Fprintln(stdout)
		return fmt.Errorf("stopped waiting; the run %s stays in Temporal: %s", id, link)
	}
	finished := func(o outcome) error {
		stopApprover()
		if o.err != nil {
			if ctx.Err() != nil {
				return stopping()
			}
			return demoFailed(id, link, o.err)
		}
		after, err := ListPosts(cfg.BlogDir())
		if err != nil {
			return err
		}
		printDemoResult(stdout, o.res, newPosts(before, after), cfg.BlogDir(), link)
		return nil
	}
	select {
	case o := <-done:
		return finished(o)
	case <-approverExited:
		if ctx.Err() != nil {
			return stopping()
		}
		if approver.Err() == nil {
			// It exits cleanly when its input closes, which may be
			// right after the answer: the run may be about to finish.
			fmt.Fprintf(stdout, "\nThe approver exited; waiting up to %s for the run to finish.\n", demoAfterApprover)
			select {
			case o := <-done:
				return finished(o)
			case <-time.After(demoAfterApprover):
			case <-ctx.Done():
				return stopping()
			}
		}
		why := "its input closed"
		if err := approver.Err(); err != nil {
			why = err.Error()
		}
		return fmt.Errorf("the approver exited (%s) before the run finished; the run still waits: %s", why, link)
	case <-ctx.Done():
		return stopping()
	}
}

// demoAfterApprover bounds the wait for the run once the approver exited
// cleanly: time for the model's next turn after a decision.
const demoAfterApprover = 30 * time.Second

// demoRoleNote says, before the demo waits, when u's role cannot approve
// publish_blog_post (the tool the default prompt calls) under policy: the
// approver would show the request as not for u (the web inbox, with web,
// as read-only) and wait until it expires or someone else decides. ""
// when it can.
func demoRoleNote(policy workflows.Policy, u DemoUser, web bool) string {
	tp, ok := policy.Tools[activities.ToolPublishBlogPost]
	if !ok || !tp.NeedsApproval() || workflows.CanApprove(policy.Roles, u.Role, tp.MinRole) == nil {
		return ""
	}
	advice := "the request will wait until it expires or someone decides it in the web inbox; `devstack demo -as pat` (or ada) approves it here."
	if web {
		advice = "the inbox shows them the request read-only, and it waits until it expires; sign in as pat (or ada) instead, whose logins are above."
	}
	return fmt.Sprintf("Note: %s (%s) cannot approve %s under this policy (it needs %s): %s",
		u.Name, u.Role, activities.ToolPublishBlogPost, tp.MinRole, advice)
}

// demoLogins lists the demo approvers with their roles and passwords, for
// the web inbox.
func demoLogins(s Secrets) string {
	var parts []string
	for _, u := range s.Users {
		parts = append(parts, fmt.Sprintf("%s (%s) %s", u.Name, u.Role, u.Password))
	}
	return strings.Join(parts, ", ")
}

// startApprover runs the approver CLI in the foreground process group so
// it can read the terminal.
func startApprover(bin, workflowID string, env []string, dir string, stdin io.Reader, stdout, stderr io.Writer) (*proc, error) {
	// Its own run's requests only: an earlier demo's run, left pending in
	// the same work directory, would otherwise be asked about first.
	cmd := exec.Command(bin, "watch", "-workflow", workflowID)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	return launch("approver", cmd, nil)
}

// ListPosts lists the published posts (*.md) in dir, sorted; a missing
// dir has none.
func ListPosts(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list posts: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".md") {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// newPosts returns the names in after that are not in before.
func newPosts(before, after []string) []string {
	var out []string
	for _, n := range after {
		if !slices.Contains(before, n) {
			out = append(out, n)
		}
	}
	return out
}

// demoFailed says how the run id failed: its workflow's failure once (a
// model call that gave up says which turn, why and after how many
// attempts), not the chain of causes Temporal's error text appends, as
// the starter says it.
func demoFailed(id, link string, err error) error {
	var failure *temporal.ApplicationError
	if errors.As(err, &failure) {
		return fmt.Errorf("run %s failed: %s; see %s", id, failure.Message(), link)
	}
	return fmt.Errorf("run %s failed: %w; see %s", id, err, link)
}

// noAnswer stands for an answer with no text, as the starter shows it.
const noAnswer = "(none: the model's last turn wrote no text)"

func printDemoResult(w io.Writer, res workflows.AgentResult, posts []string, blogDir, link string) {
	answer := termtext.Block(res.Answer)
	if strings.TrimSpace(res.Answer) == "" {
		answer = noAnswer
	}
	fmt.Fprintf(w, "\n=== Run finished ===\nAnswer: %s\n\n", answer)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tTOOL\tBY\tROLE\tREASON")
	for _, e := range res.Audit {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.TimeOnly), termtext.Cell(e.Kind), termtext.Cell(e.Tool), termtext.Cell(e.Actor), termtext.Cell(e.Role), termtext.Cell(e.Reason))
	}
	tw.Flush()
	if len(posts) == 0 {
		fmt.Fprintln(w, "\nNothing was published.")
	} else {
		for _, p := range posts {
			fmt.Fprintf(w, "\nPublished: %s\n", filepath.Join(blogDir, p))
		}
	}
	fmt.Fprintf(w, "Workflow: %s\n", link)
}

// workflowLink is the Web UI page of a workflow.
func workflowLink(uiURL, namespace, id string) string {
	return strings.TrimRight(uiURL, "/") + "/namespaces/" + namespace + "/workflows/" + id
}
