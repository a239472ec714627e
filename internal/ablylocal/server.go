package ablylocal

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Server.
type Config struct {
	// Keys are the accepted API keys; at least one is required.
	Keys []Key
	// Retention bounds how long messages are kept for history and rewind
	// (default 24h).
	Retention time.Duration
	// ResumeWindow is how long a message may be replayed to a re-attach
	// with a channelSerial (RTL4c1; default 2 min, at most Retention): Ably
	// keeps about two minutes of a channel's messages for that, far less
	// than the history persistence keeps, and reattaches a serial older
	// than that from the earliest point it still has, not RESUMED, with
	// 90003 (see attach).
	ResumeWindow time.Duration
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// MaxIdleInterval, HeartbeatInterval and ConnectionStateTTL default to
	// 15s, 5s and 120s.
	MaxIdleInterval, HeartbeatInterval, ConnectionStateTTL time.Duration
	// TokenRenewalLead is how long before a token's exp the server asks the
	// client to re-authenticate with an AUTH frame (default 30s; negative
	// disables the request, so the connection is DISCONNECTED at exp).
	TokenRenewalLead time.Duration
	// MaxMessagesPerChannel caps retained messages per channel (default
	// 10000).
	MaxMessagesPerChannel int
	// PassClientDeltaFields lets a published message keep an
	// extras.delta or a vcdiff step in its encoding, and passes them to
	// subscribers as they are. By default (false) such a message is
	// refused, 40032/400 and 40013/400: the server makes no deltas, and on
	// Ably these fields are Ably's to set, while ably-js acts on them (a
	// delta it cannot apply makes it re-attach from the message before,
	// which a server that sends the message again turns into a loop; a
	// vcdiff it cannot decode fails the channel). Whether Ably passes a
	// client's through is not known offline, so the web inbox's browser
	// test turns this on to play a server that does. Nothing else should.
	PassClientDeltaFields bool
}

// defaultResumeWindow is how long Ably keeps a channel's messages for a
// re-attach to replay ("around two minutes", as its connection state).
const defaultResumeWindow = 2 * time.Minute

func (c Config) withDefaults() Config {
	if c.Retention <= 0 {
		c.Retention = 24 * time.Hour
	}
	if c.ResumeWindow <= 0 {
		c.ResumeWindow = defaultResumeWindow
	}
	c.ResumeWindow = min(c.ResumeWindow, c.Retention)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxIdleInterval <= 0 {
		c.MaxIdleInterval = 15 * time.Second
	}
	if c.HeartbeatInterval <= 0 {
		c.HeartbeatInterval = 5 * time.Second
	}
	if c.ConnectionStateTTL <= 0 {
		c.ConnectionStateTTL = 120 * time.Second
	}
	if c.TokenRenewalLead == 0 {
		c.TokenRenewalLead = 30 * time.Second
	}
	if c.MaxMessagesPerChannel <= 0 {
		c.MaxMessagesPerChannel = defaultChannelCap
	}
	return c
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Keys) == 0 {
		return errors.New("ablylocal: at least one key is required")
	}
	seen := map[string]bool{}
	for _, k := range c.Keys {
		if _, err := ParseKey(k.Name + ":" + k.Secret); err != nil {
			return fmt.Errorf("ablylocal: key %q: %w", k.Name, err)
		}
		if seen[k.Name] {
			return fmt.Errorf("ablylocal: duplicate key %q", k.Name)
		}
		seen[k.Name] = true
	}
	return nil
}

// Server is a running local Ably-protocol server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	keys     keyring
	codecs   codecs
	epoch    int64
	serverID string
	handler  http.Handler
	now      func() time.Time

	ln   net.Listener
	http *http.Server

	ctx          context.Context
	cancel       context.CancelFunc
	stopOnCancel func() bool
	wg           sync.WaitGroup

	mu         sync.Mutex
	closed     bool
	channels   map[string]*channel
	conns      map[string]*connState // by connection key
	transports map[*transport]struct{}
	// connectHook, when set by tests, runs before a WebSocket is served.
	connectHook func(url.Values)

	// nonces are the signed TokenRequests' nonces seen, by key name and
	// nonce, with when each may be forgotten (ms).
	nonceMu sync.Mutex
	nonces  map[string]int64
}

