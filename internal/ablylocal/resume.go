// Opening and resuming connections (RTN15) within the connection-state
// TTL, and the CONNECTED frame.

package ablylocal

import (
	"context"
	"net/url"
	"strings"
	"time"
)

// expired reports whether the connection's state may be dropped: closed
// and without a transport, or without one for longer than ttl.
func (c *connState) expired(now time.Time, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return c.t == nil
	}
	return c.t == nil && !c.disconnectedAt.IsZero() && now.Sub(c.disconnectedAt) > ttl
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
	cs.key = newConnKey(cs.id)
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
	// Every resume issues a new connection key (RTN15e) and retires the
	// old one, so a client still holding it (the original, after another
	// client recovered the connection, RTN16) gets a new connection
	// instead of taking this one back.
	s.mu.Lock()
	cs.mu.Lock()
	ok = s.conns[key] == cs && !cs.closed
	if ok {
		delete(s.conns, key)
		cs.key = newConnKey(cs.id)
		s.conns[cs.key] = cs
	}
	cs.mu.Unlock()
	s.mu.Unlock()
	if !ok {
		<-cs.sem
		return nil, expired
	}
	return cs, nil
}

// newConnKey is a fresh connection key for the connection id: a random
// part, "!", the id.
func newConnKey(id string) string {
	return randomID(12) + "!" + id
}

func (c *connState) connectedFrame(p *principal, e *errorInfo) *protocolMessage {
	cfg := c.s.cfg
	clientID := p.clientID
	if !p.token && clientID == "*" {
		clientID = ""
	}
	c.mu.Lock()
	key := c.key
	c.mu.Unlock()
	return &protocolMessage{
		Action:        actionConnected,
		ConnectionID:  c.id,
		ConnectionKey: key,
		Error:         e,
		ConnectionDetails: &connectionDetails{
			ClientID:           clientID,
			ConnectionKey:      key,
			MaxMessageSize:     defaultMaxMessageSize,
			MaxFrameSize:       defaultMaxFrameSize,
			MaxInboundRate:     defaultMaxInboundRate,
			ConnectionStateTTL: cfg.ConnectionStateTTL.Milliseconds(),
			MaxIdleInterval:    cfg.MaxIdleInterval.Milliseconds(),
			ServerID:           c.s.serverID,
		},
	}
}
