package ablyjs

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/workflows"
)

const (
	keyName    = ablytest.KeyName
	keySecret  = ablytest.KeySecret
	approverID = "approver-alice"
	// role is what the approver's JWT claims on the channel; the forged
	// value ably-js puts in extras.userClaim is "admin".
	role        = "publisher"
	forgedClaim = "admin"
	agentID     = workflows.DefaultAgentClientID
	bridgeID    = "hitl-bridge"
	workflowID  = "wf-interop-1"
	// forbiddenChannel is outside the approver's capability.
	forbiddenChannel = "ai:other"
	// nodeTimeout bounds interop.mjs itself; caseTimeout bounds a whole
	// case, including the Go clients. A case takes about a second on an
	// idle machine; the margins are for loaded CI runners under -race.
	nodeTimeout = 45 * time.Second
	caseTimeout = 90 * time.Second
	npmHint     = "run `npm ci --prefix interop/ablyjs` from the repository root"
)

func TestAblyJSInterop(t *testing.T) {
	node := requireNode(t)
	cases := []struct {
		name string
		// jsBinary and goBinary select msgpack (true) or JSON for ably-js
		// and for the ably-go clients.
		jsBinary, goBinary bool
		// jsClientIDOption also passes clientId in the ably-js options,
		// which ably-js sends as a query parameter next to the token.
		jsClientIDOption bool
		// jsNoEcho sets echoMessages:false (echo=false): ably-js must not
		// get back what its Realtime connection published, but still gets
		// the reply it sent over REST.
		jsNoEcho bool
	}{
		{name: "js=json/go=json/clientId-option", jsBinary: false, goBinary: false, jsClientIDOption: true},
		{name: "js=msgpack/go=msgpack", jsBinary: true, goBinary: true},
		{name: "js=json/go=msgpack/no-echo", jsBinary: false, goBinary: true, jsNoEcho: true},
		{name: "js=msgpack/go=json/clientId-option/no-echo", jsBinary: true, goBinary: false, jsClientIDOption: true, jsNoEcho: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			t.Cleanup(cancel)

			srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: keyName, Secret: keySecret}}})
			helper := startTokenHelper(t, approverToken)
			port := portOf(t, srv.Addr())

			conf := ablyconn.Config{APIKey: keyName + ":" + keySecret, Endpoint: srv.Addr(), TLS: false}
			bridge := newRealtime(ctx, t, conf, bridgeID, tc.goBinary)
			agent := newRealtime(ctx, t, conf, agentID, tc.goBinary)
			agentREST := newREST(t, conf, agentID, tc.goBinary)

			received := make(chan *ably.Message, 64)
			bridgeCh := bridge.Channels.Get(workflows.DefaultChannel)
			unsub, err := bridgeCh.SubscribeAll(ctx, func(m *ably.Message) {
				select {
				case received <- m:
				default: // never block the client's read loop; the test fails on the missing message
				}
			})
			if err != nil {
				t.Fatalf("bridge subscribe: %v", err)
			}
			t.Cleanup(unsub)

			// Before ably-js attaches: one approval-request over ably-go
			// Realtime and one approval-resolved over ably-go REST. ably-js
			// must find both, and only these, in history({untilAttach}).
			agentCh := agent.Channels.Get(workflows.DefaultChannel)
			if err := agentCh.PublishMultiple(ctx, []*ably.Message{requestMessage(t, "call_0")}); err != nil {
				t.Fatalf("go realtime publish before attach: %v", err)
			}
			if err := agentREST.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{resolvedMessage(t, "call_0")}); err != nil {
				t.Fatalf("go rest publish before attach: %v", err)
			}
			// The Go side sees its own messages without a userClaim: the
			// trusted JWT carries no ably.channel claim.
			for _, name := range []string{workflows.MsgApprovalRequest, workflows.MsgApprovalResolved} {
				m := waitGoMessage(ctx, t, received, name)
				if claim, ok := m.Extras["userClaim"]; ok {
					t.Errorf("go %s: extras.userClaim = %v, want none for a token without ably.channel claims", name, claim)
				}
			}

			js := startNode(ctx, t, node, nodeArgs{
				port:        port,
				tokenURL:    helper.URL + "/token",
				connURL:     helper.URL + "/is-the-internet-up.txt",
				wsConnURL:   "ws" + helper.URL[len("http"):] + "/ws-up",
				channel:     workflows.DefaultChannel,
				binary:      tc.jsBinary,
				clientID:    clientIDOption(tc.jsClientIDOption),
				respondTo:   workflows.MsgApprovalRequest,
				noEcho:      tc.jsNoEcho,
				expectNames: jsExpected(tc.jsNoEcho),
				forbidden:   forbiddenChannel,
			})

			connected := js.waitEvent(ctx, t, "connected")
			if got := stringField(connected, "clientId"); got != approverID {
				t.Errorf("ably-js auth.clientId = %q, want the JWT's x-ably-clientId %q", got, approverID)
			}
			js.waitEvent(ctx, t, "attached")

			// Live, Go → JS: ably-go Realtime publishes map data; ably-js
			// answers it with an approval-response.
			if err := agentCh.PublishMultiple(ctx, []*ably.Message{requestMessage(t, "call_1")}); err != nil {
				t.Fatalf("go realtime publish: %v", err)
			}

			// JS → Go: the approval-responses as seen by ably-go, first the
			// one ably-js sent over Realtime, then the one over REST.
			checkGoResponse(t, "go realtime: js realtime approval-response", js.waitGoMessage(ctx, t, received, workflows.MsgApprovalResponse), approvedReply)
			checkGoResponse(t, "go realtime: js rest approval-response", js.waitGoMessage(ctx, t, received, workflows.MsgApprovalResponse), rejectedReply)
			checkGoHistory(ctx, t, agentREST)

			// Go REST → JS: approval-resolved, after the decision.
			if err := agentREST.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{resolvedMessage(t, "call_1")}); err != nil {
				t.Fatalf("go rest publish: %v", err)
			}

			js.waitEvent(ctx, t, "done")
			events := js.wait(ctx, t)
			if got := helper.tokens.Load(); got < 1 {
				t.Errorf("token helper served %d tokens, want >= 1 (authCallback not used?)", got)
			}
			checkJSEvents(t, events, tc.jsNoEcho)
		})
	}
}

