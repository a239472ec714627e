package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ably/ably-go/ably"
	"go.opentelemetry.io/otel/metric"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/internal/ablymsg"
	"github.com/hitl/durable-approvals/internal/recent"
	"github.com/hitl/durable-approvals/internal/signing"
	"github.com/hitl/durable-approvals/internal/temporalconn"
	"github.com/hitl/durable-approvals/workflows"
)

// Config is everything Run needs.
type Config struct {
	Ably     ablyconn.Config // must hold the API key
	Channel  string          // default workflows.DefaultChannel
	ClientID string          // default workflows.DefaultBridgeClientID
	Temporal Temporal        // a client.Client
	Log      *slog.Logger    // default slog.Default()

	// Signer signs every decision the bridge forwards. Required.
	Signer *signing.Signer
	// Status, when set, reports the Ably connection and channel while Run
	// runs (for the health endpoint).
	Status *Status
	// HistoryPageSize is the history page limit of the catch-up. Default
	// 1000.
	HistoryPageSize int
	// GapReadMax bounds the messages one replay of dropped live responses
	// reads (replayGap; default DefaultGapReadMax); the next replay goes
	// on from the last one read.
	GapReadMax int
	// MaxCatchUp bounds the messages one catch-up reads (default
	// 1,000,000); the catch-up reads back to the oldest pending run's
	// start, so this is only a guard against a runaway channel.
	MaxCatchUp int
	// Retry bounds retries of one Temporal call; reconnects to Ably use
	// the same cap.
	Retry temporalconn.Backoff
	// RetryEvery is how often messages whose delivery failed for a
	// temporary reason are retried, and how often the connection and
	// channel state are checked. Default 10s.
	RetryEvery time.Duration
	// MaxParked bounds the messages kept for a later retry. Default 1000.
	// When it is full a new message that needs a retry is dropped (logged
	// as an error, not remembered as handled: the catch-up after the next
	// reattach or restart replays it). Once it is half full, each
	// publisher clientId may hold at most a tenth of it (at least
	// minParkShare), so that one approver's flood cannot crowd out
	// another's decisions.
	MaxParked int
	// PreLimit bounds the messages handled per publisher clientId before
	// any Temporal call (default 600 a minute, burst 300); beyond it they
	// are parked and retried later.
	PreLimit RateLimit
	// RateLimit bounds the decisions forwarded per approver clientId
	// (default 120 a minute, burst 100); beyond it they are parked and
	// retried later, never dropped.
	RateLimit RateLimit
	// AgentClientID is the agent's Ably clientId (default
	// workflows.DefaultAgentClientID): the bridge learns the open approval
	// requests from its messages.
	AgentClientID string
	// Concurrency is how many approval-responses are handled at once
	// (default 32); one approver's decisions of one tool call are handled
	// in order.
	Concurrency int
	// AblyOptions are appended to the client options (tests).
	AblyOptions []ably.ClientOption
	// Meter makes the bridge's counters (metrics.go); nil counts nothing.
	Meter metric.Meter
}

