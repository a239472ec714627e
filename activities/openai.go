package activities

import (
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/packages/param"
	"github.com/openai/openai-go/v3/responses"
	"github.com/openai/openai-go/v3/shared"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/workflows"
)

// OpenAI defaults.
const (
	DefaultOpenAIBaseURL = "https://api.openai.com/v1/"
	DefaultOpenAIModel   = "gpt-4o"
)

// MetadataWorkflowID is the request metadata key that carries the
// workflow ID.
const MetadataWorkflowID = "workflow_id"

// OpenAIConfig configures the OpenAI model client. Nothing is read from the
// environment: the worker fills this from OPENAI_API_KEY, OPENAI_BASE_URL
// and OPENAI_MODEL itself.
type OpenAIConfig struct {
	APIKey  string // required
	BaseURL string // default DefaultOpenAIBaseURL; the scripted model is "http://HOST:PORT/v1/"
	Model   string // default DefaultOpenAIModel
	// HTTPClient is used for every request; nil means a client with a
	// timeout of workflows.MaxModelAttemptTimeout. The activity's context
	// bounds each call to the run's attempt timeout
	// (workflows.ModelRetry.AttemptTimeout, 2 minutes by default).
	HTTPClient *http.Client
}

func (c OpenAIConfig) withDefaults() OpenAIConfig {
	if c.BaseURL == "" {
		c.BaseURL = DefaultOpenAIBaseURL
	}
	if c.Model == "" {
		c.Model = DefaultOpenAIModel
	}
	return c
}

// Validate reports a missing key or a malformed base URL.
func (c OpenAIConfig) Validate() error {
	c = c.withDefaults()
	var errs []error
	if strings.TrimSpace(c.APIKey) == "" {
		errs = append(errs, errors.New("OPENAI_API_KEY is required"))
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("OPENAI_BASE_URL=%q: want an absolute http(s) URL such as %s", c.BaseURL, DefaultOpenAIBaseURL))
	}
	return errors.Join(errs...)
}

// OpenAIModel calls the OpenAI Responses API with openai-go.
type OpenAIModel struct {
	svc   responses.ResponseService
	model string
}

// NewOpenAIModel builds the client from cfg only.
//
// It builds the Responses service directly instead of through
// openai.NewClient, because NewClient reads OPENAI_API_KEY, OPENAI_BASE_URL,
// OPENAI_ORG_ID, OPENAI_PROJECT_ID, OPENAI_CUSTOM_HEADERS and more from the
// environment, and an explicit option cannot remove an env-sourced header.
// SDK retries are off: Temporal's retry policy is the only retry.
func NewOpenAIModel(cfg OpenAIConfig) (*OpenAIModel, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("openai: %w", err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: workflows.MaxModelAttemptTimeout}
	}
	svc := responses.NewResponseService(
		option.WithHTTPClient(hc),
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIKey(cfg.APIKey),
		option.WithMaxRetries(0),
		option.WithMiddleware(capResponseBody, requireJSON),
	)
	return &OpenAIModel{svc: svc, model: cfg.Model}, nil
}

// Respond sends the conversation and the tool definitions to the model and
// returns its output. API errors are classified for Temporal: 408, 409,
// 429, 5xx and network errors are retryable, other 4xx are not.
func (m *OpenAIModel) Respond(ctx context.Context, req workflows.ModelRequest, tools []Tool) (workflows.ModelResponse, error) {
	input, err := toInputItems(req.Input)
	if err != nil {
		return workflows.ModelResponse{}, temporal.NewNonRetryableApplicationError("openai: bad conversation: "+err.Error(), workflows.ErrTypeBadRequest, nil)
	}
	params := responses.ResponseNewParams{
		Model: m.model,
		Input: responses.ResponseNewParamsInputUnion{OfInputItemList: input},
		// The workflow resends the whole conversation every turn, so
		// nothing needs to be stored server-side.
		Store: param.NewOpt(false),
	}
	if req.WorkflowID != "" {
		// Tags the request for OpenAI's logs and lets the scripted model
		// make call ids unique per run yet stable across retries.
		params.Metadata = shared.Metadata{MetadataWorkflowID: truncateUTF8(req.WorkflowID, 512)}
	}
	for _, t := range tools {
		tp := responses.ToolParamOfFunction(t.Name, t.Parameters, false)
		if t.Description != "" {
			tp.OfFunction.Description = param.NewOpt(t.Description)
		}
		params.Tools = append(params.Tools, tp)
	}
	resp, err := m.svc.New(ctx, params)
	if err != nil {
		return workflows.ModelResponse{}, classifyOpenAIError(ctx, err, time.Now())
	}
	if err := responseFailed(resp); err != nil {
		return workflows.ModelResponse{}, err
	}
	return fromResponse(resp), nil
}