// jsExpected lists the live messages interop.mjs waits for before it
// exits. approval-resolved comes last on the channel, so any message the
// server should not have sent arrives before the script stops listening.
func jsExpected(noEcho bool) []string {
	names := []string{workflows.MsgApprovalRequest, workflows.MsgApprovalResponse}
	if !noEcho {
		names = append(names, workflows.MsgApprovalResponse)
	}
	return append(names, workflows.MsgApprovalResolved)
}

// requireNode returns the node binary, failing (never skipping) when Node
// or the pinned ably package is missing.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is not on PATH (%v): install Node >= 20, then %s", err, npmHint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", node, err)
	}
	version := strings.TrimSpace(string(out))
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	if n, err := strconv.Atoi(major); err != nil || n < 20 {
		t.Fatalf("node %s: want Node >= 20", version)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	readJSONFile(t, "package.json", &pkg)
	want := pkg.Dependencies["ably"]
	if want == "" {
		t.Fatalf("package.json does not pin ably")
	}
	var installed struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join("node_modules", "ably", "package.json"))
	if err != nil {
		t.Fatalf("ably-js is not installed (%v): %s", err, npmHint)
	}
	if err := json.Unmarshal(b, &installed); err != nil {
		t.Fatalf("node_modules/ably/package.json: %v: %s", err, npmHint)
	}
	if installed.Version != want {
		t.Fatalf("node_modules has ably %s, package.json pins %s: %s", installed.Version, want, npmHint)
	}
	return node
}

func readJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("server address %q: %v", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("server address %q: %v", addr, err)
	}
	return port
}

type tokenHelper struct {
	*httptest.Server
	tokens atomic.Int64
}

// approverCapability is what the auth server grants an approver.
var approverCapability = ablytest.ApproverCapability(workflows.DefaultChannel)

// approverToken signs the JWT the auth server gives an approver: the
// clientId, the approvals channel only, and the role as the channel's
// ably.channel claim.
func approverToken(now time.Time) (string, error) {
	tok, _, err := ablytest.ApproverToken(approverID, workflows.DefaultChannel, role, now, time.Hour)
	return tok, err
}

// startTokenHelper serves a JWT from sign at /token (what an auth server
// would hand ably-js's authCallback) and answers ably-js's HTTP and
// WebSocket connectivity probes, so nothing leaves 127.0.0.1.
func startTokenHelper(t *testing.T, sign func(now time.Time) (string, error)) *tokenHelper {
	t.Helper()
	return startAuthHelper(t, "application/jwt", func(now time.Time) ([]byte, error) {
		tok, err := sign(now)
		return []byte(tok), err
	})
}

// startAuthHelper is startTokenHelper for any answer at /token: body
// makes it, served with contentType.
func startAuthHelper(t *testing.T, contentType string, body func(now time.Time) ([]byte, error)) *tokenHelper {
	t.Helper()
	h := &tokenHelper{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, _ *http.Request) {
		b, err := body(time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		h.tokens.Add(1)
		w.Header().Set("Content-Type", contentType)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /is-the-internet-up.txt", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("yes\n"))
	})
	mux.HandleFunc("GET /ws-up", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Close(websocket.StatusNormalClosure, "")
	})
	h.Server = httptest.NewServer(mux)
	t.Cleanup(h.Close)
	return h
}

