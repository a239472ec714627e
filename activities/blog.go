package activities

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/atomicfile"
	"github.com/hitl/durable-approvals/internal/ledger"
	"github.com/hitl/durable-approvals/workflows"
)

// The blog tools' names, as the policy file's rules name them.
const (
	ToolPublishBlogPost = "publish_blog_post"
	ToolSearchPosts     = "search_posts"
	ToolDeletePost      = "delete_post"
)

// Limits on tool arguments.
const (
	maxTitleLen     = 200
	maxBodyLen      = 64 << 10
	maxQueryLen     = 200
	maxSearchHits   = 50
	maxSlugLen      = 80
	maxWebhookReply = 4 << 10
	ledgerDirName   = ".ledger"
	deletedDirName  = ".deleted"
	defaultHTTPWait = 30 * time.Second
)

// BlogConfig configures the blog tools.
type BlogConfig struct {
	// Dir holds the published posts as <slug>.md (BLOG_DIR). Required: it
	// also holds the idempotency ledger and is what search_posts and
	// delete_post work on.
	Dir string
	// WebhookURL, when set, makes publish_blog_post POST the post to this
	// CMS webhook (BLOG_WEBHOOK_URL) instead of writing a file.
	WebhookURL string
	// HTTPClient is used for the webhook (a copy of it that follows no
	// redirect); nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Now returns the publication time; nil means time.Now.
	Now func() time.Time
}

// Validate checks the configuration without touching the file system.
func (c BlogConfig) Validate() error {
	if c.Dir == "" {
		return errors.New("blog: BLOG_DIR is required")
	}
	if c.WebhookURL != "" {
		u, err := url.Parse(c.WebhookURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("blog: BLOG_WEBHOOK_URL=%q: want an absolute http(s) URL", shownURL(c.WebhookURL))
		}
	}
	return nil
}

// Blog implements the blog tools on a directory of Markdown posts.
type Blog struct {
	dir     string
	webhook string
	client  *http.Client
	now     func() time.Time
	ledger  *ledger.Ledger // makes each call's side effect happen once
}

// NewBlog validates cfg and creates the post directory if needed.
func NewBlog(cfg BlogConfig) (*Blog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Blog{dir: cfg.Dir, webhook: cfg.WebhookURL, client: &http.Client{Timeout: defaultHTTPWait}, now: cfg.Now}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		b.client = &c
	}
	// A redirect is not followed: Go would follow a 302 or 303 with a GET
	// without the post (to a login page, say) and take its 200 for a
	// publication. The webhook must answer the POST itself.
	b.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if b.now == nil {
		b.now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, deletedDirName), 0o755); err != nil {
		return nil, fmt.Errorf("blog: %w", err)
	}
	l, err := ledger.Open(filepath.Join(cfg.Dir, ledgerDirName), b.now)
	if err != nil {
		return nil, fmt.Errorf("blog: %w", err)
	}
	b.ledger = l
	return b, nil
}

// Tools returns publish_blog_post, search_posts and delete_post.
func (b *Blog) Tools() []Tool {
	return []Tool{
		{
			Name:        ToolPublishBlogPost,
			Description: "Publish a blog post to the website. Requires human approval.",
			Parameters: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"title": map[string]any{"type": "string", "description": "Title of the blog post to publish"},
					"body":  map[string]any{"type": "string", "description": "Markdown body of the post (optional)"},
				},
				"required":             []any{"title"},
				"additionalProperties": false,
			},
			Run:   b.publish,
			Local: true,
		},
		{
			Name:        ToolSearchPosts,
			Description: "Search the published blog posts by words in their title or body. Read-only.",
			Parameters: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"query": map[string]any{"type": "string", "description": "Words to look for; empty lists every post"},
				},
				"required":             []any{"query"},
				"additionalProperties": false,
			},
			Run:   b.search,
			Local: true,
		},
		{
			Name:        ToolDeletePost,
			Description: "Delete a published blog post by its slug. Requires approval by an admin.",
			Parameters: map[string]any{
				"type": "object",
				"properties": map[string]any{
					"slug": map[string]any{"type": "string", "description": "Slug of the post, e.g. introducing-our-new-api"},
				},
				"required":             []any{"slug"},
				"additionalProperties": false,
			},
			Run:   b.delete,
			Local: true,
		},
	}
}

