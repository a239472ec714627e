package ablylocal

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

const (
	outboundQueue = 4096
	writeTimeout  = 10 * time.Second
	resultWindow  = 1024
	replayBatch   = 50
)

// ackResult is the outcome of one ProtocolMessage, kept so that a
// re-sent msgSerial is ACKed again without publishing twice.
type ackResult struct {
	serials []string
	err     *errorInfo
}

// connState is an Ably connection: it outlives its WebSocket for the
// connection-state TTL so the client can resume.
type connState struct {
	s   *Server
	id  string
	key string
	// sem is held by the transport serving this connection.
	sem chan struct{}

	mu             sync.Mutex
	p              *principal
	t              *transport
	nextSerial     int64
	results        map[int64]ackResult
	disconnectedAt time.Time
	closed         bool
}

func (c *connState) principal() *principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

func (c *connState) expired(now time.Time, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.t == nil
	}
	return c.t == nil && !c.disconnectedAt.IsZero() && now.Sub(c.disconnectedAt) > ttl
}

// transport is one WebSocket serving a connection.
type transport struct {
	s           *Server
	conn        *connState
	ws          *websocket.Conn
	format      wireFormat
	echo        bool
	out         chan outFrame
	ctx         context.Context
	cancel      context.CancelFunc
	authChanged chan struct{}

	// Owned by the reader goroutine.
	atts   map[string]*attachment
	failed bool
	// acked holds msgSerials answered on this transport, so a copy the
	// client sends twice on one socket (ably-go can, after a resume) gets
	// one ACK: a second would hit an empty pending queue in the client.
	acked map[int64]struct{}
}

type outFrame struct {
	pm         *protocolMessage
	closeAfter bool
}

func (t *transport) stop() { t.cancel() }

// send queues a frame without blocking; a client too slow to drain its
// queue loses the transport and resumes from its channel serials.
func (t *transport) send(pm *protocolMessage, closeAfter bool) {
	if t.ctx.Err() != nil {
		return
	}
	select {
	case t.out <- outFrame{pm: pm, closeAfter: closeAfter}:
	default:
		t.s.log.Warn("ably client too slow; dropping its transport", "connectionId", t.conn.id)
		t.stop()
	}
}

// fail sends a connection ERROR and closes the transport after it.
func (t *transport) fail(e *errorInfo) {
	t.failed = true
	t.s.log.Info("ably connection error", "connectionId", t.conn.id, "code", e.Code, "err", e.Message)
	t.send(&protocolMessage{Action: actionError, Error: e}, true)
}