// newServer builds a Server without a listener.
func newServer(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	kr, err := newKeyring(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("ablylocal: %w", err)
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		keys:       kr,
		codecs:     newCodecs(),
		epoch:      time.Now().UnixMilli(),
		serverID:   "ablylocal-" + randomID(6),
		now:        time.Now,
		channels:   map[string]*channel{},
		conns:      map[string]*connState{},
		transports: map[*transport]struct{}{},
		nonces:     map[string]int64{},
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.handler = withCORS(s.routes())
	return s, nil
}

// Listen binds addr (e.g. "127.0.0.1:0") and serves in the background
// until Close or until ctx is done.
func Listen(ctx context.Context, addr string, cfg Config) (*Server, error) {
	s, err := newServer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("ablylocal: listen %s: %w", addr, err)
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("ably server stopped", "err", err)
		}
	}()
	go func() {
		defer s.wg.Done()
		s.janitor()
	}()
	s.stopOnCancel = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.log.Info("ably server listening", "addr", s.Addr())
	return s, nil
}

// Addr returns the bound "127.0.0.1:PORT".
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Handler returns the HTTP handler serving WebSocket and REST.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops the server, closes all connections and waits for its
// goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	ts := make([]*transport, 0, len(s.transports))
	for t := range s.transports {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	if s.stopOnCancel != nil {
		s.stopOnCancel()
	}
	s.cancel()
	var err error
	if s.http != nil {
		err = s.http.Close()
	}
	for _, t := range ts {
		t.stop()
	}
	s.wg.Wait()
	return err
}

// DropConnections abruptly closes every WebSocket without a close frame,
// keeping connection state so clients can resume, as a network failure
// would. It is meant for tests.
func (s *Server) DropConnections() {
	s.mu.Lock()
	ts := make([]*transport, 0, len(s.transports))
	for t := range s.transports {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	for _, t := range ts {
		t.stop()
	}
}

// setConnectHook installs a test hook run before each WebSocket is served.
func (s *Server) setConnectHook(h func(url.Values)) {
	s.mu.Lock()
	s.connectHook = h
	s.mu.Unlock()
}

func (s *Server) runConnectHook(q url.Values) {
	s.mu.Lock()
	h := s.connectHook
	s.mu.Unlock()
	if h != nil {
		h(q)
	}
}

// track registers a request goroutine; false once the server is closing.
func (s *Server) track() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// channel returns the named channel, creating it.
func (s *Server) channel(name string) *channel {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch, ok := s.channels[name]
	if !ok {
		ch = &channel{name: name, ids: map[string]idRecord{}, subs: map[*attachment]struct{}{}}
		s.channels[name] = ch
	}
	return ch
}

// janitor prunes retention, idempotency records, empty channels and
// expired connection state.
func (s *Server) janitor() {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			s.sweep()
		}
	}
}

func (s *Server) sweep() {
	now := s.now()
	s.mu.Lock()
	chans := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		chans = append(chans, ch)
	}
	for key, cs := range s.conns {
		if cs.expired(now, s.cfg.ConnectionStateTTL) {
			delete(s.conns, key)
		}
	}
	s.mu.Unlock()
	s.nonceMu.Lock()
	s.pruneNoncesLocked(now.UnixMilli())
	s.nonceMu.Unlock()
	for _, ch := range chans {
		ch.mu.Lock()
		ch.pruneLocked(now.UnixMilli(), s.cfg.Retention, s.cfg.MaxMessagesPerChannel)
		empty := len(ch.msgs) == 0 && len(ch.subs) == 0 && len(ch.ids) == 0
		ch.mu.Unlock()
		if empty {
			s.mu.Lock()
			ch.mu.Lock()
			if len(ch.msgs) == 0 && len(ch.subs) == 0 && len(ch.ids) == 0 && s.channels[ch.name] == ch {
				delete(s.channels, ch.name)
			}
			ch.mu.Unlock()
			s.mu.Unlock()
		}
	}
}

// publisher describes who publishes, for stamping and fan-out.
type publisher struct {
	p      *principal
	connID string // empty for REST
	idBase string // "<connId>:<msgSerial>" or a random REST base
}