// PublishResult is the output of publish_blog_post, as JSON.
type PublishResult struct {
	Published bool   `json:"published"`
	Title     string `json:"title"`
	Slug      string `json:"slug"`
	Location  string `json:"location"` // file name, or the webhook's "url" if it returned one
	// Removed says that the post this call published is no longer there
	// (delete_post removed it since), when the call is asked again;
	// Published is then false.
	Removed string `json:"removed,omitempty"`
}

type publishArgs struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

func (b *Blog) publish(ctx context.Context, call ToolCall) (string, error) {
	var args publishArgs
	if err := DecodeArgs(call, &args); err != nil {
		return "", err
	}
	args.Title = strings.TrimSpace(args.Title)
	switch {
	case args.Title == "":
		return "", toolInputError(call.Name, errors.New("title is required"))
	case utf8.RuneCountInString(args.Title) > maxTitleLen:
		return "", toolInputError(call.Name, fmt.Errorf("title longer than %d characters", maxTitleLen))
	case strings.ContainsAny(args.Title, "\r\n"):
		return "", toolInputError(call.Name, errors.New("title must be one line"))
	case len(args.Body) > maxBodyLen:
		return "", toolInputError(call.Name, fmt.Errorf("body longer than %d bytes", maxBodyLen))
	}
	if b.webhook != "" {
		// The ledger keeps a retry after a 2xx whose activity never
		// completed (worker crash, timeout) from POSTing again; the
		// Idempotency-Key header covers a crash between POST and ledger.
		return b.once(ctx, call, func() (string, error) { return b.publishWebhook(ctx, call, args) })
	}
	ran := false
	out, err := b.once(ctx, call, func() (string, error) { ran = true; return b.publishFile(call, args) })
	if err != nil || ran {
		return out, err
	}
	return b.stillThere(call, out)
}

// stillThere adds to a file publication's result from the ledger that its
// post is gone, when the post file it names no longer holds this call's
// post: a call asked again (after a reset of its run) would otherwise be
// told of a post delete_post removed since.
func (b *Blog) stillThere(call ToolCall, out string) (string, error) {
	var res PublishResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Location == "" || filepath.Base(res.Location) != res.Location {
		return out, nil // not a result of publishFile's: as recorded
	}
	owner, err := b.postOwner(res.Location)
	if err != nil {
		return "", fmt.Errorf("publish_blog_post: %w", err)
	}
	if owner == call.IdempotencyKey() {
		return out, nil
	}
	// published says whether the post is published now, as in every
	// other result: not beside removed.
	res.Published = false
	res.Removed = "this call published the post earlier, and it has been removed since (delete_post): it is not published now"
	return marshalResult(res)
}

// publishFile publishes the post as <slug>.md or, when that name holds a
// post of another call, as <slug>-<key hash>.md. It never replaces a file:
// each name is claimed with atomicfile.WriteNew, which fails if the name
// exists, also when several workers share BLOG_DIR, so a post of another
// call that has the same slug is never overwritten, and a crash leaves a
// whole post or none. A name that holds this call's own post (a rerun after
// a crash before the ledger write, or the same call on two workers at once)
// is this call's publication: the same result, not a second write. If both
// names hold posts of other calls, the call fails and nothing is written.
func (b *Blog) publishFile(call ToolCall, args publishArgs) (string, error) {
	base := Slugify(args.Title)
	key := call.IdempotencyKey()
	names := []string{base, base + "-" + keyHash(key)[:8]}
	result := func(slug string) (string, error) {
		return marshalResult(PublishResult{Published: true, Title: args.Title, Slug: slug, Location: slug + ".md"})
	}
	// A rerun whose first run took the second name finds its post there,
	// also when the first name's post was deleted meanwhile. Only this
	// call creates its second name, so nobody races this read.
	if owner, err := b.postOwner(names[1] + ".md"); err != nil {
		return "", fmt.Errorf("publish_blog_post: %w", err)
	} else if owner == key {
		return result(names[1])
	}
	for _, slug := range names {
		name := slug + ".md"
		ours, err := b.claimPost(name, b.postContent(call, args, slug), key)
		if err != nil {
			return "", err
		}
		if ours {
			return result(slug)
		}
	}
	return "", toolInputError(call.Name, fmt.Errorf("%s.md and %s.md are posts of other calls; nothing was published", names[0], names[1]))
}