func (t *transport) channelError(name string, e *errorInfo) {
	t.send(&protocolMessage{Action: actionError, Channel: name, Error: e}, false)
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !s.track() {
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		s.log.Debug("websocket accept failed", "err", err)
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(2 * defaultMaxFrameSize)
	q := r.URL.Query()
	s.runConnectHook(q)
	format, ok := parseFormat(q.Get("format"))
	if !ok {
		s.rejectWS(ws, formatJSON, errBadRequest("unsupported format %q", q.Get("format")))
		return
	}
	p, e := s.authenticateWS(q)
	if e != nil {
		s.rejectWS(ws, format, e)
		return
	}
	cs, connErr := s.openConn(r.Context(), q, p)
	defer func() { <-cs.sem }()
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	t := &transport{
		s:           s,
		conn:        cs,
		ws:          ws,
		format:      format,
		echo:        q.Get("echo") != "false",
		out:         make(chan outFrame, outboundQueue),
		ctx:         ctx,
		cancel:      cancel,
		authChanged: make(chan struct{}, 1),
		atts:        map[string]*attachment{},
		acked:       map[int64]struct{}{},
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.transports[t] = struct{}{}
	s.mu.Unlock()

	cs.mu.Lock()
	cs.t, cs.p, cs.disconnectedAt = t, p, time.Time{}
	cs.mu.Unlock()
	s.log.Debug("ably connection", "connectionId", cs.id, "clientId", p.clientID, "format", format, "resumeError", connErr)
	t.send(cs.connectedFrame(p, connErr), false)

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		t.writeLoop()
	}()
	t.readLoop()
	t.stop()
	<-writerDone
	t.detachAll()

	s.mu.Lock()
	delete(s.transports, t)
	s.mu.Unlock()
	cs.mu.Lock()
	if cs.t == t {
		cs.t, cs.disconnectedAt = nil, s.now()
	}
	closed := cs.closed
	cs.mu.Unlock()
	if closed {
		s.mu.Lock()
		if s.conns[cs.key] == cs {
			delete(s.conns, cs.key)
		}
		s.mu.Unlock()
	}
}

// rejectWS sends a fatal ERROR over an accepted WebSocket and closes it.
// Rejecting the HTTP upgrade instead would make clients retry forever.
func (s *Server) rejectWS(ws *websocket.Conn, f wireFormat, e *errorInfo) {
	s.log.Info("ably connection refused", "code", e.Code, "err", e.Message)
	b, err := s.codecs.encodeFrame(f, &protocolMessage{Action: actionError, Error: e})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	if err := ws.Write(ctx, messageType(f), b); err != nil {
		return
	}
	_ = ws.Close(websocket.StatusNormalClosure, "")
}

func messageType(f wireFormat) websocket.MessageType {
	if f == formatMsgpack {
		return websocket.MessageBinary
	}
	return websocket.MessageText
}

// authenticateWS reads key= or access_token= and an optional clientId=.
func (s *Server) authenticateWS(q url.Values) (*principal, *errorInfo) {
	tok := q.Get("access_token")
	if tok == "" {
		tok = q.Get("accessToken")
	}
	var p *principal
	var e *errorInfo
	switch key := q.Get("key"); {
	case tok != "":
		p, e = s.keys.verifyJWT(tok, s.now())
	case key != "":
		p, e = s.keys.basic(key)
	default:
		e = newError(codeNoCredentials, statusUnauthorized, "no credentials: give key= or access_token=")
	}
	if e != nil {
		return nil, e
	}
	if e := applyClientID(p, q.Get("clientId")); e != nil {
		return nil, e
	}
	return p, nil
}

// applyClientID applies a clientId the client asked for to a credential.
func applyClientID(p *principal, cid string) *errorInfo {
	if cid == "" {
		return nil
	}
	switch {
	case cid == "*":
		return newError(codeInvalidClientID, statusBadRequest, "clientId %q cannot be assumed", cid)
	case p.clientID == "*":
		p.clientID = cid
	case p.clientID == "":
		return newError(codeInvalidClientID, statusBadRequest, "clientId %q given but the token has no clientId", cid)
	case p.clientID != cid:
		return newError(codeInvalidClientID, statusBadRequest, "clientId %q does not match the token's %q", cid, p.clientID)
	}
	return nil
}

// openConn resumes the connection named by resume= (or recover=) or opens
// a new one; a failed resume opens a new one and reports why. The caller
// holds the returned connection's sem.
func (s *Server) openConn(ctx context.Context, q url.Values, p *principal) (*connState, *errorInfo) {
	key := q.Get("resume")
	if key == "" {
		key = q.Get("recover")
	}
	var connErr *errorInfo
	if key != "" {
		cs, e := s.resumeConn(ctx, key, p)
		if e == nil {
			return cs, nil
		}
		connErr = e
	}
	cs := &connState{
		s:       s,
		id:      randomID(9),
		sem:     make(chan struct{}, 1),
		p:       p,
		results: map[int64]ackResult{},
	}
	cs.key = randomID(12) + "!" + cs.id
	cs.sem <- struct{}{}
	s.mu.Lock()
	s.conns[cs.key] = cs
	s.mu.Unlock()
	return cs, connErr
}

func validConnKey(k string) bool {
	a, b, ok := strings.Cut(k, "!")
	return ok && len(a) == 16 && len(b) == 12
}

func (s *Server) resumeConn(ctx context.Context, key string, p *principal) (*connState, *errorInfo) {
	if !validConnKey(key) {
		return nil, newError(codeResumeInvalid, statusBadRequest, "invalid connection key")
	}
	expired := newError(codeResumeExpired, statusBadRequest, "Unable to recover connection (connection expired)")
	s.mu.Lock()
	cs := s.conns[key]
	s.mu.Unlock()
	if cs == nil {
		return nil, expired
	}
	cs.mu.Lock()
	ok := !cs.closed && cs.p.keyName == p.keyName && cs.p.clientID == p.clientID &&
		!(cs.t == nil && s.now().Sub(cs.disconnectedAt) > s.cfg.ConnectionStateTTL)
	old := cs.t
	cs.mu.Unlock()
	if !ok {
		return nil, expired
	}
	if old != nil {
		old.stop()
	}
	timer := time.NewTimer(writeTimeout)
	defer timer.Stop()
	select {
	case cs.sem <- struct{}{}:
	case <-timer.C:
		return nil, expired
	case <-ctx.Done():
		return nil, expired
	}
	s.mu.Lock()
	still := s.conns[key] == cs
	s.mu.Unlock()
	cs.mu.Lock()
	ok = still && !cs.closed
	cs.mu.Unlock()
	if !ok {
		<-cs.sem
		return nil, expired
	}
	return cs, nil
}

func (c *connState) connectedFrame(p *principal, e *errorInfo) *protocolMessage {
	cfg := c.s.cfg
	clientID := p.clientID
	if p.claims == nil && clientID == "*" {
		clientID = ""
	}
	return &protocolMessage{
		Action:        actionConnected,
		ConnectionID:  c.id,
		ConnectionKey: c.key,
		Error:         e,
		ConnectionDetails: &connectionDetails{
			ClientID:           clientID,
			ConnectionKey:      c.key,
			MaxMessageSize:     defaultMaxMessageSize,
			MaxFrameSize:       defaultMaxFrameSize,
			MaxInboundRate:     defaultMaxInboundRate,
			ConnectionStateTTL: cfg.ConnectionStateTTL.Milliseconds(),
			MaxIdleInterval:    cfg.MaxIdleInterval.Milliseconds(),
			ServerID:           c.s.serverID,
		},
	}
}

// writeLoop writes queued frames, sends HEARTBEATs when idle, asks for a
// new token before exp and disconnects at exp.
func (t *transport) writeLoop() {
	s := t.s
	hb := time.NewTicker(s.cfg.HeartbeatInterval)
	defer hb.Stop()
	lastWrite := time.Now()
	var renewTimer, expTimer *time.Timer
	var renewC, expC <-chan time.Time
	stopTimers := func() {
		if renewTimer != nil {
			renewTimer.Stop()
		}
		if expTimer != nil {
			expTimer.Stop()
		}
		renewC, expC = nil, nil
	}
	defer stopTimers()
	arm := func() {
		stopTimers()
		exp := t.conn.principal().expires
		if exp.IsZero() {
			return
		}
		now := time.Now()
		expTimer = time.NewTimer(exp.Sub(now))
		expC = expTimer.C
		if lead := s.cfg.TokenRenewalLead; lead > 0 {
			at := exp.Add(-lead)
			if half := now.Add(exp.Sub(now) / 2); at.Before(half) {
				at = half
			}
			renewTimer = time.NewTimer(at.Sub(now))
			renewC = renewTimer.C
		}
	}
	arm()
	write := func(pm *protocolMessage) bool {
		b, err := s.codecs.encodeFrame(t.format, pm)
		if err != nil {
			s.log.Error("encode frame", "connectionId", t.conn.id, "err", err)
			return true
		}
		ctx, cancel := context.WithTimeout(t.ctx, writeTimeout)
		defer cancel()
		if err := t.ws.Write(ctx, messageType(t.format), b); err != nil {
			t.stop()
			return false
		}
		lastWrite = time.Now()
		return true
	}
	closeAfter := func() {
		_ = t.ws.Close(websocket.StatusNormalClosure, "")
		t.stop()
	}
	for {
		select {
		case <-t.ctx.Done():
			_ = t.ws.CloseNow()
			return
		case f := <-t.out:
			if !write(f.pm) {
				return
			}
			if f.closeAfter {
				closeAfter()
				return
			}
		case <-hb.C:
			if time.Since(lastWrite) >= s.cfg.HeartbeatInterval/2 {
				if !write(&protocolMessage{Action: actionHeartbeat}) {
					return
				}
			}
		case <-t.authChanged:
			arm()
		case <-renewC:
			renewC = nil
			if !write(&protocolMessage{Action: actionAuth}) {
				return
			}
		case <-expC:
			if exp := t.conn.principal().expires; exp.After(time.Now()) {
				arm()
				continue
			}
			write(&protocolMessage{Action: actionDisconnected, Error: newError(codeTokenExpired, statusUnauthorized, "token expired")})
			closeAfter()
			return
		}
	}
}

func (t *transport) readLoop() {
	for {
		_, data, err := t.ws.Read(t.ctx)
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) && t.ctx.Err() == nil {
				t.s.log.Debug("websocket read", "connectionId", t.conn.id, "err", err)
			}
			return
		}
		if t.failed {
			continue
		}
		pm, err := t.s.codecs.decodeFrame(t.format, data)
		if err != nil {
			t.fail(errBadRequest("malformed %s frame: %v", t.format, err))
			continue
		}
		t.handle(pm)
	}
}