func newRealtime(ctx context.Context, t *testing.T, conf ablyconn.Config, clientID string, binary bool) *ably.Realtime {
	t.Helper()
	opts, err := conf.TrustedOptions(clientID, "")
	if err != nil {
		t.Fatalf("trusted options: %v", err)
	}
	rt, err := ably.NewRealtime(append(opts, ably.WithUseBinaryProtocol(binary), ably.WithAutoConnect(false))...)
	if err != nil {
		t.Fatalf("ably.NewRealtime: %v", err)
	}
	connected := make(chan struct{})
	var once sync.Once
	off := rt.Connection.On(ably.ConnectionEventConnected, func(ably.ConnectionStateChange) {
		once.Do(func() { close(connected) })
	})
	defer off()
	rt.Connect()
	t.Cleanup(rt.Close)
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatalf("ably-go %s: not connected: %v (state %s, reason %v)", clientID, ctx.Err(), rt.Connection.State(), rt.Connection.ErrorReason())
	}
	return rt
}

func newREST(t *testing.T, conf ablyconn.Config, clientID string, binary bool) *ably.REST {
	t.Helper()
	opts, err := conf.TrustedOptions(clientID, "")
	if err != nil {
		t.Fatalf("trusted options: %v", err)
	}
	rest, err := ably.NewREST(append(opts, ably.WithUseBinaryProtocol(binary))...)
	if err != nil {
		t.Fatalf("ably.NewREST: %v", err)
	}
	return rest
}

func clientIDOption(on bool) string {
	if on {
		return approverID
	}
	return ""
}

// toMap turns v into the map ably-go publishes as raw object data.
func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("unmarshal %T: %v", v, err)
	}
	return m
}

func requestData(toolCallID string) workflows.ApprovalRequestData {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return workflows.ApprovalRequestData{
		Tool:         "publish_blog_post",
		Arguments:    `{"title":"Hello"}`,
		ToolCallID:   toolCallID,
		WorkflowID:   workflowID,
		RequiredRole: "publisher",
		RequestedAt:  at,
		ExpiresAt:    at.Add(10 * time.Minute),
	}
}

func resolvedData(toolCallID string) workflows.ApprovalResolvedData {
	return workflows.ApprovalResolvedData{
		ToolCallID: toolCallID,
		WorkflowID: workflowID,
		Tool:       "publish_blog_post",
		Outcome:    workflows.OutcomeApproved,
		DecidedBy:  approverID,
		Role:       role,
	}
}

func headers(toolCallID string) map[string]any {
	return map[string]any{"headers": map[string]any{
		workflows.HeaderToolCallID: toolCallID,
		workflows.HeaderWorkflowID: workflowID,
	}}
}

func requestMessage(t *testing.T, toolCallID string) *ably.Message {
	return &ably.Message{
		ID:     workflowID + ":" + toolCallID + ":request",
		Name:   workflows.MsgApprovalRequest,
		Data:   toMap(t, requestData(toolCallID)),
		Extras: headers(toolCallID),
	}
}

func resolvedMessage(t *testing.T, toolCallID string) *ably.Message {
	return &ably.Message{
		ID:     workflowID + ":" + toolCallID + ":resolved",
		Name:   workflows.MsgApprovalResolved,
		Data:   toMap(t, resolvedData(toolCallID)),
		Extras: headers(toolCallID),
	}
}

func waitGoMessage(ctx context.Context, t *testing.T, ch <-chan *ably.Message, name string) *ably.Message {
	t.Helper()
	for {
		select {
		case m := <-ch:
			if m.Name == name {
				return m
			}
		case <-ctx.Done():
			t.Fatalf("ably-go never received %q: %v", name, ctx.Err())
		}
	}
}

// waitGoMessage waits for ably-go to receive a message named name while
// watching interop.mjs, so a failing script ends the wait at once.
func (r *nodeRun) waitGoMessage(ctx context.Context, t *testing.T, ch <-chan *ably.Message, name string) *ably.Message {
	t.Helper()
	lines := r.lines
	for {
		select {
		case m := <-ch:
			if m.Name == name {
				return m
			}
		case e, ok := <-lines:
			if !ok {
				lines = nil // exited; keep waiting for ably-go until ctx ends
				continue
			}
			r.seen = append(r.seen, e)
			if e.Event == "error" || e.Event == "unparsable" {
				r.fatal(t, fmt.Sprintf("%s %s while ably-go waited for %q: %s", r.script, e.Event, name, e.Error))
			}
		case <-ctx.Done():
			r.fatal(t, fmt.Sprintf("ably-go never received %q: %v", name, ctx.Err()))
		}
	}
}