// claimAttempts bounds how often claimPost tries a name that is deleted
// (delete_post) between a failed claim and the read of its owner.
const claimAttempts = 3

// claimPost creates the post file name with data unless it exists. It
// reports whether name then holds the post of the call with idempotency key
// key: created now, or earlier by the same call.
func (b *Blog) claimPost(name string, data []byte, key string) (bool, error) {
	path := filepath.Join(b.dir, name)
	for range claimAttempts {
		err := atomicfile.WriteNew(path, data, 0o644)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("publish_blog_post: %w", err)
		}
		owner, err := b.postOwner(name)
		if err != nil {
			return false, fmt.Errorf("publish_blog_post: %w", err)
		}
		if owner != "" {
			return owner == key, nil
		}
	}
	return false, fmt.Errorf("publish_blog_post: %s was deleted %d times while it was claimed (will retry)", name, claimAttempts)
}

// postContent is a post file: front matter, then the body.
func (b *Blog) postContent(call ToolCall, args publishArgs, slug string) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "---\ntitle: %s\nslug: %s\nworkflow_id: %s\ntool_call_id: %s\napproved_by: %s\npublished_at: %s\n---\n\n",
		quote(args.Title), slug, quote(call.WorkflowID), quote(call.CallID), quote(call.ApprovedBy),
		b.now().UTC().Format(time.RFC3339))
	buf.WriteString(args.Body)
	if args.Body != "" && !strings.HasSuffix(args.Body, "\n") {
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

// postOwner returns the idempotency key recorded in a post's front matter,
// "" if there is no such post.
func (b *Blog) postOwner(name string) (string, error) {
	fm, _, err := readPost(filepath.Join(b.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return IdempotencyKey(fm["workflow_id"], fm["tool_call_id"]), nil
}

// webhookPayload is the JSON body POSTed to the CMS webhook.
type webhookPayload struct {
	Title      string `json:"title"`
	Body       string `json:"body,omitempty"`
	Slug       string `json:"slug"`
	WorkflowID string `json:"workflowId"`
	ToolCallID string `json:"toolCallId"`
	ApprovedBy string `json:"approvedBy,omitempty"`
}

// HeaderIdempotencyKey carries the call's IdempotencyKey on webhook
// requests, so the CMS publishes a retried request once.
const HeaderIdempotencyKey = "Idempotency-Key"

func (b *Blog) publishWebhook(ctx context.Context, call ToolCall, args publishArgs) (string, error) {
	slug := Slugify(args.Title)
	body, err := json.Marshal(webhookPayload{
		Title: args.Title, Body: args.Body, Slug: slug,
		WorkflowID: call.WorkflowID, ToolCallID: call.CallID, ApprovedBy: call.ApprovedBy,
	})
	if err != nil {
		return "", fmt.Errorf("webhook: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.webhook, bytes.NewReader(body))
	if err != nil {
		return "", temporal.NewNonRetryableApplicationError("webhook: bad request: "+err.Error(), workflows.ErrTypeWebhook, nil)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, call.IdempotencyKey())
	// Temporal gives the workflow the last attempt's failure only: a
	// retried call says that an earlier attempt may have published.
	earlier := earlierAttempts(ctx)
	resp, err := b.client.Do(req)
	if err != nil {
		// The error names the URL, which may carry the webhook's credential:
		// it goes to the model and the run's history, so it names only the
		// URL's scheme and host (shownURL).
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			ue.URL = shownURL(ue.URL)
		}
		// Network errors are retryable. After a timeout, or a connection
		// lost once the request may have gone out, the CMS may still
		// publish: the model hears so if this was the last attempt.
		if mayHaveGoneOut(err) {
			return "", fmt.Errorf("webhook: %w (the CMS may still publish the post: every attempt sends the same %s)%s", err, HeaderIdempotencyKey, earlier)
		}
		return "", fmt.Errorf("webhook: %w%s", err, earlier)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(io.LimitReader(resp.Body, maxWebhookReply))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
	case resp.StatusCode == http.StatusConflict:
		// A request with this Idempotency-Key is still being processed
		// (the IETF draft's meaning): an earlier attempt, or the same call
		// on another worker. Retryable; if it was the last attempt, the
		// model hears that the post may still appear.
		return "", fmt.Errorf("webhook: %s: the CMS is still processing a request with this call's %s, so the post may still be published", resp.Status, HeaderIdempotencyKey)
	case resp.StatusCode >= 500:
		// A gateway's 502 or 504 may come after the CMS behind it took
		// the post. A 503's Retry-After sets the next attempt's wait.
		msg := fmt.Sprintf("webhook: %s (retryable; the CMS may have published the post all the same: every attempt sends the same %s)%s", resp.Status, HeaderIdempotencyKey, earlier)
		if resp.StatusCode == http.StatusServiceUnavailable {
			return "", retryableAfter(ctx, msg, retryAfter(resp.Header, b.now(), maxRetryAfter))
		}
		return "", errors.New(msg)
	case resp.StatusCode == http.StatusTooManyRequests:
		return "", retryableAfter(ctx, fmt.Sprintf("webhook: %s (retryable)%s", resp.Status, earlier), retryAfter(resp.Header, b.now(), maxRetryAfter))
	case resp.StatusCode == http.StatusRequestTimeout:
		return "", fmt.Errorf("webhook: %s (retryable)%s", resp.Status, earlier)
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("webhook: %s: the webhook redirects (to %s) instead of publishing; set BLOG_WEBHOOK_URL to the address that answers the POST%s", resp.Status, shownURL(resp.Header.Get("Location")), earlier), workflows.ErrTypeWebhook, nil)
	default:
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("webhook: %s: %s%s", resp.Status, firstLine(string(reply)), earlier), workflows.ErrTypeWebhook, nil)
	}
	res := PublishResult{Published: true, Title: args.Title, Slug: slug, Location: shownURL(b.webhook)}
	var ack struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(reply, &ack) == nil && ack.URL != "" {
		res.Location = ack.URL
	}
	return marshalResult(res)
}

// ShownURL is shownURL, for the worker's log and errors about
// BLOG_WEBHOOK_URL and OPENAI_BASE_URL (whose credential may be anywhere in
// it too: a gateway's token in its user information or path).
func ShownURL(s string) string { return shownURL(s) }

// shownURL is the webhook's URL (or a redirect's target) as the model, the
// run's history and errors may show it: its scheme and host, and "/…" for
// whatever follows, since a webhook's credential may be anywhere in it (user
// information, the query, or the path itself, as in Slack-style hooks).
func shownURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case s == "":
		return ""
	case err != nil:
		return "(not shown)"
	case u.Host == "":
		return "(a path on the same host)"
	}
	shown := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		shown += "/…"
	}
	return shown
}