func (t *transport) handle(pm *protocolMessage) {
	switch pm.Action {
	case actionHeartbeat:
		if pm.ID != "" {
			t.send(&protocolMessage{Action: actionHeartbeat, ID: pm.ID}, false)
		}
	case actionAttach:
		t.attach(pm)
	case actionDetach:
		t.detach(pm)
	case actionMessage:
		t.serialized(pm, func() ([]string, *errorInfo) {
			return t.s.publish(publisher{p: t.conn.principal(), connID: t.conn.id, idBase: t.conn.id + ":" + itoa(pm.MsgSerial)}, pm.Channel, pm.Messages)
		})
	case actionPresence, actionObject, actionAnnotation:
		t.serialized(pm, func() ([]string, *errorInfo) {
			return nil, errBadRequest("action %d is not supported by the local Ably server", pm.Action)
		})
	case actionAuth:
		t.reauth(pm)
	case actionClose:
		t.conn.mu.Lock()
		t.conn.closed = true
		t.conn.mu.Unlock()
		t.send(&protocolMessage{Action: actionClosed, ConnectionID: t.conn.id}, true)
	case actionDisconnect:
		t.stop()
	case actionConnect:
	default:
		t.fail(errBadRequest("unexpected protocol action %d", pm.Action))
	}
}