// publish applies Ably's publish rules (capability, clientId, size,
// userClaim), stores the messages and fans them out. It returns one serial
// per input message.
func (s *Server) publish(pub publisher, channelName string, msgs []*message) ([]string, *errorInfo) {
	base, _, err := parseChannelName(channelName)
	if err != nil {
		return nil, errBadRequest("%v", err)
	}
	if !pub.p.grant.allows(base, opPublish) {
		return nil, errCapability("action not permitted: publish on channel %q", base)
	}
	if len(msgs) > maxMessagesPerPublish {
		return nil, newError(codeMessageTooLarge, statusRequestTooLarge, "too many messages in one publish (%d > %d)", len(msgs), maxMessagesPerPublish)
	}
	// A token that expired while its connection's writer was busy must not
	// stamp its claims on one more message.
	if exp := pub.p.expires; !exp.IsZero() && !s.now().Before(exp) {
		return nil, newError(codeTokenExpired, statusUnauthorized, "token expired")
	}
	if e := checkAtomicIDs(msgs); e != nil {
		return nil, e
	}
	now := s.now().UnixMilli()
	out := make([]*message, len(msgs))
	explicit := make([]bool, len(msgs))
	total := 0
	for i, m := range msgs {
		if m == nil {
			return nil, errBadRequest("message %d is null", i)
		}
		if e := refuseMessageAction(m.Action); e != nil {
			return nil, e
		}
		if !s.cfg.PassClientDeltaFields {
			if e := refuseDeltaFields(i, m); e != nil {
				return nil, e
			}
		}
		cp := *m
		switch pc := pub.p.clientID; {
		case pc == "*":
			if cp.ClientID == "*" {
				return nil, newError(codeInvalidClientID, statusBadRequest, "clientId %q is not allowed on a message", "*")
			}
		case pc == "":
			if cp.ClientID != "" {
				return nil, newError(codeInvalidClientID, statusBadRequest, "mismatched clientId: connection has no clientId, message has %q", cp.ClientID)
			}
		default:
			if cp.ClientID == "" {
				cp.ClientID = pc
			} else if cp.ClientID != pc {
				return nil, newError(codeInvalidClientID, statusBadRequest, "mismatched clientId: connection is %q, message has %q", pc, cp.ClientID)
			}
		}
		cp.Extras = stampUserClaim(cp.Extras, pub.p.claims, base)
		explicit[i] = cp.ID != ""
		if len(cp.ID) > maxMessageIDLen {
			// Ably documents no limit; ours keeps ids out of reach of
			// abuse, since ids are not counted in the message size.
			return nil, errBadRequest("message %d: id longer than %d bytes", i, maxMessageIDLen)
		}
		if !explicit[i] {
			cp.ID = fmt.Sprintf("%s:%d", pub.idBase, i)
		}
		cp.ConnectionID = pub.connID
		cp.Timestamp = now
		cp.Serial = ""
		cp.Action = 0
		n, err := cp.size()
		if err != nil {
			return nil, errBadRequest("message %d: %v", i, err)
		}
		total += n
		out[i] = &cp
	}
	if total > defaultMaxMessageSize {
		return nil, newError(codeMessageTooLarge, statusRequestTooLarge, "maximum message length exceeded (%d > %d bytes)", total, defaultMaxMessageSize)
	}
	ch := s.channel(base)
	return s.store(ch, pub, out, explicit, now), nil
}

// checkAtomicIDs applies Ably's rule for client-specified ids in a publish
// of several messages, which Ably publishes atomically under one
// idempotency key: either no message has an id, or every message i has the
// id "<base>:<i>" with one base (Ably docs, pub-sub/advanced, "ID format
// requirements"); else 40031/400. ably-go and ably-js make their own ids
// (RSL1k1) in this form. A single message may carry any id.
func checkAtomicIDs(msgs []*message) *errorInfo {
	if len(msgs) < 2 {
		return nil
	}
	hasID := false
	for _, m := range msgs {
		if m != nil && m.ID != "" {
			hasID = true
		}
	}
	if !hasID {
		return nil
	}
	var base string
	if m := msgs[0]; m != nil {
		if i := strings.LastIndex(m.ID, ":"); i > 0 {
			base = m.ID[:i]
		}
	}
	for i, m := range msgs {
		if m == nil {
			return nil // refused as a null message by publish
		}
		if base == "" || m.ID != base+":"+strconv.Itoa(i) {
			return newError(codeInvalidMessageID, statusBadRequest,
				"invalid publish request: the messages of one publish that carry ids must all have ids <base>:<index> with one base (message %d has id %q)", i, m.ID)
		}
	}
	return nil
}

