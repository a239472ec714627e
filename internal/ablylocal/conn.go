// Connections and their transports: the state an Ably connection keeps
// between sockets, and how frames are queued to a socket.

package ablylocal

import (
	"context"
	"strconv"
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
	s  *Server
	id string
	// sem is held by the transport serving this connection.
	sem chan struct{}

	mu sync.Mutex
	// key is the connection key a client resumes with; every resume
	// replaces it.
	key            string
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

func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
