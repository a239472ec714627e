// A transport's read and write loops: frames in, dispatch by action,
// ACK/NACK bookkeeping; frames out, heartbeats and token timers.

package ablylocal

import (
	"context"
	"errors"
	"time"

	"github.com/coder/websocket"
)

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
		// As Ably does, ask TokenRenewalLead before exp; a token that
		// lives less than the lead is not renewed by the server, so it
		// expires and the connection is DISCONNECTED with 40142 (RTN22a).
		if lead := s.cfg.TokenRenewalLead; lead > 0 {
			if at := exp.Add(-lead); at.After(now) {
				renewTimer = time.NewTimer(at.Sub(now))
				renewC = renewTimer.C
			}
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