// serialized ACKs or NACKs a msgSerial-carrying ProtocolMessage exactly
// once per receipt; a msgSerial already seen is answered again from its
// recorded result and not executed twice.
func (t *transport) serialized(pm *protocolMessage, do func() ([]string, *errorInfo)) {
	c := t.conn
	ms := pm.MsgSerial
	if ms < 0 {
		t.fail(errBadRequest("negative msgSerial"))
		return
	}
	c.mu.Lock()
	if ms < c.nextSerial {
		r := c.results[ms]
		c.mu.Unlock()
		if _, done := t.acked[ms]; !done {
			t.ack(ms, r)
		}
		return
	}
	c.nextSerial = ms + 1
	c.mu.Unlock()
	serials, e := do()
	r := ackResult{serials: serials, err: e}
	c.mu.Lock()
	c.results[ms] = r
	if len(c.results) > 2*resultWindow {
		for k := range c.results {
			if k < ms-resultWindow {
				delete(c.results, k)
			}
		}
	}
	c.mu.Unlock()
	t.ack(ms, r)
}

func (t *transport) ack(ms int64, r ackResult) {
	t.acked[ms] = struct{}{}
	if len(t.acked) > 2*resultWindow {
		for k := range t.acked {
			if k < ms-resultWindow {
				delete(t.acked, k)
			}
		}
	}
	if r.err != nil {
		t.send(&protocolMessage{Action: actionNack, MsgSerial: ms, Count: 1, Error: r.err}, false)
		return
	}
	serials := r.serials
	if serials == nil {
		serials = []string{}
	}
	t.send(&protocolMessage{Action: actionAck, MsgSerial: ms, Count: 1, Res: []*publishResult{{Serials: serials}}}, false)
}

// permittedModes are the channel modes a credential's capability allows.
func permittedModes(p *principal, base string) int64 {
	var m int64
	if p.grant.allows(base, opSubscribe) {
		m |= flagModeSubscribe | flagModePresenceSub
	}
	if p.grant.allows(base, opPublish) {
		m |= flagModePublish
	}
	if p.grant.allows(base, opPresence) {
		m |= flagModePresence
	}
	return m
}