// Message actions (TM5); only message.create is implemented.
const (
	messageCreate = 0
	messageUpdate = 1
	messageDelete = 2
	messageAppend = 5
)

// errMutableMessages refuses message updates, deletes and appends, as Ably
// does on a channel without the mutable-messages rule.
func errMutableMessages(what string) *errorInfo {
	return newError(codeMutableMessagesDisabled, statusBadRequest,
		"message %s is not enabled: the local Ably server does not implement message updates, deletes or appends", what)
}

// refuseMessageAction refuses every message action but create, so that an
// update, delete or append is never stored as a new message.
func refuseMessageAction(a int) *errorInfo {
	switch a {
	case messageCreate:
		return nil
	case messageUpdate:
		return errMutableMessages("update")
	case messageDelete:
		return errMutableMessages("delete")
	case messageAppend:
		return errMutableMessages("append")
	}
	return errBadRequest("message action %d is not supported by the local Ably server", a)
}

// refuseDeltaFields refuses message i when it carries what only Ably may
// set on a delta: extras.delta (whatever its value) or a vcdiff step in its
// encoding (in any case, with or without a "+" parameter). Subscribers'
// SDKs act on both, and the server makes no deltas. Other extras and
// encodings pass as they are.
func refuseDeltaFields(i int, m *message) *errorInfo {
	if _, ok := m.Extras["delta"]; ok {
		return newError(codeImpermissibleExtras, statusBadRequest,
			"invalid publish request: message %d has extras.delta, which only Ably sets (the local Ably server makes no deltas)", i)
	}
	if strings.Contains(strings.ToLower(m.Encoding), "vcdiff") {
		return newError(codeInvalidMessageEncoding, statusBadRequest,
			"message %d: encoding %q has a vcdiff step, which only Ably applies (the local Ably server makes no deltas)", i, m.Encoding)
	}
	return nil
}

// stampUserClaim removes any client-supplied userClaim and sets the most
// specific ably.channel.* claim of the publisher's JWT.
func stampUserClaim(extras, claims map[string]any, channel string) map[string]any {
	claim, ok := userClaimFor(claims, channel)
	_, had := extras["userClaim"]
	if !ok && !had {
		return extras
	}
	cp := make(map[string]any, len(extras)+1)
	for k, v := range extras {
		if k != "userClaim" {
			cp[k] = v
		}
	}
	if ok {
		cp["userClaim"] = claim
	}
	if len(cp) == 0 {
		return nil
	}
	return cp
}

// store appends new messages (skipping duplicate explicit ids), then fans
// them out in one frame while holding the channel lock.
func (s *Server) store(ch *channel, pub publisher, msgs []*message, explicit []bool, now int64) []string {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.pruneLocked(now, s.cfg.Retention, s.cfg.MaxMessagesPerChannel-len(msgs))
	serials := make([]string, len(msgs))
	fresh := make([]*message, 0, len(msgs))
	for i, m := range msgs {
		if explicit[i] {
			if r, ok := ch.ids[m.ID]; ok && now-r.at <= idempotencyWindowMillis {
				serials[i] = r.serial
				continue
			}
		}
		ch.seq++
		m.Serial = formatSerial(s.epoch, ch.seq)
		serials[i] = m.Serial
		ch.msgs = append(ch.msgs, storedMessage{serial: m.Serial, msg: m})
		if explicit[i] {
			ch.ids[m.ID] = idRecord{serial: m.Serial, at: now}
		}
		fresh = append(fresh, m)
	}
	if len(fresh) == 0 {
		return serials
	}
	frame := protocolMessage{
		Action:        actionMessage,
		ID:            pub.idBase,
		ConnectionID:  pub.connID,
		Timestamp:     now,
		ChannelSerial: fresh[len(fresh)-1].Serial,
		Messages:      fresh,
	}
	for att := range ch.subs {
		if att.modes&flagModeSubscribe == 0 {
			continue
		}
		if !att.t.echo && pub.connID != "" && att.t.conn.id == pub.connID {
			continue
		}
		f := frame
		f.Channel = att.name
		att.t.send(&f, false)
	}
	return serials
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