func toInputItems(items []workflows.ConversationItem) (responses.ResponseInputParam, error) {
	out := make(responses.ResponseInputParam, 0, len(items))
	for i, it := range items {
		switch it.Type {
		case workflows.ItemMessage:
			var role responses.EasyInputMessageRole
			switch it.Role {
			case "user":
				role = responses.EasyInputMessageRoleUser
			case "assistant":
				role = responses.EasyInputMessageRoleAssistant
			case "system":
				role = responses.EasyInputMessageRoleSystem
			case "developer":
				role = responses.EasyInputMessageRoleDeveloper
			default:
				return nil, fmt.Errorf("item %d: message role %q", i, it.Role)
			}
			out = append(out, responses.ResponseInputItemParamOfMessage(it.Text, role))
		case workflows.ItemFunctionCall:
			if it.CallID == "" || it.Name == "" {
				return nil, fmt.Errorf("item %d: function_call without call id or name", i)
			}
			out = append(out, responses.ResponseInputItemParamOfFunctionCall(it.Arguments, it.CallID, it.Name))
		case workflows.ItemFunctionCallOutput:
			if it.CallID == "" {
				return nil, fmt.Errorf("item %d: function_call_output without call id", i)
			}
			o := responses.ResponseInputItemParamOfFunctionCallOutput(it.Output)
			o.OfFunctionCallOutput.CallID = param.NewOpt(it.CallID)
			out = append(out, o)
		default:
			return nil, fmt.Errorf("item %d: unknown type %q", i, it.Type)
		}
	}
	return out, nil
}

// fromResponse keeps assistant messages and function calls; other output
// items (such as reasoning) are not part of the conversation model.
func fromResponse(r *responses.Response) workflows.ModelResponse {
	res := workflows.ModelResponse{ResponseID: r.ID, ToolCalls: []workflows.ToolCall{}, Output: []workflows.ConversationItem{}}
	var texts []string
	for _, item := range r.Output {
		switch item.Type {
		case "message":
			var sb strings.Builder
			for _, c := range item.Content {
				switch c.Type {
				case "output_text":
					sb.WriteString(c.Text)
				case "refusal":
					sb.WriteString(c.Refusal)
				}
			}
			role := item.Role
			if role == "" {
				role = "assistant"
			}
			res.Output = append(res.Output, workflows.ConversationItem{Type: workflows.ItemMessage, Role: role, Text: sb.String()})
			texts = append(texts, sb.String())
		case "function_call":
			tc := workflows.ToolCall{CallID: item.CallID, Name: item.Name, Arguments: item.Arguments.OfString}
			res.ToolCalls = append(res.ToolCalls, tc)
			res.Output = append(res.Output, workflows.ConversationItem{
				Type: workflows.ItemFunctionCall, CallID: tc.CallID, Name: tc.Name, Arguments: tc.Arguments,
			})
		}
	}
	res.Text = strings.Join(texts, "\n")
	return res
}

// MaxModelResponseLen bounds the body of a model response. The activity's
// result holds its text twice (the answer and the conversation's items)
// and must fit Temporal's 2 MiB payload limit; OpenAI's own output limits
// stay far below it, so a larger body is a model server gone wrong.
// Escaped as JSON, a body under it can still make a larger result ("<"
// takes six bytes): CallModel bounds the result itself too
// (MaxModelResultLen).
const MaxModelResponseLen = 1 << 20