// SearchResult is the output of search_posts, as JSON.
type SearchResult struct {
	Query     string      `json:"query"`
	Matches   []PostMatch `json:"matches"`
	Truncated bool        `json:"truncated,omitempty"`
}

// PostMatch is one post found by search_posts.
type PostMatch struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
}

// notAtWebhook is the error of a tool that works on the post files when
// posts go to the CMS webhook instead: there are no files to act on, and
// an empty search or an "already absent" would mislead the model.
func (b *Blog) notAtWebhook(call ToolCall, what string) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(
		"%s: posts are published to the CMS webhook (BLOG_WEBHOOK_URL), and this tool works only on post files in BLOG_DIR: %s the post in the CMS",
		call.Name, what), workflows.ErrTypeWebhook, nil)
}

func (b *Blog) search(ctx context.Context, call ToolCall) (string, error) {
	if b.webhook != "" {
		return "", b.notAtWebhook(call, "search for")
	}
	var args struct {
		Query *string `json:"query"`
	}
	if err := DecodeArgs(call, &args); err != nil {
		return "", err
	}
	if args.Query == nil {
		return "", toolInputError(call.Name, errors.New("query is required"))
	}
	q := strings.TrimSpace(*args.Query)
	if utf8.RuneCountInString(q) > maxQueryLen {
		return "", toolInputError(call.Name, fmt.Errorf("query longer than %d characters", maxQueryLen))
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return "", fmt.Errorf("search_posts: %w", err)
	}
	words := strings.Fields(strings.ToLower(q))
	res := SearchResult{Query: q, Matches: []PostMatch{}}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		name := e.Name()
		if !e.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".md") {
			continue
		}
		fm, body, err := readPost(filepath.Join(b.dir, name))
		if err != nil {
			continue // a post that vanished or is unreadable is not a match
		}
		text := strings.ToLower(fm["title"] + "\n" + body)
		if !containsAll(text, words) {
			continue
		}
		if len(res.Matches) == maxSearchHits {
			res.Truncated = true
			break
		}
		res.Matches = append(res.Matches, PostMatch{Slug: strings.TrimSuffix(name, ".md"), Title: fm["title"]})
	}
	return marshalResult(res)
}