func (c *Config) setDefaults() {
	if c.Channel == "" {
		c.Channel = workflows.DefaultChannel
	}
	if c.ClientID == "" {
		c.ClientID = workflows.DefaultBridgeClientID
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.HistoryPageSize <= 0 {
		c.HistoryPageSize = 1000
	}
	if c.GapReadMax <= 0 {
		c.GapReadMax = DefaultGapReadMax
	}
	if c.MaxCatchUp <= 0 {
		c.MaxCatchUp = 1_000_000
	}
	if c.RetryEvery <= 0 {
		c.RetryEvery = 10 * time.Second
	}
	if c.MaxParked <= 0 {
		c.MaxParked = 1000
	}
	if c.AgentClientID == "" {
		c.AgentClientID = workflows.DefaultAgentClientID
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
}

// Validate checks the configuration without contacting anything.
func (c Config) Validate() error {
	var errs []error
	if err := c.Ably.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Ably.APIKey == "" {
		errs = append(errs, fmt.Errorf("%s is required for the bridge", ablyconn.EnvAPIKey))
	}
	if c.Temporal == nil {
		errs = append(errs, errors.New("bridge: no Temporal client"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("bridge: no decision signing key (HITL_DECISION_SIGNING_KEY)"))
	}
	if strings.TrimSpace(c.Channel) != c.Channel {
		errs = append(errs, fmt.Errorf("channel %q has surrounding spaces", c.Channel))
	}
	if c.HistoryPageSize > 1000 {
		errs = append(errs, fmt.Errorf("history page size %d > 1000", c.HistoryPageSize))
	}
	return errors.Join(errs...)
}

// Run subscribes to approval-response messages and forwards them until ctx
// is cancelled; it then returns nil. It returns an error only for a
// configuration that can never work.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Least privilege: the bridge only reads the approvals channel.
	capability, err := ablyconn.ChannelCapability(cfg.Channel, "subscribe", "history")
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	opts, err := cfg.Ably.TrustedOptions(cfg.ClientID, capability)
	if err != nil {
		return err
	}
	opts = append(opts, ably.WithLogHandler(ablyconn.Logger{Log: cfg.Log, Ctx: ctx}), ably.WithLogLevel(ably.LogWarning))
	opts = append(opts, cfg.AblyOptions...)
	client, err := ablyconn.NewRealtime(opts...)
	if err != nil {
		return fmt.Errorf("ably client: %w", err)
	}
	defer client.Close()

	reqs := newRequests(cfg.AgentClientID, maxKnownRequests)
	b := &runner{
		cfg:    cfg,
		log:    cfg.Log.With("channel", cfg.Channel),
		client: client,
		ch:     client.Channels.Get(cfg.Channel),
		handler: &Handler{Temporal: cfg.Temporal, Log: cfg.Log, Retry: cfg.Retry, PreLimit: cfg.PreLimit, RateLimit: cfg.RateLimit,
			Signer: cfg.Signer, requests: reqs, Meter: cfg.Meter},
		requests: reqs,
		live:     newLiveQueue(),
		catchUp:  make(chan struct{}, 1),
		recent:   recent.NewSet[string](10000),
		fixState: make(chan struct{}, 1),
	}
	if cfg.Status != nil {
		cfg.Status.set(client, b.ch)
	}
	return b.run(ctx)
}

// maxKnownRequests bounds the approval requests the bridge remembers from
// the agent's messages.
const maxKnownRequests = 100_000

// shardBuffer is how many responses wait for one handler goroutine.
const shardBuffer = 256

type runner struct {
	cfg     Config
	log     *slog.Logger
	client  *ably.Realtime
	ch      *ably.RealtimeChannel
	handler *Handler

	requests *requests

	live     *liveQueue
	catchUp  chan struct{} // coalesced: "replay history up to the attach point"
	fixState chan struct{} // coalesced: "check connection and channel state"
	failures int           // consecutive reconnect/attach failures, for the backoff
	shards   []chan *ably.Message

	mu       sync.Mutex          // guards parked, parkedBy, recent and gapFrom: shards handle at once
	parked   []*ably.Message     // waiting for a retry
	parkedBy map[string]int      // how many of parked each publisher clientId has
	recent   *recent.Set[string] // recentKey of messages already handled by this process
	gapFrom  time.Time           // publish time of the first live response dropped for want of room since the last replayGap; zero when none
	inShards atomic.Int64        // live responses handed to a shard and not yet handled
}

// channelChanged is the channel's state listener: an attach without
// continuity (a first attach, a re-attach, or Ably's UPDATE saying
// messages may have been lost on a channel that stayed attached) asks for
// a catch-up; a lost channel asks for repair.
func (b *runner) channelChanged(c ably.ChannelStateChange) {
	switch {
	case (c.Event == ably.ChannelEventAttached || c.Event == ably.ChannelEventUpdate) && !c.Resumed:
		b.log.Info("channel attached without continuity; catching up", "event", c.Event.String())
		notify(b.catchUp)
	case c.Current == ably.ChannelStateFailed || c.Current == ably.ChannelStateDetached || c.Current == ably.ChannelStateSuspended:
		b.log.Warn("channel lost", "state", c.Current.String(), "reason", errString(c.Reason))
		notify(b.fixState)
	}
}

func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (b *runner) run(ctx context.Context) error {
	offCh := b.ch.OnAll(b.channelChanged)
	defer offCh()
	offConn := b.client.Connection.OnAll(func(c ably.ConnectionStateChange) {
		if c.Current == ably.ConnectionStateFailed || c.Current == ably.ConnectionStateSuspended || c.Current == ably.ConnectionStateDisconnected {
			b.log.Warn("ably connection lost", "state", c.Current.String(), "reason", errString(c.Reason))
		}
		if c.Current == ably.ConnectionStateFailed {
			notify(b.fixState)
		}
		if c.Current == ably.ConnectionStateConnected {
			b.log.Info("ably connected")
		}
	})
	defer offConn()

	// Responses are handled by cfg.Concurrency goroutines; one approver's
	// of one tool call always by the same one, in order.
	var wg sync.WaitGroup
	for range b.cfg.Concurrency {
		shard := make(chan *ably.Message, shardBuffer)
		b.shards = append(b.shards, shard)
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case m := <-shard:
					b.handle(ctx, m)
					if ctx.Err() != nil {
						// Cut short by the stop: it stays counted
						// among the responses logUnforwarded reports.
						return
					}
					b.inShards.Add(-1)
				}
			}
		})
	}
	defer wg.Wait()

	// Subscribe registers the listener before it attaches, so nothing that
	// arrives after the attach point is missed; the catch-up covers what
	// came before it.
	var unsub func()
	for attempt := 0; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		u, err := b.ch.SubscribeAll(sctx, b.enqueue)
		cancel()
		if err == nil {
			unsub = u
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		d := b.cfg.Retry.Delay(attempt)
		b.log.Warn("subscribe failed, retrying", "err", ablyconn.RedactError(err), "in", d)
		b.reconnectIfFailed()
		if sleep(ctx, d) != nil {
			return nil
		}
	}
	defer unsub()
	b.log.Info("bridge subscribed", "clientId", b.cfg.ClientID)

	tick := time.NewTicker(b.cfg.RetryEvery)
	defer tick.Stop()
	var retryCatchUp <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			b.logUnforwarded()
			return nil
		case m := <-b.live.ch:
			b.live.taken(m)
			b.dispatch(ctx, m)
		case <-b.catchUp:
			if err := b.replay(ctx); err != nil && ctx.Err() == nil {
				d := b.cfg.Retry.Delay(b.failures)
				b.failures++
				b.log.Warn("catch-up failed, retrying", "err", ablyconn.RedactError(err), "in", d)
				retryCatchUp = time.After(d)
			} else {
				b.failures = 0
			}
		case <-retryCatchUp:
			retryCatchUp = nil
			notify(b.catchUp)
		case <-b.fixState:
			b.repair(ctx)
		case <-tick.C:
			b.repair(ctx)
			b.retryParked(ctx)
			b.replayGap(ctx)
		}
	}
}