// MaxModelResultLen bounds CallModel's result as JSON: Temporal's 2 MiB
// payload limit, less 4 KiB for the payload's own framing. A larger one
// fails the call for good with a clear ModelError, where the server would
// fail the run with "Complete result exceeds size limit".
const MaxModelResultLen = 2<<20 - 4<<10

// capResponseBody makes reading a response body beyond MaxModelResponseLen
// fail (*http.MaxBytesError).
func capResponseBody(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if resp != nil && resp.Body != nil {
		resp.Body = http.MaxBytesReader(nil, resp.Body, MaxModelResponseLen)
	}
	return resp, err
}

// notJSONError is a 2xx answer whose Content-Type does not say JSON: a
// web page (OPENAI_BASE_URL pointing at a site, or a proxy's login page)
// is no Responses API answer, and openai-go refuses it at every attempt
// (it retried for the whole window). A body cut short, which may pass,
// still says it is JSON.
type notJSONError struct{ contentType string }

func (e *notJSONError) Error() string {
	if e.contentType == "" {
		return "the model server answered without a Content-Type, not JSON"
	}
	return fmt.Sprintf("the model server answered %q, not JSON", e.contentType)
}

// requireJSON refuses a 2xx response that does not say it is JSON
// (notJSONError), as openai-go would at every attempt.
func requireJSON(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	resp, err := next(req)
	if err != nil || resp == nil || resp.StatusCode/100 != 2 {
		return resp, err
	}
	ct := resp.Header.Get("Content-Type")
	if mt, _, perr := mime.ParseMediaType(ct); perr == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json")) {
		return resp, nil
	}
	if resp.Body != nil {
		_ = resp.Body.Close()
	}
	return nil, &notJSONError{contentType: truncateUTF8(validText(ct), 100)}
}

// classifyOpenAIError maps an openai-go error to a Temporal error: a
// retryable one for transient failures, after the wait a 429 or 503 asks
// for if it is longer than the retry's own (openAIRetryAfter); a
// non-retryable application error with an actionable message for
// permanent ones, a used-up quota and a request larger than the
// tokens-per-minute limit among them (OpenAI answers both with a 429 too,
// which no retry mends).
func classifyOpenAIError(ctx context.Context, err error, now time.Time) error {
	// A request that failed to go out or came back late is a *url.Error
	// that names the URL, OPENAI_BASE_URL's user information (a gateway's
	// token) and path included; the error goes to the run's history and
	// the worker's log, so it names only the scheme and host (shownURL).
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		ue.URL = shownURL(ue.URL)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("openai: %w", err)
	}
	if notJSON := (*notJSONError)(nil); errors.As(err, &notJSON) {
		return temporal.NewNonRetryableApplicationError("openai: "+notJSON.Error()+" (check OPENAI_BASE_URL)", workflows.ErrTypeModel, nil)
	}
	if tooLarge := (*http.MaxBytesError)(nil); errors.As(err, &tooLarge) {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("openai: the model's response is larger than %d bytes (check OPENAI_BASE_URL)", tooLarge.Limit), workflows.ErrTypeModel, nil)
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("openai: request failed (retryable): %w", err)
	}
	code := apiErr.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	detail := validText(apiErr.Message)
	if len(detail) > 300 {
		detail = truncateUTF8(detail, 300) + "…"
	}
	var msg string
	switch {
	case code == http.StatusTooManyRequests && apiErr.Code == "insufficient_quota":
		msg = "openai: " + status + ": the account's quota is used up: check the plan and billing of OPENAI_API_KEY's project: " + detail
	case code == http.StatusTooManyRequests && strings.HasPrefix(apiErr.Message, "Request too large"):
		// The conversation alone passes the project's tokens-per-minute
		// limit; the run would send it again, so no wait mends it.
		msg = "openai: " + status + ": the request is larger than the project's tokens-per-minute limit, which no retry mends: raise the limit or use a model with a higher one: " + detail
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code == http.StatusConflict || code >= 500:
		var wait time.Duration
		if apiErr.Response != nil && (code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable) {
			wait = openAIRetryAfter(apiErr.Response.Header, now)
		}
		return retryableAfter(ctx, strings.TrimSuffix("openai: "+status+" (retryable): "+detail, ": "), wait)
	case code == http.StatusUnauthorized:
		// OpenAI's message echoes part of the key, so it is left out.
		msg = "openai: " + status + ": check OPENAI_API_KEY"
	case code == http.StatusForbidden:
		msg = "openai: " + status + ": the key has no access to this model or endpoint: " + detail
	case code == http.StatusNotFound:
		msg = "openai: " + status + ": check OPENAI_MODEL and OPENAI_BASE_URL: " + detail
	default:
		msg = "openai: " + status + ": " + detail
	}
	return temporal.NewNonRetryableApplicationError(strings.TrimSuffix(msg, ": "), workflows.ErrTypeModel, nil)
}

