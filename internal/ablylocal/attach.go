// Channel attachments: ATTACH with modes, rewind and channelSerial
// replay; DETACH.

package ablylocal

import (
	"strings"
)

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
		// Ably replays what followed the serial only from the messages it
		// keeps for resume (about two minutes, ResumeWindow): a serial
		// from before them, another server process's, or one older than
		// what retention dropped is reattached from the earliest message
		// still in the window, without RESUMED and with 90003 (Ably's
		// "channel continuity not guaranteed"); the rest is history's.
		after := ch.indexAfterLocked(pm.ChannelSerial)
		from := after
		cutoff := now - s.cfg.ResumeWindow.Milliseconds()
		for from < len(ch.msgs) && ch.msgs[from].msg.Timestamp < cutoff {
			from++
		}
		if from == after && strings.HasPrefix(pm.ChannelSerial, formatSerial(s.epoch, 0)[:13]) && pm.ChannelSerial >= ch.pruned {
			flags |= flagResumed
		} else {
			attErr = newError(codeChannelNotResumed, statusNotFound, "Unable to recover channel (messages expired)")
		}
		backlog = append(backlog, ch.msgs[from:]...)
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