// goData decodes what ably-go delivers as data: a map, or a JSON string
// (or bytes) with encoding "json", as ably-js publishes objects.
func goData(m *ably.Message) (map[string]any, error) {
	switch d := m.Data.(type) {
	case map[string]any:
		if m.Encoding != "" {
			return nil, fmt.Errorf("map data with encoding %q", m.Encoding)
		}
		return d, nil
	case string:
		return decodeJSONData([]byte(d), m.Encoding)
	case []byte:
		return decodeJSONData(d, m.Encoding)
	default:
		return nil, fmt.Errorf("data is %T (encoding %q)", m.Data, m.Encoding)
	}
}

func decodeJSONData(b []byte, encoding string) (map[string]any, error) {
	if encoding != "json" {
		return nil, fmt.Errorf("string data with encoding %q, want \"json\": %q", encoding, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("json data: %w", err)
	}
	return out, nil
}

// The data of the two approval-responses interop.mjs publishes: over its
// Realtime connection, then with an ably-js REST client.
var (
	approvedReply = map[string]any{"decision": workflows.OutcomeApproved}
	rejectedReply = map[string]any{"decision": workflows.OutcomeRejected, "reason": "sent over REST"}
)

func checkGoResponse(t *testing.T, what string, m *ably.Message, wantData map[string]any) {
	t.Helper()
	if m.ClientID != approverID {
		t.Errorf("%s: clientId = %q, want %q", what, m.ClientID, approverID)
	}
	data, err := goData(m)
	if err != nil {
		t.Errorf("%s: data: %v", what, err)
	} else if !reflect.DeepEqual(data, wantData) {
		t.Errorf("%s: data = %#v, want %#v", what, data, wantData)
	}
	if got := m.Extras["userClaim"]; got != role {
		t.Errorf("%s: extras.userClaim = %#v, want the JWT role %q (the client forged %q)", what, got, role, forgedClaim)
	}
	hdrs, _ := m.Extras["headers"].(map[string]any)
	if got := hdrs[workflows.HeaderToolCallID]; got != "call_1" {
		t.Errorf("%s: extras.headers.toolCallId = %#v, want \"call_1\" (extras %#v)", what, got, m.Extras)
	}
}

// checkGoHistory reads the channel's history with ably-go REST (GET
// /channels/{ch}/history) and checks the two stored approval-responses,
// newest first.
func checkGoHistory(ctx context.Context, t *testing.T, rest *ably.REST) {
	t.Helper()
	page, err := rest.Channels.Get(workflows.DefaultChannel).History(ably.HistoryWithLimit(100)).Pages(ctx)
	if err != nil {
		t.Fatalf("go rest history: %v", err)
	}
	if !page.Next(ctx) {
		t.Fatalf("go rest history: no page: %v", page.Err())
	}
	var responses []*ably.Message
	for _, m := range page.Items() {
		if m.Name == workflows.MsgApprovalResponse {
			responses = append(responses, m)
		}
	}
	if len(responses) != 2 {
		t.Fatalf("go rest history has %d approval-responses, want 2", len(responses))
	}
	checkGoResponse(t, "go rest history[newest]: js rest approval-response", responses[0], rejectedReply)
	checkGoResponse(t, "go rest history[oldest]: js realtime approval-response", responses[1], approvedReply)
}

// jsMessage is a message as interop.mjs prints it.
type jsMessage struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	ClientID string          `json:"clientId"`
	Encoding *string         `json:"encoding"`
	DataType string          `json:"dataType"`
	Data     json.RawMessage `json:"data"`
	Extras   map[string]any  `json:"extras"`
}

type jsEvent struct {
	Event      string               `json:"event"`
	Error      string               `json:"error"`
	Code       int                  `json:"code"`
	StatusCode int                  `json:"statusCode"`
	Message    *jsMessage           `json:"message"`
	Messages   []jsMessage          `json:"messages"`
	Pages      [][]jsMessage        `json:"pages"`
	Results    map[string]jsOutcome `json:"results"`
	raw        map[string]any
}

// jsOutcome is how one ably-js call ended.
type jsOutcome struct {
	OK         bool   `json:"ok"`
	Code       int    `json:"code"`
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
}

func stringField(e jsEvent, key string) string {
	s, _ := e.raw[key].(string)
	return s
}

// nodeArgs are the flags of interop.mjs (and, through lib.mjs, the common
// flags of recover.mjs).
type nodeArgs struct {
	// script is the file to run; empty means interop.mjs.
	script              string
	port                int
	tokenURL, connURL   string
	wsConnURL, channel  string
	binary              bool
	clientID, respondTo string
	noEcho              bool
	forbidden           string
	expectNames         []string
	// extra flags, appended as they are.
	extra []string
}