// enqueue is the subscription callback. The agent's approval-requests and
// approval-resolved messages update what the bridge knows (requests);
// approval-responses go to the handling loop through b.live. It runs on
// ably-go's goroutine and must never block it, so when the handling loop
// is liveBuffer messages behind, or half that and the publisher has its
// share waiting (one approver's flood), the live response is dropped with
// an error log and not remembered as handled. One dropped for want of room
// is replayed from the channel's history once the bridge has caught up
// (replayGap); one dropped for its publisher's share, by the history
// catch-up that runs after every attach without continuity (and after a
// restart). The workflow deduplicates by Ably message id.
func (b *runner) enqueue(m *ably.Message) {
	if m == nil {
		return
	}
	switch m.Name {
	case workflows.MsgApprovalRequest, workflows.MsgApprovalResolved:
		b.requests.apply(m)
		return
	case workflows.MsgApprovalResponse:
	default:
		return
	}
	why := b.live.offer(m)
	if why == "" {
		return
	}
	id, client := truncate(m.ID, workflows.MaxMessageIDLen), truncate(m.ClientID, workflows.MaxClientIDLen)
	if why == liveShared {
		b.log.Error("bridge busy and this approver holds its share of the live buffer: live approval-response dropped; the catch-up after the next reattach or restart replays it",
			"ablyMessageId", id, "clientId", client, "buffer", liveBuffer)
		b.handler.count().countDropped(DropReasonBufferShareFull)
		return
	}
	b.log.Error("bridge busy: live approval-response dropped; it is replayed from the channel's history once the bridge has caught up", "ablyMessageId", id, "clientId", client, "buffer", liveBuffer)
	b.handler.count().countDropped(DropReasonBufferFull)
	b.noteGap(m.Timestamp)
}