func containsAll(text string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(text, w) {
			return false
		}
	}
	return true
}

// DeleteResult is the output of delete_post, as JSON.
type DeleteResult struct {
	Deleted bool   `json:"deleted"`
	Slug    string `json:"slug"`
	// AlreadyAbsent is true when no such post existed.
	AlreadyAbsent bool `json:"alreadyAbsent,omitempty"`
}

var slugRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func (b *Blog) delete(ctx context.Context, call ToolCall) (string, error) {
	if b.webhook != "" {
		return "", b.notAtWebhook(call, "delete")
	}
	var args struct {
		Slug string `json:"slug"`
	}
	if err := DecodeArgs(call, &args); err != nil {
		return "", err
	}
	slug := strings.TrimSuffix(strings.TrimSpace(args.Slug), ".md")
	if len(slug) > maxSlugLen+9 || !slugRE.MatchString(slug) {
		return "", toolInputError(call.Name, fmt.Errorf("slug %q: want lowercase letters, digits and single dashes", args.Slug))
	}
	// The post is moved to this call's tombstone, never removed, and the
	// tombstone's name is not freed while the run is known to Temporal (the
	// worker's pruner removes it with the ledger entry only after that): it
	// holds the moved post until the ledger has the result, and the result
	// after that. So an attempt of
	// this call that runs late (a crash before the ledger write, a retry
	// while a stalled attempt goes on, the call on another worker) finds
	// the call done and never deletes a post published under the slug
	// since.
	tomb := filepath.Join(b.dir, deletedDirName, keyHash(call.IdempotencyKey())+".md")
	out, err := b.once(ctx, call, func() (string, error) { return deletePostFile(filepath.Join(b.dir, slug+".md"), tomb, slug) })
	if err != nil {
		return "", err
	}
	// The ledger holds the result now (or could not take it, and a rerun
	// reads the result from the tombstone): the deleted post's content
	// goes, the name stays.
	if err := atomicfile.WriteFile(tomb, []byte(out), 0o644); err != nil {
		// The call is done all the same, and a rerun finds it so (the moved
		// post in the tombstone reads as deleted): a failure now (a full
		// disk) would tell the model and the audit that the post is still
		// there. Only its content stays in the tombstone.
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Error("delete_post: done, but its tombstone could not be rewritten: it keeps the deleted post",
				"workflowId", call.WorkflowID, "callId", call.CallID, "error", err)
		}
	}
	return out, nil
}

