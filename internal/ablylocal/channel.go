package ablylocal

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// storedMessage is one retained message; msg is immutable once stored.
type storedMessage struct {
	serial string
	msg    *message
}

// idRecord remembers a client-supplied message id for idempotent publish.
type idRecord struct {
	serial string
	at     int64
}

// channel is one channel's retained messages and live attachments. mu is
// held while fanning out, so frames reach each transport in serial order.
type channel struct {
	name   string
	mu     sync.Mutex
	seq    int64
	msgs   []storedMessage
	ids    map[string]idRecord
	subs   map[*attachment]struct{}
	pruned string // serial of the newest message dropped by retention
}

// attachment is one transport's attachment to a channel under the exact
// name the client used (qualifier included).
type attachment struct {
	t    *transport
	name string
	ch   *channel
	// modes are the granted modes; requested are what the client asked
	// for, kept so a new token can re-grant them. Guarded by ch.mu.
	modes     int64
	requested int64
}

// serialFormat orders serials as strings: the server's start time, then
// the channel sequence, both zero-padded, so serials from a later server
// process sort after earlier ones.
func formatSerial(epoch, seq int64) string {
	return fmt.Sprintf("%013d-%016d", epoch, seq)
}

func validSerial(s string) bool {
	a, b, ok := strings.Cut(s, "-")
	if !ok || len(a) != 13 || len(b) != 16 {
		return false
	}
	for _, r := range a + b {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// position is the serial of the newest message, or the zero position.
func (ch *channel) positionLocked(epoch int64) string {
	return formatSerial(epoch, ch.seq)
}

// indexAfterLocked returns the index of the first retained message whose
// serial is greater than serial.
func (ch *channel) indexAfterLocked(serial string) int {
	return sort.Search(len(ch.msgs), func(i int) bool { return ch.msgs[i].serial > serial })
}

// pruneLocked drops messages past retention or above the cap, and expired
// idempotency records.
func (ch *channel) pruneLocked(nowMs int64, retention time.Duration, maxMsgs int) {
	cutoff := nowMs - retention.Milliseconds()
	drop := 0
	for drop < len(ch.msgs) && (ch.msgs[drop].msg.Timestamp < cutoff || len(ch.msgs)-drop > maxMsgs) {
		drop++
	}
	if drop > 0 {
		ch.pruned = ch.msgs[drop-1].serial
		n := copy(ch.msgs, ch.msgs[drop:])
		clear(ch.msgs[n:])
		ch.msgs = ch.msgs[:n]
	}
	for id, r := range ch.ids {
		if nowMs-r.at > idempotencyWindowMillis {
			delete(ch.ids, id)
		}
	}
}

// rewindSpec is a parsed rewind channel param: a count or a time span.
type rewindSpec struct {
	count int
	since time.Duration
}

func parseRewind(v string) (rewindSpec, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return rewindSpec{}, errors.New("empty rewind")
	}
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(v, "ms"):
		unit, v = time.Millisecond, strings.TrimSuffix(v, "ms")
	case strings.HasSuffix(v, "s"):
		unit, v = time.Second, strings.TrimSuffix(v, "s")
	case strings.HasSuffix(v, "m"):
		unit, v = time.Minute, strings.TrimSuffix(v, "m")
	case strings.HasSuffix(v, "h"):
		unit, v = time.Hour, strings.TrimSuffix(v, "h")
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1_000_000 {
		return rewindSpec{}, fmt.Errorf("invalid rewind %q: want a message count or a time such as 10s", v)
	}
	if unit == 0 {
		return rewindSpec{count: n}, nil
	}
	return rewindSpec{since: time.Duration(n) * unit}, nil
}

// backlogLocked returns the messages a rewind selects, at most limit, and
// whether the cap truncated it.
func (ch *channel) backlogLocked(r rewindSpec, nowMs int64, limit int) ([]storedMessage, bool) {
	var from int
	if r.since > 0 {
		cutoff := nowMs - r.since.Milliseconds()
		from = sort.Search(len(ch.msgs), func(i int) bool { return ch.msgs[i].msg.Timestamp >= cutoff })
	} else {
		from = len(ch.msgs) - r.count
		if from < 0 {
			from = 0
		}
	}
	truncated := false
	if len(ch.msgs)-from > limit {
		from = len(ch.msgs) - limit
		truncated = true
	}
	return append([]storedMessage(nil), ch.msgs[from:]...), truncated
}

// parseChannelName splits "[?k=v&...]name" into the base name and the
// qualifier's params.
func parseChannelName(name string) (string, map[string]string, error) {
	if name == "" {
		return "", nil, errors.New("empty channel name")
	}
	if !strings.HasPrefix(name, "[?") {
		return name, nil, nil
	}
	end := strings.Index(name, "]")
	if end < 0 {
		return "", nil, fmt.Errorf("channel name %q: unterminated qualifier", name)
	}
	vals, err := url.ParseQuery(name[2:end])
	if err != nil {
		return "", nil, fmt.Errorf("channel name %q: bad qualifier: %w", name, err)
	}
	base := name[end+1:]
	if base == "" {
		return "", nil, fmt.Errorf("channel name %q: empty base name", name)
	}
	params := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	return base, params, nil
}

// historyQuery selects retained messages for REST history.
type historyQuery struct {
	start, end int64 // ms, inclusive; 0 = unbounded
	limit      int
	forwards   bool
	until      string // inclusive serial bound (fromSerial / untilAttach)
	cursor     string // exclusive serial bound from a "next" link
}

// history returns one page and whether another follows.
func (ch *channel) history(q historyQuery) ([]*message, bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	match := func(m storedMessage) bool {
		ts := m.msg.Timestamp
		if q.start > 0 && ts < q.start {
			return false
		}
		if q.end > 0 && ts > q.end {
			return false
		}
		return true
	}
	var out []*message
	if q.forwards {
		i := 0
		if q.cursor != "" {
			i = ch.indexAfterLocked(q.cursor)
		}
		for ; i < len(ch.msgs); i++ {
			m := ch.msgs[i]
			if q.until != "" && m.serial > q.until {
				break
			}
			if !match(m) {
				continue
			}
			if len(out) == q.limit {
				return out, true
			}
			out = append(out, m.msg)
		}
		return out, false
	}
	i := len(ch.msgs) - 1
	if q.cursor != "" {
		i = sort.Search(len(ch.msgs), func(i int) bool { return ch.msgs[i].serial >= q.cursor }) - 1
	}
	if q.until != "" {
		if j := ch.indexAfterLocked(q.until) - 1; j < i {
			i = j
		}
	}
	for ; i >= 0; i-- {
		m := ch.msgs[i]
		if !match(m) {
			continue
		}
		if len(out) == q.limit {
			return out, true
		}
		out = append(out, m.msg)
	}
	return out, false
}