// dispatch hands a response to the goroutine of its shard, waiting while
// that goroutine is shardBuffer messages behind. The shard is chosen by
// publisher and tool call: one approver's decisions of one call stay in
// order (the first one counts), and one approver working through a queue
// of calls is not held to one goroutine.
func (b *runner) dispatch(ctx context.Context, m *ably.Message) {
	if m == nil {
		return
	}
	h := fnv.New32a()
	h.Write([]byte(m.ClientID))
	h.Write([]byte{0})
	headers, _ := ablymsg.AsMap(m.Extras[workflows.ExtrasHeaders])
	if id, ok := headers[workflows.HeaderToolCallID].(string); ok {
		h.Write([]byte(id))
	}
	b.inShards.Add(1)
	select {
	case b.shards[h.Sum32()%uint32(len(b.shards))] <- m:
	case <-ctx.Done():
		b.inShards.Add(-1)
	}
}

// handle forwards one message unless this process already did. It parks a
// message that must be retried (temporary failure or rate limit), and
// reports whether it parked it for a temporary failure, the kind that
// ends a retry pass. It is safe for concurrent use.
func (b *runner) handle(ctx context.Context, m *ably.Message) bool {
	if m == nil {
		return false
	}
	key, keyed := recentKey(m)
	if keyed && b.seen(key) {
		return false
	}
	if err := b.handler.Handle(ctx, m); err != nil {
		if ctx.Err() != nil {
			return false
		}
		b.park(m, err)
		return !errors.Is(err, ErrRateLimited)
	}
	if keyed {
		b.mu.Lock()
		b.recent.Add(key)
		b.mu.Unlock()
	}
	return false
}

// seen reports whether this process already handled the message of key.
func (b *runner) seen(key string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.recent.Has(key)
}

// recentKey is the key of m in the set of handled messages: the publisher's
// clientId and the message id. Ably enforces the clientId, so one client
// cannot make the bridge skip another client's message by reusing its id.
// Messages without both are not remembered (the decoder drops them).
func recentKey(m *ably.Message) (string, bool) {
	if m.ID == "" || m.ClientID == "" {
		return "", false
	}
	return m.ClientID + "\x00" + m.ID, true
}

// minParkShare is the least share of the retry queue each publisher
// clientId has (parkShare).
const minParkShare = 5

// parkShare is how many messages one publisher clientId may keep in the
// retry queue once it is half full: a tenth of it, at least minParkShare.
func (b *runner) parkShare() int {
	return max(b.cfg.MaxParked/10, min(minParkShare, b.cfg.MaxParked))
}