type nodeRun struct {
	script string
	cmd    *exec.Cmd
	lines  <-chan jsEvent
	stderr *bytes.Buffer // written by exec; read only after Wait
	seen   []jsEvent
	waited bool
}

func startNode(ctx context.Context, t *testing.T, node string, a nodeArgs) *nodeRun {
	t.Helper()
	script := a.script
	if script == "" {
		script = "interop.mjs"
	}
	args := []string{script,
		"--port", strconv.Itoa(a.port),
		"--token-url", a.tokenURL,
		"--connectivity-url", a.connURL,
		"--ws-connectivity-url", a.wsConnURL,
		"--channel", a.channel,
		"--timeout-ms", strconv.FormatInt(nodeTimeout.Milliseconds(), 10),
	}
	if a.respondTo != "" {
		args = append(args, "--respond-to", a.respondTo)
	}
	if len(a.expectNames) > 0 {
		args = append(args, "--expect", strings.Join(a.expectNames, ","))
	}
	if a.binary {
		args = append(args, "--binary")
	}
	if a.clientID != "" {
		args = append(args, "--client-id", a.clientID)
	}
	if a.noEcho {
		args = append(args, "--no-echo")
	}
	if a.forbidden != "" {
		args = append(args, "--forbidden-channel", a.forbidden)
	}
	args = append(args, a.extra...)
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.WaitDelay = 5 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("stdout pipe: %v", err)
	}
	r := &nodeRun{script: script, cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	lines := make(chan jsEvent, 64)
	r.lines = lines
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for sc.Scan() {
			var e jsEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = jsEvent{Event: "unparsable", Error: fmt.Sprintf("%v: %q", err, sc.Text())}
			} else {
				_ = json.Unmarshal(sc.Bytes(), &e.raw)
			}
			lines <- e
		}
	}()
	t.Cleanup(func() {
		if !r.waited {
			_ = cmd.Process.Kill()
			r.drain()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s events:\n%s\nstderr:\n%s", script, r.summary(), r.stderr.String())
			}
		}
	})
	return r
}

func (r *nodeRun) drain() {
	for e := range r.lines {
		r.seen = append(r.seen, e)
	}
}

// waitEvent returns the next event named name, failing on an error event,
// on the script's exit, or on ctx.
func (r *nodeRun) waitEvent(ctx context.Context, t *testing.T, name string) jsEvent {
	t.Helper()
	for {
		select {
		case e, ok := <-r.lines:
			if !ok {
				r.fatal(t, fmt.Sprintf("%s exited before %q", r.script, name))
			}
			r.seen = append(r.seen, e)
			switch e.Event {
			case name:
				return e
			case "error", "unparsable":
				r.fatal(t, fmt.Sprintf("%s %s while waiting for %q: %s", r.script, e.Event, name, e.Error))
			}
		case <-ctx.Done():
			r.fatal(t, fmt.Sprintf("no %q from %s: %v", name, r.script, ctx.Err()))
		}
	}
}

// wait reads the rest of the output and the exit status; it returns every
// event the script printed and fails the test unless the script succeeded.
func (r *nodeRun) wait(ctx context.Context, t *testing.T) []jsEvent {
	t.Helper()
	events, err := r.result(ctx)
	if err != nil {
		t.Fatalf("%s: %v\nevents: %s\nstderr:\n%s", r.script, err, r.summary(), r.stderr.String())
	}
	return events
}

// result reads the rest of the output and waits for the script to exit,
// killing it when ctx ends. It returns every event and the exit error.
func (r *nodeRun) result(ctx context.Context) ([]jsEvent, error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.drain()
	}()
	select {
	case <-done:
	case <-ctx.Done():
		_ = r.cmd.Process.Kill()
		<-done
	}
	err := r.cmd.Wait()
	r.waited = true
	return r.seen, err
}

func (r *nodeRun) fatal(t *testing.T, msg string) {
	t.Helper()
	_ = r.cmd.Process.Kill()
	r.drain()
	err := r.cmd.Wait()
	r.waited = true
	t.Fatalf("%s (exit: %v)\nevents: %s\nstderr:\n%s", msg, err, r.summary(), r.stderr.String())
}

func (r *nodeRun) summary() string {
	var b bytes.Buffer
	for _, e := range r.seen {
		raw, _ := json.Marshal(e.raw)
		b.Write(raw)
		b.WriteByte('\n')
	}
	return b.String()
}