// openAIRetryAfter is the wait an OpenAI error response asks for: its
// retry-after-ms header (milliseconds, OpenAI's own), else Retry-After
// (retryAfter); at most workflows.MaxModelRetryAfter, 0 when there is none.
func openAIRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 && !math.IsInf(ms, 0) {
			return time.Duration(min(ms, float64(workflows.MaxModelRetryAfter/time.Millisecond)) * float64(time.Millisecond))
		}
	}
	return retryAfter(h, now, workflows.MaxModelRetryAfter)
}

// responseFailed reports a response the model did not finish: "failed"
// (its error: a server error is retried, another fails the call for good)
// or "incomplete" (cut at the output limit or by the content filter: its
// text or a call's arguments may be cut short, so none of it is used, and
// the same request would be cut again). "completed", and none (a minimal
// model server), are the model's answer; any other status (a response
// still queued or in progress, or cancelled, which a request that does not
// run in the background never gets) is no answer.
//
// A body without a status is an answer only if it has output and no
// error: a gateway's 200 with an error object ({"error": {...}}) fails as
// a failed response does, and a body with neither (a JSON document of
// another API) is no answer, rather than an empty one that would end the
// run as if the model had said nothing.
//
// What the server says of the response is cut short (a model server gone
// wrong may send a megabyte of it), as its error's message is.
func responseFailed(r *responses.Response) error {
	short := func(s string) string { return truncateUTF8(validText(s), 80) }
	id := short(r.ID)
	switch r.Status {
	case responses.ResponseStatusCompleted:
		return nil
	case "":
		if r.JSON.Error.Valid() {
			return failedResponse(r, "openai: the model server answered 200 with an error, not a response")
		}
		if !r.JSON.Output.Valid() {
			return temporal.NewNonRetryableApplicationError("openai: the model server's 200 answer has neither status nor output: not a Responses API response (check OPENAI_BASE_URL)", workflows.ErrTypeModel, nil)
		}
		return nil
	case responses.ResponseStatusFailed:
		return failedResponse(r, fmt.Sprintf("openai: response %s failed", id))
	case responses.ResponseStatusIncomplete:
		reason := short(r.IncompleteDetails.Reason)
		if reason == "" {
			reason = "no reason given"
		}
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("openai: response %s is incomplete (%s): the model's answer or a tool call's arguments may be cut short, so none of it is used", id, reason), workflows.ErrTypeModel, nil)
	default:
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("openai: response %s has status %q, not an answer (check OPENAI_BASE_URL)", id, truncateUTF8(validText(string(r.Status)), 40)), workflows.ErrTypeModel, nil)
	}
}

// failedResponse is the error of a response that failed, what starts its
// message: a server error is retried, another fails the call for good.
func failedResponse(r *responses.Response, what string) error {
	code, detail := string(r.Error.Code), truncateUTF8(validText(r.Error.Message), 300)
	if code == "" {
		code = "no code given"
	}
	msg := strings.TrimSuffix(fmt.Sprintf("%s (%s): %s", what, truncateUTF8(validText(code), 80), detail), ": ")
	if code == "server_error" || code == "rate_limit_exceeded" || code == "vector_store_timeout" {
		return errors.New(msg + " (retryable)")
	}
	return temporal.NewNonRetryableApplicationError(msg, workflows.ErrTypeModel, nil)
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