// deletePostFile moves the post at path to tomb, this call's tombstone,
// unless the tombstone shows that this call acted already. With no post at
// path it claims the tombstone with the "already absent" result.
func deletePostFile(path, tomb, slug string) (string, error) {
	if out, ok, err := tombResult(tomb, slug); err != nil || ok {
		return out, err
	}
	// NewBlog made the directory; a missing one must not read as a
	// missing post.
	if err := os.MkdirAll(filepath.Dir(tomb), 0o755); err != nil {
		return "", fmt.Errorf("delete_post: %w", err)
	}
	deleted, absent, err := deleteResults(slug)
	if err != nil {
		return "", err
	}
	err = atomicfile.MoveNew(path, tomb)
	switch {
	case err == nil:
		return deleted, nil
	case errors.Is(err, fs.ErrExist): // this call, elsewhere, got there first
		return tombResultOrError(tomb, slug)
	case errors.Is(err, errors.ErrUnsupported):
		return "", temporal.NewNonRetryableApplicationError(
			"delete_post: BLOG_DIR's file system cannot rename without replacing, which delete_post needs to be sure it deletes only the approved post (use a local file system on Linux or macOS): "+err.Error(),
			workflows.ErrTypeUnsupported, nil)
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("delete_post: %w", err)
	}
	if _, derr := os.Stat(filepath.Dir(tomb)); derr != nil {
		// What was missing may be the tombstone's directory, not the post.
		return "", fmt.Errorf("delete_post: %w", err)
	}
	switch err := atomicfile.WriteNew(tomb, []byte(absent), 0o644); {
	case errors.Is(err, fs.ErrExist):
		return tombResultOrError(tomb, slug)
	case err != nil:
		return "", fmt.Errorf("delete_post: %w", err)
	}
	return absent, nil
}

// tombResult reads the tombstone of a delete_post call: ok is false if
// there is none. It holds the call's result, byte for byte one of the two
// a delete of slug gives, or else the post the call moved there (deleted).
func tombResult(tomb, slug string) (out string, ok bool, err error) {
	data, err := os.ReadFile(tomb)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("delete_post: %w", err)
	}
	deleted, absent, err := deleteResults(slug)
	if err != nil {
		return "", false, err
	}
	if string(data) == absent {
		return absent, true, nil
	}
	return deleted, true, nil
}

// deleteResults are the two results of a delete of slug.
func deleteResults(slug string) (deleted, absent string, err error) {
	if deleted, err = marshalResult(DeleteResult{Deleted: true, Slug: slug}); err != nil {
		return "", "", err
	}
	absent, err = marshalResult(DeleteResult{Deleted: false, Slug: slug, AlreadyAbsent: true})
	return deleted, absent, err
}

// tombResultOrError is tombResult for a tombstone that must exist.
func tombResultOrError(tomb, slug string) (string, error) {
	out, ok, err := tombResult(tomb, slug)
	if err == nil && !ok {
		err = fmt.Errorf("delete_post: the tombstone %s vanished", filepath.Base(tomb))
	}
	return out, err
}