// checkJSEvents checks what ably-js received: Go's messages as objects with
// extras intact, its own reply with the server-stamped userClaim, and
// exactly the two pre-attach messages in untilAttach history.
func checkJSEvents(t *testing.T, events []jsEvent, noEcho bool) {
	t.Helper()
	live := map[string][]jsMessage{}
	var history []jsMessage
	var sawAuth, sawPing, sawHistory bool
	var pages [][]jsMessage
	var forbidden map[string]jsOutcome
	for _, e := range events {
		switch e.Event {
		case "auth":
			sawAuth = true
		case "ping":
			sawPing = true
		case "message":
			if e.Message == nil {
				t.Errorf("message event without message")
				continue
			}
			live[e.Message.Name] = append(live[e.Message.Name], *e.Message)
		case "history":
			sawHistory = true
			history = e.Messages
		case "history-pages":
			pages = e.Pages
		case "forbidden":
			forbidden = e.Results
		}
	}
	checkForbidden(t, forbidden)
	if !sawAuth {
		t.Errorf("ably-js never called authCallback")
	}
	if !sawPing {
		t.Errorf("ably-js connection.ping() was not answered")
	}

	if got := live[workflows.MsgApprovalRequest]; len(got) != 1 {
		t.Errorf("ably-js received %d live approval-requests, want 1", len(got))
	} else {
		checkJSMessage(t, "live approval-request (go realtime)", got[0], workflowID+":call_1:request", agentID, toMap(t, requestData("call_1")), "call_1")
	}
	if got := live[workflows.MsgApprovalResolved]; len(got) != 1 {
		t.Errorf("ably-js received %d live approval-resolved, want 1", len(got))
	} else {
		checkJSMessage(t, "live approval-resolved (go rest)", got[0], workflowID+":call_1:resolved", agentID, toMap(t, resolvedData("call_1")), "call_1")
	}
	// Its own replies come back in publish order, with the server's
	// userClaim instead of the forged one; with echo=false only the one
	// sent over REST (another connection) does.
	wantReplies := []map[string]any{approvedReply, rejectedReply}
	if noEcho {
		wantReplies = wantReplies[1:]
	}
	if got := live[workflows.MsgApprovalResponse]; len(got) != len(wantReplies) {
		t.Errorf("ably-js received %d approval-responses (echo=%t), want %d", len(got), !noEcho, len(wantReplies))
	} else {
		for i, want := range wantReplies {
			what := fmt.Sprintf("echoed approval-response #%d", i+1)
			checkJSMessage(t, what, got[i], "", approverID, want, "call_1")
			if claim := got[i].Extras["userClaim"]; claim != role {
				t.Errorf("%s: extras.userClaim = %#v, want %q", what, claim, role)
			}
		}
	}

	if !sawHistory {
		t.Fatalf("ably-js printed no history")
	}
	// history is newest first: REST approval-resolved, then realtime
	// approval-request, both published before ably-js attached.
	if len(history) != 2 {
		var ids []string
		for _, m := range history {
			ids = append(ids, m.Name+" "+m.ID)
		}
		t.Fatalf("ably-js history({untilAttach}) has %d messages %q, want the 2 published before attach", len(history), ids)
	}
	checkJSMessage(t, "history[0] (go rest)", history[0], workflowID+":call_0:resolved", agentID, toMap(t, resolvedData("call_0")), "call_0")
	checkJSMessage(t, "history[1] (go realtime)", history[1], workflowID+":call_0:request", agentID, toMap(t, requestData("call_0")), "call_0")

	// With limit 1, ably-js follows the Link rel="next" headers: one
	// message per page, the same two in the same order. A final empty page
	// is allowed.
	var paged []string
	for i, p := range pages {
		if len(p) > 1 || (len(p) == 0 && i != len(pages)-1) {
			t.Errorf("ably-js history(limit 1) page %d has %d messages", i+1, len(p))
		}
		for _, m := range p {
			paged = append(paged, m.ID)
		}
	}
	if want := []string{history[0].ID, history[1].ID}; !reflect.DeepEqual(paged, want) {
		t.Errorf("ably-js history(limit 1) pages give ids %q, want %q", paged, want)
	}
}

// checkForbidden checks how ably-js's calls on a channel outside its
// capability failed: each with 40160/401 (NACK, channel ERROR, REST 401).
func checkForbidden(t *testing.T, results map[string]jsOutcome) {
	t.Helper()
	for _, call := range []string{"publish", "attach", "history", "restPublish"} {
		got, ok := results[call]
		switch {
		case !ok:
			t.Errorf("ably-js %s on %s: no result", call, forbiddenChannel)
		case got.OK:
			t.Errorf("ably-js %s on %s succeeded, want error 40160/401", call, forbiddenChannel)
		case got.Code != 40160 || got.StatusCode != http.StatusUnauthorized:
			t.Errorf("ably-js %s on %s failed with %d/%d (%s), want 40160/401", call, forbiddenChannel, got.Code, got.StatusCode, got.Message)
		}
	}
}

