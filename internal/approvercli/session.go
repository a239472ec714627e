package approvercli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// Config is what every approver command needs.
type Config struct {
	Ably          ablyconn.Config // endpoint and TLS; the key is not used
	Channel       string          // default workflows.DefaultChannel
	AgentClientID string          // default workflows.DefaultAgentClientID
	AuthURL       string          // auth server base URL
	User          string
	Password      string
	// AllowPlaintext permits an http:// AuthURL to a host that is not
	// loopback (see CheckAuthURL).
	AllowPlaintext bool

	// HistoryPages bounds how much history is read at start, in pages of
	// 100 messages: at most MaxHistoryPages; 0 is the default, 10.
	HistoryPages int
	// Workflow, when set, is the only workflow whose requests Watch asks
	// about (watch -workflow: the demo's approver answers its own run,
	// not one an earlier demo left pending).
	Workflow string
	// Timeout bounds connecting, attaching and one publish. Default 30s.
	Timeout time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
	// Log receives diagnostics (ignored requests, ably warnings). Default
	// slog.Default().
	Log *slog.Logger
	// HTTP is the client for the auth server. Default: 15s timeout.
	HTTP *http.Client
	// AblyOptions are appended to the client options (tests).
	AblyOptions []ably.ClientOption
}

// Validate checks the configuration without contacting anything.
func (c Config) Validate() error {
	var errs []error
	if err := c.Ably.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.AuthURL == "" {
		errs = append(errs, errors.New("AUTH_URL (-auth-url) is required"))
	} else if err := CheckAuthURL(c.AuthURL, c.AllowPlaintext); err != nil {
		errs = append(errs, err)
	}
	if c.User == "" {
		errs = append(errs, errors.New("APPROVER_USER (-user) is required"))
	}
	if c.Password == "" {
		errs = append(errs, errors.New("APPROVER_PASSWORD is required"))
	}
	if err := ablyconn.ValidateChannel(c.Channel); err != nil {
		errs = append(errs, fmt.Errorf("%s (-channel): %w", config.EnvChannel, err))
	}
	if err := workflows.ValidateTrustedClientID(config.EnvAgentClientID+" (-agent-client-id)", c.AgentClientID); err != nil {
		errs = append(errs, err)
	}
	if c.Workflow != "" {
		if err := workflows.ValidateWorkflowID(c.Workflow); err != nil {
			errs = append(errs, fmt.Errorf("-workflow: %w", err))
		}
	}
	if c.HistoryPages < 0 || c.HistoryPages > MaxHistoryPages {
		errs = append(errs, fmt.Errorf("-history-pages %d: want 1 to %d", c.HistoryPages, MaxHistoryPages))
	}
	return errors.Join(errs...)
}

// MaxHistoryPages bounds Config.HistoryPages: 100,000 messages, read at
// every start.
const MaxHistoryPages = 1000

