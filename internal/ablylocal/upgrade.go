// The WebSocket upgrade and authentication: accepting a socket,
// authenticating its credentials, refusing it with an ERROR frame, and
// re-authenticating a live connection (AUTH).

package ablylocal

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
)

// serveWS serves one WebSocket: it authenticates, opens or resumes the
// connection, and runs the read and write loops until the socket ends.
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
	closed, key := cs.closed, cs.key
	cs.mu.Unlock()
	if closed {
		s.mu.Lock()
		if s.conns[key] == cs {
			delete(s.conns, key)
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
		p, e = s.keys.verifyToken(tok, s.now())
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
	p, e := t.s.keys.verifyToken(tok, t.s.now())
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