func checkJSMessage(t *testing.T, what string, m jsMessage, wantID, wantClient string, wantData map[string]any, wantToolCall string) {
	t.Helper()
	if wantID != "" && m.ID != wantID {
		t.Errorf("%s: id = %q, want %q", what, m.ID, wantID)
	}
	if m.ClientID != wantClient {
		t.Errorf("%s: clientId = %q, want %q", what, m.ClientID, wantClient)
	}
	if m.DataType != "object" {
		t.Errorf("%s: ably-js data is %s (%s), want an object", what, m.DataType, m.Data)
	} else {
		var got map[string]any
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Errorf("%s: data: %v", what, err)
		} else if !reflect.DeepEqual(got, wantData) {
			t.Errorf("%s: data = %#v, want %#v", what, got, wantData)
		}
	}
	if m.Encoding != nil && *m.Encoding != "" {
		t.Errorf("%s: ably-js left encoding %q undecoded", what, *m.Encoding)
	}
	hdrs, _ := m.Extras["headers"].(map[string]any)
	if got := hdrs[workflows.HeaderToolCallID]; got != wantToolCall {
		t.Errorf("%s: extras.headers.toolCallId = %#v, want %q (extras %#v)", what, got, wantToolCall, m.Extras)
	}
	if wantClient == agentID {
		if got := hdrs[workflows.HeaderWorkflowID]; got != workflowID {
			t.Errorf("%s: extras.headers.workflowId = %#v, want %q", what, got, workflowID)
		}
		if claim, ok := m.Extras["userClaim"]; ok {
			t.Errorf("%s: extras.userClaim = %#v, want none", what, claim)
		}
	}
}

// TestAblyJSRejectsBadJWT checks that ably-js, given a JWT the server must
// refuse, ends with the documented token error instead of connecting.
// ably-js treats a 401 as a token error and fetches a new token once
// before interop.mjs gives up, so the server refuses both attempts.
func TestAblyJSRejectsBadJWT(t *testing.T) {
	node := requireNode(t)
	claims := func(now time.Time) jwt.MapClaims {
		return jwt.MapClaims{
			"iat":             now.Unix(),
			"exp":             now.Add(time.Hour).Unix(),
			"x-ably-clientId": approverID,
			"ably.channel." + workflows.DefaultChannel: role,
		}
	}
	sign := func(method jwt.SigningMethod, kid, secret string, c jwt.MapClaims) (string, error) {
		tok := jwt.NewWithClaims(method, c)
		tok.Header["kid"] = kid
		return tok.SignedString([]byte(secret))
	}
	cases := []struct {
		name     string
		sign     func(now time.Time) (string, error)
		wantCode int
	}{
		{name: "wrong-secret", wantCode: 40144, sign: func(now time.Time) (string, error) {
			return sign(jwt.SigningMethodHS256, keyName, "not-the-secret", claims(now))
		}},
		{name: "unknown-kid", wantCode: 40144, sign: func(now time.Time) (string, error) {
			return sign(jwt.SigningMethodHS256, "app.other", keySecret, claims(now))
		}},
		{name: "hs384", wantCode: 40144, sign: func(now time.Time) (string, error) {
			return sign(jwt.SigningMethodHS384, keyName, keySecret, claims(now))
		}},
		{name: "alg-none", wantCode: 40144, sign: func(now time.Time) (string, error) {
			tok := jwt.NewWithClaims(jwt.SigningMethodNone, claims(now))
			tok.Header["kid"] = keyName
			return tok.SignedString(jwt.UnsafeAllowNoneSignatureType)
		}},
		{name: "no-exp", wantCode: 40144, sign: func(now time.Time) (string, error) {
			c := claims(now)
			delete(c, "exp")
			return sign(jwt.SigningMethodHS256, keyName, keySecret, c)
		}},
		{name: "expired", wantCode: 40142, sign: func(now time.Time) (string, error) {
			c := claims(now)
			c["iat"] = now.Add(-2 * time.Hour).Unix()
			c["exp"] = now.Add(-time.Hour).Unix()
			return sign(jwt.SigningMethodHS256, keyName, keySecret, c)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			t.Cleanup(cancel)
			srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: keyName, Secret: keySecret}}})
			helper := startTokenHelper(t, tc.sign)
			for _, binary := range []bool{false, true} {
				js := startNode(ctx, t, node, nodeArgs{
					port:      portOf(t, srv.Addr()),
					tokenURL:  helper.URL + "/token",
					connURL:   helper.URL + "/is-the-internet-up.txt",
					wsConnURL: "ws" + helper.URL[len("http"):] + "/ws-up",
					channel:   workflows.DefaultChannel,
					binary:    binary,
					respondTo: workflows.MsgApprovalRequest,
				})
				events, err := js.result(ctx)
				if err == nil || len(events) == 0 {
					t.Fatalf("binary=%t: interop.mjs exit %v with a bad JWT\nevents: %s\nstderr:\n%s", binary, err, js.summary(), js.stderr.String())
				}
				last := events[len(events)-1]
				auths := 0
				for _, e := range events {
					switch e.Event {
					case "connected":
						t.Errorf("binary=%t: ably-js connected with a bad JWT", binary)
					case "auth":
						auths++
					}
				}
				if last.Event != "error" || last.Code != tc.wantCode || last.StatusCode != http.StatusUnauthorized {
					t.Errorf("binary=%t: ably-js ended with %s %d/%d (%s), want error %d/401\nevents: %s\nstderr:\n%s",
						binary, last.Event, last.Code, last.StatusCode, last.Error, tc.wantCode, js.summary(), js.stderr.String())
				}
				// A 401 with a 4014x code is a token error: ably-js asks
				// authCallback for a new token once (RTN14b).
				if auths != 2 {
					t.Errorf("binary=%t: authCallback called %d times, want 2 (first token and one retry on the token error)", binary, auths)
				}
			}
		})
	}
}