func (c *Config) setDefaults() {
	if c.Channel == "" {
		c.Channel = workflows.DefaultChannel
	}
	if c.AgentClientID == "" {
		c.AgentClientID = workflows.DefaultAgentClientID
	}
	if c.HistoryPages <= 0 {
		c.HistoryPages = 10
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
}

// session is one approver's connection to the approvals channel.
type session struct {
	cfg      Config
	client   *ably.Realtime
	ch       *ably.RealtimeChannel
	clientID string
	roleNow  atomic.Value       // string: the approver's role on the channel, from the latest JWT
	events   chan *ably.Message // live messages after the attach point
	done     chan struct{}
	unsub    func()
	offCh    func() // removes channelChanged
	// catchUp asks keepConnected to read the history again: the channel
	// was attached without continuity (channelChanged).
	catchUp chan struct{}
	pending *Pending
	// clockOffset is Ably's clock minus cfg.Now, in nanoseconds, as
	// measured when the session opened (0 when Ably could not say): a
	// request's expiry and time left are reckoned on Ably's clock, as the
	// agent's are, not on a computer's that may be wrong.
	clockOffset atomic.Int64
	// renewFailed is set while the last token renewal failed for a
	// reason that may pass (keepConnected then connects again).
	renewFailed atomic.Bool
	// renewWarnings counts the failed renewals logged, so that a
	// reconnection that failed on one is not logged again.
	renewWarnings atomic.Int64
	// authErr receives the auth server's refusal of a token renewal
	// (ErrLoginRefused, or ErrNotAToken): the session
	// cannot go on.
	authErr chan error
	// historyCut is how many history messages were read when the read
	// stopped at cfg.HistoryPages with older ones left; 0 when it read
	// back to the channel's start.
	historyCut int
}

// ErrOffline is a decision not sent because the connection to Ably is
// down.
var ErrOffline = errors.New("no connection to Ably")

// ErrUnconfirmed is a decision that Ably did not acknowledge in time (or
// before the command was stopped): it was handed to the connection, so it
// may be on its way, and ably-go sends an unacknowledged message again on
// a resumed connection. It is neither known sent nor known not sent.
var ErrUnconfirmed = errors.New("not confirmed by Ably in time (the connection may be down), and it may still reach the agent")

// Delays between the reconnections after a failed token renewal.
const (
	renewFirstDelay = time.Second
	renewMaxDelay   = 30 * time.Second
)

// renewToken asks for a token once. ably-go calls it, holding its
// connection's locks, when the current token expires; if it fails ably-go
// gives up for good (its connection stays disconnected and nothing
// arrives), so a failure that may pass (the auth server unreachable, a 5xx)
// is noted in renewFailed for keepConnected, which connects again from
// outside. A refusal (the password no longer works) is final: it is passed
// on to authErr.
func (s *session) renewToken(ctx context.Context, issue func(context.Context) (ably.Tokener, error)) (ably.Tokener, error) {
	t, err := issue(ctx)
	if err == nil {
		if s.renewFailed.Swap(false) {
			s.cfg.Log.Info("auth server reachable again: token renewed")
		}
		return t, nil
	}
	if errors.Is(err, ErrLoginRefused) || errors.Is(err, ErrNotAToken) {
		select {
		case s.authErr <- err:
		default:
		}
		return nil, err
	}
	s.renewFailed.Store(true)
	s.renewWarnings.Add(1)
	s.cfg.Log.Warn("cannot renew the Ably token: the auth server is unreachable; connecting again shortly (nothing arrives meanwhile)", "err", err)
	return nil, err
}

// keepConnected connects again, with a doubling delay, while a token
// renewal failed and the connection stays disconnected; once connected
// it attaches the channel again and feeds the history the session missed
// to events (Pending ignores what it has seen). It returns when the
// session closes.
func (s *session) keepConnected() {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	delay, stuck := renewFirstDelay, 0
	for {
		select {
		case <-s.done:
			return
		case <-s.catchUp:
			if err := s.readMissed(); err != nil {
				s.cfg.Log.Warn("channel attached again without continuity; could not read what was published meanwhile", "err", err)
			}
			continue
		case <-tick.C:
		}
		if st := s.client.Connection.State(); !s.renewFailed.Load() || (st != ably.ConnectionStateDisconnected && st != ably.ConnectionStateFailed) {
			stuck = 0
			if !s.renewFailed.Load() {
				delay = renewFirstDelay
			}
			continue
		}
		if stuck++; stuck < 2 {
			continue
		}
		stuck = 0
		warned := s.renewWarnings.Load()
		if err := s.reconnect(); err != nil {
			lv := slog.LevelWarn
			if s.renewWarnings.Load() != warned {
				// The new connection's token request failed and said
				// why; this would say it again.
				lv = slog.LevelDebug
			}
			s.cfg.Log.Log(context.Background(), lv, "still no Ably connection; trying again", "err", err, "in", delay)
			select {
			case <-s.done:
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, renewMaxDelay)
		}
	}
}

// opContext bounds one of keepConnected's operations by cfg.Timeout and
// ends it when the session closes.
func (s *session) opContext() (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// reconnect closes the stuck connection, opens a new one (which asks for a
// token again), attaches the channel and reads what was published
// meanwhile.
func (s *session) reconnect() error {
	ctx, cancel := s.opContext()
	defer cancel()
	if s.client.Connection.State() != ably.ConnectionStateFailed {
		s.client.Close()
		if err := s.waitState(ctx, ably.ConnectionStateClosed); err != nil {
			return err
		}
	}
	select {
	case <-s.done:
		return nil // the session closed meanwhile: open nothing again
	default:
	}
	s.client.Connect()
	if err := s.waitState(ctx, ably.ConnectionStateConnected); err != nil {
		return err
	}
	if err := s.ch.Attach(ctx); err != nil {
		return fmt.Errorf("attach: %w", ablyconn.RedactError(err))
	}
	// The computer's clock may have been set meanwhile (NTP).
	s.measureClock(ctx)
	msgs, _, err := s.readHistory(ctx)
	if err != nil {
		return fmt.Errorf("history: %w", err)
	}
	// Warn, so that it shows: the CLI prints warnings and errors only.
	s.cfg.Log.Warn("Ably connection back; read what was published meanwhile", "messages", len(msgs))
	s.hand(msgs)
	return nil
}

// readMissed reads the history up to the attach point after an attach
// without continuity and hands it to events (Pending ignores what it has
// seen).
func (s *session) readMissed() error {
	ctx, cancel := s.opContext()
	defer cancel()
	msgs, _, err := s.readHistory(ctx)
	if err != nil {
		return err
	}
	s.cfg.Log.Warn("Ably channel attached again without continuity; read what was published meanwhile", "messages", len(msgs))
	s.hand(msgs)
	return nil
}

// hand gives msgs to events, read from the history (Pending ignores what
// it has seen), until the session closes.
func (s *session) hand(msgs []*ably.Message) {
	for _, m := range msgs {
		select {
		case s.events <- m:
		case <-s.done:
			return
		}
	}
}

// readHistory reads the channel's history up to the attach point, at most
// cfg.HistoryPages pages of 100 messages; complete is false when older
// messages were left unread. Its error has credentials blanked: a history
// read fails with a FAILED connection's reason, which may be a dial's
// error whose URL holds the token (ablyconn.RedactError).
func (s *session) readHistory(ctx context.Context) (msgs []*ably.Message, complete bool, err error) {
	msgs, complete, err = ablymsg.HistoryUntilAttach(ctx, s.ch, ablymsg.HistoryRange{PageSize: 100, MaxMessages: s.cfg.HistoryPages * 100})
	return msgs, complete, ablyconn.RedactError(err)
}

// waitState polls the connection until it is in state want, or FAILED,
// or ctx ends.
func (s *session) waitState(ctx context.Context, want ably.ConnectionState) error {
	for {
		switch st := s.client.Connection.State(); st {
		case want:
			return nil
		case ably.ConnectionStateFailed:
			return fmt.Errorf("connection failed: %v", ablyconn.RedactError(s.client.Connection.ErrorReason()))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("connection %s, want %s: %w", s.client.Connection.State(), want, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// historyNote says, when the history read was cut, that requests older
// than it are not known; "" when it read everything.
func (s *session) historyNote() string {
	if s.historyCut == 0 {
		return ""
	}
	return fmt.Sprintf("Read only the newest %d messages of the channel's history, and it has older ones: a request made before them is not known here, even if it still waits (-history-pages reads further).", s.historyCut)
}

// open logs in, attaches to the channel with a live subscription, and
// loads the history before the attach point into the pending set.
func open(ctx context.Context, cfg Config) (*session, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	login := &Login{AuthURL: cfg.AuthURL, User: cfg.User, Password: cfg.Password, HTTP: cfg.HTTP, AllowPlaintext: cfg.AllowPlaintext}
	// Log in once up front so bad credentials give one clear error instead
	// of ably-go retrying forever.
	lctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	first, err := login.Token(lctx)
	cancel()
	if err != nil {
		return nil, err
	}
	s := &session{
		cfg:      cfg,
		clientID: first.ClientID,
		events:   make(chan *ably.Message, 64),
		done:     make(chan struct{}),
		authErr:  make(chan error, 1),
		catchUp:  make(chan struct{}, 1),
	}
	s.pending = NewPending(cfg.AgentClientID, s.now)
	s.setRole(ChannelRole(first.Token, cfg.Channel))
	// Each token renewal re-reads the role: the auth server issues it
	// from the users file as it is then, so a promotion (or demotion)
	// reaches a long-running watch within a token's life.
	issue := login.AuthCallback()
	renew := func(ctx context.Context, p ably.TokenParams) (ably.Tokener, error) {
		t, err := s.renewToken(ctx, func(ctx context.Context) (ably.Tokener, error) { return issue(ctx, p) })
		if td, ok := t.(*ably.TokenDetails); ok && err == nil {
			s.setRole(ChannelRole(td.Token, cfg.Channel))
		}
		return t, err
	}
	opts := append(cfg.Ably.EndpointOptions(),
		ably.WithAuthCallback(renew),
		// renewToken logs why a renewal failed; ably-go's lines about it
		// would repeat that twice.
		ably.WithLogHandler(ablyconn.Logger{Log: cfg.Log, Ctx: ctx, CallbackLogs: true}),
		ably.WithLogLevel(ably.LogWarning),
	)
	opts = append(opts, cfg.AblyOptions...)
	client, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		return nil, fmt.Errorf("ably client: %w", err)
	}
	s.client, s.ch = client, client.Channels.Get(cfg.Channel)
	actx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	s.unsub, err = s.ch.SubscribeAll(actx, func(m *ably.Message) {
		select {
		case s.events <- m:
		case <-s.done:
		}
	})
	if err != nil {
		why := connectionTrouble(client, cfg.Ably)
		if ei := (*ably.ErrorInfo)(nil); errors.As(err, &ei) && ei.Code == ablyCapabilityRefused {
			why += " (your token does not grant this channel: ABLY_CHANNEL must name the auth server's, as `devstack env` prints for the dev stack)"
		}
		s.close()
		// A FAILED connection's reason may be a dial's error, whose URL
		// holds the token (ablyconn.RedactError).
		return nil, fmt.Errorf("attach to channel %q: %w%s", cfg.Channel, ablyconn.RedactError(err), why)
	}
	s.measureClock(actx)
	msgs, complete, err := s.readHistory(actx)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("load pending requests: %w", err)
	}
	if !complete {
		s.historyCut = cfg.HistoryPages * 100
	}
	for _, m := range msgs {
		s.apply(m)
	}
	s.offCh = s.ch.OnAll(s.channelChanged)
	go s.keepConnected()
	return s, nil
}

// channelChanged is the channel's state listener: an attach without
// continuity (Ably could not resume the channel, as after a connection
// lost for longer than Ably keeps its state, or an UPDATE saying messages
// may have been lost) delivers nothing of what was published meanwhile,
// so keepConnected reads it from the history, as the bridge and the web
// inbox do.
func (s *session) channelChanged(c ably.ChannelStateChange) {
	if (c.Event == ably.ChannelEventAttached || c.Event == ably.ChannelEventUpdate) && !c.Resumed {
		select {
		case s.catchUp <- struct{}{}:
		default: // one is asked for already
		}
	}
}

// maxClockSkew is how far this computer's clock may be from Ably's before
// the approver is told.
const maxClockSkew = 30 * time.Second

// now is cfg.Now on Ably's clock.
func (s *session) now() time.Time {
	return s.cfg.Now().Add(time.Duration(s.clockOffset.Load()))
}

// measureClock asks Ably for its time and keeps how far cfg.Now is from
// it, halving the round trip; when this computer's clock is more than
// maxClockSkew off, it says so. When Ably cannot say, the computer's clock
// is used as it is.
func (s *session) measureClock(ctx context.Context) {
	before := s.cfg.Now()
	at, err := s.client.Time(ctx)
	after := s.cfg.Now()
	if err != nil {
		s.cfg.Log.Debug("Ably's time unknown; using this computer's clock", "err", err)
		return
	}
	off := ablyTime(at).Sub(before.Add(after.Sub(before) / 2))
	s.clockOffset.Store(int64(off))
	if off > maxClockSkew || off < -maxClockSkew {
		s.cfg.Log.Warn(clockSkewNote(off))
	}
}

// ablyTime undoes ably-go v1.4.1's reading of Ably's /time (milliseconds
// since the epoch), which puts the milliseconds past the second in the
// nanoseconds field: time.Unix(ms/1000, ms%1000). A time read right (a
// nanoseconds field of at least 1000, or 0) is returned as it is.
func ablyTime(at time.Time) time.Time {
	if ns := at.Nanosecond(); ns > 0 && ns < 1000 {
		return time.Unix(at.Unix(), int64(ns)*int64(time.Millisecond))
	}
	return at
}

// clockSkewNote says how far this computer's clock is from Ably's, given
// off, Ably's clock minus the computer's.
func clockSkewNote(off time.Duration) string {
	way := "behind"
	if off < 0 {
		way, off = "ahead of", -off
	}
	return fmt.Sprintf("this computer's clock is %s %s Ably's; time left and expiry are reckoned on Ably's", off.Round(time.Second), way)
}

func (s *session) close() {
	if s.offCh != nil {
		s.offCh()
	}
	if s.unsub != nil {
		s.unsub()
	}
	close(s.done)
	s.client.Close()
}

// apply feeds a message to the pending set and logs what it ignores: a
// request or resolution that is not the agent's or does not decode as a
// warning, one passed over in the normal course of a call (Event.Routine:
// a history read meets hundreds) at debug level.
func (s *session) apply(m *ably.Message) Event {
	ev := s.pending.Apply(m)
	if ev.Kind == EventIgnored && m != nil && (m.Name == workflows.MsgApprovalRequest || m.Name == workflows.MsgApprovalResolved || m.Name == workflows.MsgApprovalIgnored) {
		level := slog.LevelWarn
		if ev.Routine {
			level = slog.LevelDebug
		}
		s.cfg.Log.Log(context.Background(), level, "ignored message", "name", m.Name, "clientId", m.ClientID, "ablyMessageId", m.ID, "reason", ev.Reason)
	}
	return ev
}

// role is the approver's role on the channel, from the latest token.
func (s *session) role() string {
	r, _ := s.roleNow.Load().(string)
	return r
}

func (s *session) setRole(role string) { s.roleNow.Store(role) }

// roleVerdict says what the CLI can tell of role deciding r, by the
// request's hierarchy (workflows.DefaultRoles when it names none). refuse
// says why it cannot, when the CLI knows for sure: both roles are in the
// hierarchy and role is below the required one, so the workflow would
// record the decision as ignored and keep waiting. warn is the line that
// says the CLI cannot confirm role reaches the required one (no role in the
// token, or one the hierarchy does not name): the decision is still sent,
// and the workflow, which decides, may count it. Both are "" when role
// reaches it.
func roleVerdict(r Request, role string) (refuse, warn string) {
	roles := r.roles()
	switch {
	case workflows.CanApprove(roles, role, r.RequiredRole) == nil:
		return "", ""
	case role != "" && slices.Contains(roles, role) && slices.Contains(roles, r.RequiredRole):
		return fmt.Sprintf("your role %s is below the required %s", termtext.Line(role), termtext.Line(r.RequiredRole)), ""
	}
	if role == "" {
		role = "(none)"
	}
	return "", fmt.Sprintf("warning: cannot confirm that your role %s reaches the required %s; if it does not, the agent will record this and keep waiting", termtext.Line(role), termtext.Line(r.RequiredRole))
}

// respond publishes an approval-response, waits for Ably's ACK, and
// returns its Ably message id, which this session chose (so the agent's
// approval-ignored can name it). A publish not acknowledged in time is
// ErrUnconfirmed, with the message id: it may still go out. The shape is the guide's, plus reason,
// the digest of the arguments the approver was shown, edited arguments (an
// approval with edits), and the workflowId header, when known.
func (s *session) respond(ctx context.Context, toolCallID, workflowID, digest, decision, reason, arguments string) (string, error) {
	data := workflows.ApprovalResponseData{Decision: decision, Reason: reason, ArgumentsDigest: digest, Arguments: arguments}
	headers := map[string]any{workflows.HeaderToolCallID: toolCallID}
	if workflowID != "" {
		headers[workflows.HeaderWorkflowID] = workflowID
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", fmt.Errorf("message id: %w", err)
	}
	m := &ably.Message{ID: "cli-" + hex.EncodeToString(id) + ":0", Name: workflows.MsgApprovalResponse, Data: data, Extras: map[string]any{workflows.ExtrasHeaders: headers}}
	// Offline, ably-go would queue the decision and send it whenever the
	// connection comes back, long after this command said it failed.
	if st := s.client.Connection.State(); st != ably.ConnectionStateConnected {
		return "", fmt.Errorf("%w (connection %s): the decision was not sent; send it again once connected", ErrOffline, st)
	}
	pctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := s.ch.PublishMultiple(pctx, []*ably.Message{m}); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			// ably-go stopped waiting for the ACK, not sending.
			return m.ID, fmt.Errorf("publish decision: %w (%w)", ErrUnconfirmed, ablyconn.RedactError(err))
		}
		return "", fmt.Errorf("publish decision: %w", ablyconn.RedactError(err))
	}
	return m.ID, nil
}

// ablyCapabilityRefused is Ably's error code for an operation the
// token's capability does not grant (40160).
const ablyCapabilityRefused ably.ErrorCode = 40160

// connectionTrouble says why an attach failed when the connection itself
// did not come up (the server is down, the endpoint wrong): the attach's
// own error is then only a deadline. Empty when connected. Credentials in
// ably-go's error are blanked.
func connectionTrouble(client *ably.Realtime, c ablyconn.Config) string {
	state := client.Connection.State()
	if state == ably.ConnectionStateConnected {
		return ""
	}
	where := "Ably"
	if c.Endpoint != "" {
		where = "the Ably endpoint " + c.Endpoint + " (ABLY_ENDPOINT)"
	}
	msg := fmt.Sprintf(" (no connection to %s: %s", where, state)
	if reason := client.Connection.ErrorReason(); reason != nil {
		msg += ": " + ablyconn.Redact(reason.Error())
	}
	return msg + ")"
}