// park keeps m for a later retry. When the queue is full, or half full and
// m's publisher already holds its share (parkShare), m is dropped, loudly;
// it was not remembered as handled, so the catch-up after the next
// reattach or restart replays it. An approver who floods the bridge thus
// loses its own messages, not everyone's.
func (b *runner) park(m *ably.Message, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.parked) >= b.cfg.MaxParked {
		b.log.Error("retry queue full: approval-response dropped; the catch-up after the next reattach or restart replays it",
			"ablyMessageId", m.ID, "clientId", m.ClientID, "err", err, "parked", len(b.parked))
		b.handler.count().countDropped(DropReasonQueueFull)
		return
	}
	if n := b.parkedBy[m.ClientID]; n >= b.parkShare() && 2*len(b.parked) >= b.cfg.MaxParked {
		b.log.Error("retry queue half full and this approver holds its share of it: approval-response dropped; the catch-up after the next reattach or restart replays it",
			"ablyMessageId", m.ID, "clientId", m.ClientID, "err", err, "parked", len(b.parked), "parkedOfClient", n, "share", b.parkShare())
		b.handler.count().countDropped(DropReasonQueueShareFull)
		return
	}
	b.addParked(m)
	b.log.Warn("approval-response parked for retry", "ablyMessageId", m.ID, "err", err, "parked", len(b.parked))
	b.handler.count().countParked(parkReason(err))
}

// addParked appends msgs to the retry queue. The caller holds b.mu.
func (b *runner) addParked(msgs ...*ably.Message) {
	if b.parkedBy == nil {
		b.parkedBy = map[string]int{}
	}
	for _, m := range msgs {
		b.parked = append(b.parked, m)
		b.parkedBy[m.ClientID]++
	}
}

func (b *runner) retryParked(ctx context.Context) {
	b.mu.Lock()
	todo := b.parked
	b.parked, b.parkedBy = nil, nil
	b.mu.Unlock()
	repark := func(rest []*ably.Message) {
		b.mu.Lock()
		b.addParked(rest...)
		b.mu.Unlock()
	}
	for i, m := range todo {
		if ctx.Err() != nil {
			repark(todo[i:])
			return
		}
		// The first message that fails again for a temporary reason ends
		// the pass: the cause (Temporal or the worker down) is shared, and
		// each failure can cost a full query timeout. A rate-limited
		// message is parked again (by handle) and the pass goes on.
		if b.handle(ctx, m) {
			repark(todo[i+1:])
			return
		}
	}
}

// logUnforwarded says, as the bridge stops, how many approval-responses
// it had not forwarded: handed to a shard (one may be mid-signal), parked
// for a retry, or waiting in the live queue. Nothing is lost: they stay on
// the channel, and another bridge, or this one's catch-up at its next
// start, forwards them.
func (b *runner) logUnforwarded() {
	shards, parked, queued := b.inShards.Load(), b.parkedLen(), len(b.live.ch)
	if shards+int64(parked+queued) == 0 {
		return
	}
	b.log.Info("bridge stopping with approval-responses not forwarded yet: another bridge, or this one's catch-up at its next start, forwards them from the channel's history",
		"handling", shards, "parked", parked, "queued", queued)
}

// parkedLen is how many messages wait for a retry.
func (b *runner) parkedLen() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.parked)
}

// catchUpMargin is read before the oldest pending run's start, for clock
// differences between Temporal and Ably.
const catchUpMargin = time.Minute

// replay forwards the approval-responses published before the attach
// point, oldest first: every one published since the oldest running
// workflow that waits for a human started (a decision for it cannot be
// older), however many other messages came since. With no run waiting
// there is nothing to catch up.
func (b *runner) replay(ctx context.Context) error {
	since, waiting, err := oldestPendingStart(ctx, b.cfg.Temporal)
	if err != nil {
		return err
	}
	if !waiting {
		b.log.Info("catch-up done: no run waits for a human")
		return nil
	}
	keep := newCatchUpFilter(b.cfg.AgentClientID, maxCatchUpPerApprover, true)
	_, complete, err := ablymsg.HistoryUntilAttach(ctx, b.ch, ablymsg.HistoryRange{
		Since: since.Add(-catchUpMargin), PageSize: b.cfg.HistoryPageSize, MaxMessages: b.cfg.MaxCatchUp,
		Keep: keep.collect,
	})
	if err != nil {
		return err
	}
	if !complete {
		keep.cut()
	}
	msgs := keep.messages()
	if !complete {
		b.log.Error("catch-up cut: more messages since the oldest pending run than the bridge reads at once",
			"since", since, "kept", len(msgs), "max", b.cfg.MaxCatchUp)
	}
	b.logCapped(keep, "catch-up: an approver published more approval-responses since the oldest pending run than the bridge replays per approver; their oldest ones are not replayed")
	n := b.replayMessages(ctx, msgs)
	b.log.Info("catch-up done", "responses", n, "messages", len(msgs), "since", since)
	return nil
}