func (t *transport) attach(pm *protocolMessage) {
	s := t.s
	name := pm.Channel
	base, qp, err := parseChannelName(name)
	if err != nil {
		t.channelError(name, errBadRequest("%v", err))
		return
	}
	params := map[string]string{}
	for k, v := range qp {
		params[k] = v
	}
	for k, v := range pm.Params {
		params[k] = v
	}
	requested := pm.Flags & modeMask
	if requested == 0 {
		requested = defaultModes
	}
	granted := requested & permittedModes(t.conn.principal(), base)
	if granted == 0 {
		t.removeAttachment(name)
		t.channelError(name, errCapability("channel denied access based on given capability: %q", base))
		return
	}
	var rewind *rewindSpec
	echoParams := map[string]string{}
	if v, ok := params["rewind"]; ok {
		r, err := parseRewind(v)
		if err != nil {
			t.removeAttachment(name)
			t.channelError(name, errBadRequest("%v", err))
			return
		}
		rewind = &r
		echoParams["rewind"] = v
	}
	if len(echoParams) == 0 {
		echoParams = nil
	}
	existing := t.atts[name]
	if existing == nil && len(t.atts) >= maxAttachmentsPerConnection {
		// Every qualifier variant of a name is its own attachment, so
		// without a bound one client could make each publish fan out
		// thousands of frames to itself.
		t.channelError(name, errBadRequest("too many attached channels on this connection (at most %d)", maxAttachmentsPerConnection))
		return
	}
	ch := s.channel(base)
	now := s.now().UnixMilli()

	ch.mu.Lock()
	defer ch.mu.Unlock()
	flags := granted
	var backlog []storedMessage
	var attErr *errorInfo
	switch {
	case pm.ChannelSerial != "" && validSerial(pm.ChannelSerial):
		if strings.HasPrefix(pm.ChannelSerial, formatSerial(s.epoch, 0)[:13]) && pm.ChannelSerial >= ch.pruned {
			flags |= flagResumed
		}
		backlog = append(backlog, ch.msgs[ch.indexAfterLocked(pm.ChannelSerial):]...)
	case existing != nil:
		flags |= flagResumed
	case rewind != nil && pm.Flags&flagAttachResume == 0:
		var truncated bool
		backlog, truncated = ch.backlogLocked(*rewind, now, defaultRewindCap)
		if truncated {
			attErr = errBadRequest("rewind truncated to the newest %d messages", defaultRewindCap)
		}
		if len(backlog) > 0 {
			flags |= flagHasBacklog
		}
	}
	att := existing
	if att == nil {
		att = &attachment{t: t, name: name, ch: ch}
		t.atts[name] = att
	}
	att.modes = granted
	att.requested = requested
	ch.subs[att] = struct{}{}
	t.send(&protocolMessage{
		Action:        actionAttached,
		Channel:       name,
		ChannelSerial: ch.positionLocked(s.epoch),
		Flags:         flags,
		Params:        echoParams,
		Error:         attErr,
	}, false)
	if granted&flagModeSubscribe == 0 {
		return
	}
	// Replay in frames of up to replayBatch messages; every inner message
	// carries its own id, connectionId, timestamp and serial.
	var batch []*message
	flush := func() {
		if len(batch) == 0 {
			return
		}
		t.send(&protocolMessage{
			Action:        actionMessage,
			Channel:       name,
			ChannelSerial: batch[len(batch)-1].Serial,
			Messages:      batch,
		}, false)
		batch = nil
	}
	for _, m := range backlog {
		if !t.echo && m.msg.ConnectionID == t.conn.id {
			continue
		}
		batch = append(batch, m.msg)
		if len(batch) == replayBatch {
			flush()
		}
	}
	flush()
}

func (t *transport) removeAttachment(name string) {
	att := t.atts[name]
	if att == nil {
		return
	}
	delete(t.atts, name)
	att.ch.mu.Lock()
	delete(att.ch.subs, att)
	att.ch.mu.Unlock()
}

func (t *transport) detach(pm *protocolMessage) {
	t.removeAttachment(pm.Channel)
	t.send(&protocolMessage{Action: actionDetached, Channel: pm.Channel}, false)
}

func (t *transport) detachAll() {
	for name := range t.atts {
		t.removeAttachment(name)
	}
}

// reauth handles a client AUTH carrying a new token (RTN22).
func (t *transport) reauth(pm *protocolMessage) {
	tok := ""
	if pm.Auth != nil {
		tok = pm.Auth.AccessToken
	}
	if tok == "" {
		t.fail(newError(codeNoCredentials, statusUnauthorized, "AUTH without an accessToken"))
		return
	}
	p, e := t.s.keys.verifyJWT(tok, t.s.now())
	if e != nil {
		t.fail(e)
		return
	}
	c := t.conn
	c.mu.Lock()
	if c.p.clientID != p.clientID {
		c.mu.Unlock()
		t.fail(newError(codeIncompatibleClient, statusUnauthorized, "new token's clientId %q does not match the connection's %q", p.clientID, c.p.clientID))
		return
	}
	c.p = p
	c.mu.Unlock()
	select {
	case t.authChanged <- struct{}{}:
	default:
	}
	for name, att := range t.atts {
		base, _, _ := parseChannelName(name)
		granted := att.requested & permittedModes(p, base)
		if granted == 0 {
			t.removeAttachment(name)
			t.channelError(name, errCapability("channel denied access based on new capability: %q", base))
			continue
		}
		att.ch.mu.Lock()
		att.modes = granted
		att.ch.mu.Unlock()
	}
	t.send(c.connectedFrame(p, nil), false)
}

func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