// TestAblyJSRecover checks ably-js connection recovery (a restarted web
// page with its saved recovery key): the server keeps the connection and
// the channel position, and replays exactly the messages published while
// no ably-js connection existed, in order, before live traffic. ably-js
// attaches with channelSerial only (it has no ATTACH_RESUME).
func TestAblyJSRecover(t *testing.T) {
	node := requireNode(t)
	for _, binary := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "msgpack"}[binary], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
			t.Cleanup(cancel)
			srv := ablytest.Start(t, ablylocal.Config{Keys: []ablylocal.Key{{Name: keyName, Secret: keySecret}}})
			helper := startTokenHelper(t, approverToken)
			conf := ablyconn.Config{APIKey: keyName + ":" + keySecret, Endpoint: srv.Addr(), TLS: false}
			rest := newREST(t, conf, agentID, binary)
			publish := func(m *ably.Message) {
				t.Helper()
				if err := rest.Channels.Get(workflows.DefaultChannel).PublishMultiple(ctx, []*ably.Message{m}); err != nil {
					t.Fatalf("go rest publish %s: %v", m.ID, err)
				}
			}
			args := nodeArgs{
				script:    "recover.mjs",
				port:      portOf(t, srv.Addr()),
				tokenURL:  helper.URL + "/token",
				connURL:   helper.URL + "/is-the-internet-up.txt",
				wsConnURL: "ws" + helper.URL[len("http"):] + "/ws-up",
				channel:   workflows.DefaultChannel,
				binary:    binary,
			}

			// Phase 1: attach, receive call_0 live, save the key, drop.
			saveArgs := args
			saveArgs.extra = []string{"--save", "--save-after", "1"}
			first := startNode(ctx, t, node, saveArgs)
			first.waitEvent(ctx, t, "attached")
			publish(requestMessage(t, "call_0"))
			saved := first.waitEvent(ctx, t, "recovery-key")
			first.wait(ctx, t)
			key, connID := stringField(saved, "key"), stringField(saved, "connectionId")
			if key == "" || connID == "" {
				t.Fatalf("recovery-key event without key or connectionId: %v", saved.raw)
			}

			// While no ably-js connection exists.
			missed := []*ably.Message{requestMessage(t, "call_1"), requestMessage(t, "call_2"), resolvedMessage(t, "call_1")}
			for _, m := range missed {
				publish(m)
			}

			// Phase 2: recover, then a live sentinel after the attach.
			recoverArgs := args
			recoverArgs.extra = []string{"--recover", key, "--until", "interop-end"}
			second := startNode(ctx, t, node, recoverArgs)
			connected := second.waitEvent(ctx, t, "connected")
			attached := second.waitEvent(ctx, t, "attached")
			publish(&ably.Message{ID: "interop-end:0", Name: "interop-end", Data: "end"})
			second.waitEvent(ctx, t, "done")
			events := second.wait(ctx, t)

			if got := stringField(connected, "connectionId"); got != connID {
				t.Errorf("recovered connectionId = %q, want the saved %q (recovery failed: %v)", got, connID, connected.raw["reason"])
			}
			if reason := connected.raw["reason"]; reason != nil {
				t.Errorf("recovered connection has error %v, want none", reason)
			}
			if resumed, _ := attached.raw["resumed"].(bool); !resumed {
				t.Errorf("attach after recovery: resumed = %v, want true (ATTACHED with RESUMED)", attached.raw["resumed"])
			}
			var got, want []string
			for _, m := range missed {
				want = append(want, m.ID)
			}
			for _, e := range events {
				if e.Event == "message" && e.Message != nil && e.Message.Name != "interop-end" {
					got = append(got, e.Message.ID)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ably-js received %q after recovery, want exactly the missed %q in order", got, want)
			}
		})
	}
}