// once runs fn at most once per tool call, through the ledger (see
// ledger.Once): a retried or replayed call gets the first result again,
// and the same call with other arguments (a run reset to before an edit)
// fails for good, neither publishing them nor reporting the first result
// as theirs.
// Runs of other calls are not serialised, nor runs of one call on several
// workers sharing BLOG_DIR, so fn must be safe against both: the file
// side effects are single file-system operations that fail rather than
// replace another call's post (see publishFile).
func (b *Blog) once(ctx context.Context, call ToolCall, fn func() (string, error)) (string, error) {
	if call.WorkflowID == "" || call.CallID == "" {
		return "", temporal.NewNonRetryableApplicationError(
			call.Name+": workflow id and call id are required for idempotency", workflows.ErrTypeBadRequest, nil)
	}
	out, err := b.ledger.Once(ctx, call.Name, call.IdempotencyKey(), call.Arguments, fn)
	if errors.Is(err, ledger.ErrNotRecorded) {
		// The post is published (or deleted): a failure now would tell
		// the model and the audit that it was not, and a retry could not
		// even find it on a full disk. A later run of the call redoes fn,
		// which is safe to repeat, as after a crash before the ledger write.
		if activity.IsActivity(ctx) {
			activity.GetLogger(ctx).Error("tool ran but its result is not in the idempotency ledger",
				"tool", call.Name, "workflowId", call.WorkflowID, "callId", call.CallID, "error", err)
		}
		return out, nil
	}
	if errors.Is(err, ledger.ErrRecordedOther) {
		return "", temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeAlreadyRan, nil)
	}
	if errors.Is(err, ledger.ErrOtherInput) {
		return "", temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("%v; not run again with these arguments", err), workflows.ErrTypeAlreadyRan, nil)
	}
	return out, err
}

// Slugify turns a title into a file-name-safe slug: lowercase ASCII
// letters and digits separated by single dashes, at most 80 characters,
// "post" if nothing is left.
func Slugify(title string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(title) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
		default:
			dash = true
		}
		if sb.Len() >= maxSlugLen {
			break
		}
	}
	s := strings.TrimRight(sb.String(), "-")
	if len(s) > maxSlugLen {
		s = strings.TrimRight(s[:maxSlugLen], "-")
	}
	if s == "" {
		return "post"
	}
	return s
}

func keyHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// quote writes s as a JSON string, which is also a valid YAML scalar.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// readPost reads a post's front matter (key: value lines between "---"
// lines; JSON-quoted values are unquoted) and its body.
func readPost(path string) (map[string]string, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	fm := map[string]string{}
	text := string(data)
	rest, ok := strings.CutPrefix(text, "---\n")
	if !ok {
		return fm, text, nil
	}
	head, body, ok := strings.Cut(rest, "\n---\n")
	if !ok {
		return fm, text, nil
	}
	sc := bufio.NewScanner(strings.NewReader(head))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		var uq string
		if strings.HasPrefix(v, `"`) && json.Unmarshal([]byte(v), &uq) == nil {
			v = uq
		}
		fm[strings.TrimSpace(k)] = v
	}
	return fm, strings.TrimPrefix(body, "\n"), nil
}

func marshalResult(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode result: %w", err)
	}
	return string(b), nil
}

// mayHaveGoneOut reports whether a request that failed with err may have
// reached the server: it timed out, or the connection broke (EOF, reset)
// once it was open. A refused connection, a name that does not resolve or
// a certificate refused sent nothing.
func mayHaveGoneOut(err error) bool {
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// earlierAttempts is what a failed publish adds when it is not the call's
// first attempt: a post that an earlier attempt sent may be published
// although this attempt failed (a timeout, a 5xx, a 409 before it; or
// this attempt's 4xx, such as "title taken", refusing the repeat of a post
// the CMS took). "" on a first attempt, and outside an activity.
func earlierAttempts(ctx context.Context) string {
	if !activity.IsActivity(ctx) {
		return ""
	}
	attempt := activity.GetInfo(ctx).Attempt
	if attempt <= 1 {
		return ""
	}
	return fmt.Sprintf("; attempt %d: an earlier attempt may have published the post (every attempt sends the same %s)", attempt, HeaderIdempotencyKey)
}

// firstLine is the first line of a reply, for an error message: at most
// 200 bytes, cut between characters, U+FFFD for bytes that are not UTF-8
// (a reply in Latin-1).
func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(validText(s)), "\n")
	return truncateUTF8(s, 200)
}