// logCapped logs, as an error saying what, each approver whose
// approval-responses the history read f filtered passed its bound.
func (b *runner) logCapped(f *catchUpFilter, what string) {
	for _, who := range f.capped() {
		b.log.Error(what, "clientId", who, "max", maxCatchUpPerApprover)
	}
}

// replayMessages applies the agent's requests and resolutions among msgs
// (oldest first) before it handles any response, and returns how many
// responses it handled. A response whose call the agent announced resolved
// later in the history is then dropped here, not signalled to a run that
// has completed or decided it (each such signal failed, or was recorded
// in the run as ignored, at every restart of the bridge); and one that came
// before its request is routed by it.
func (b *runner) replayMessages(ctx context.Context, msgs []*ably.Message) int {
	for _, m := range msgs {
		if m.Name == workflows.MsgApprovalRequest || m.Name == workflows.MsgApprovalResolved {
			b.requests.apply(m)
		}
	}
	n := 0
	for _, m := range msgs {
		if m.Name == workflows.MsgApprovalResponse {
			n++
			b.handle(ctx, m)
		}
	}
	return n
}

// maxPendingRunPages bounds the visibility pages oldestPendingStart reads
// (pendingRunPageSize runs each).
const (
	maxPendingRunPages = 1000
	pendingRunPageSize = 1000
)

// oldestPendingStart returns the start time of the oldest running workflow
// with a pending approval, from visibility; waiting is false when none
// waits.
func oldestPendingStart(ctx context.Context, tc Temporal) (oldest time.Time, waiting bool, err error) {
	var token []byte
	for range maxPendingRunPages {
		lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		resp, err := tc.ListWorkflow(lctx, &workflowservice.ListWorkflowExecutionsRequest{
			Query: workflows.PendingRunsQuery(), PageSize: pendingRunPageSize, NextPageToken: token,
		})
		cancel()
		if err != nil {
			return time.Time{}, false, fmt.Errorf("list runs waiting for a human: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			st := e.GetStartTime().AsTime()
			if !waiting || st.Before(oldest) {
				oldest, waiting = st, true
			}
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return oldest, waiting, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("list runs waiting for a human: more than %d pages", maxPendingRunPages)
}

// repair reconnects a failed connection and re-attaches a lost channel.
// ably-go itself retries a disconnected or suspended connection, and
// re-attaches the channel when it reconnects; but a channel whose attach
// timed out while the connection stayed up is SUSPENDED until something
// attaches it again, so that is repair's too.
func (b *runner) repair(ctx context.Context) {
	b.reconnectIfFailed()
	switch b.ch.State() {
	case ably.ChannelStateFailed, ably.ChannelStateDetached, ably.ChannelStateSuspended:
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := b.ch.Attach(actx)
		cancel()
		if err != nil {
			b.failures++
			b.log.Warn("re-attach failed", "err", ablyconn.RedactError(err))
			return
		}
		b.failures = 0
	}
}

func (b *runner) reconnectIfFailed() {
	switch b.client.Connection.State() {
	case ably.ConnectionStateFailed, ably.ConnectionStateClosed:
		b.log.Info("reconnecting to ably")
		b.client.Connect()
	}
}

func errString(e *ably.ErrorInfo) string {
	if e == nil {
		return ""
	}
	// A failed dial's error holds the URL, and the URL the bridge's token;
	// so may an attach's or a history read's error, which is a FAILED
	// connection's reason (those are logged through ablyconn.RedactError).
	return ablyconn.Redact(e.Error())
}
