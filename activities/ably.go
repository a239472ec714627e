package activities

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/ably/ably-go/ably"
	"go.temporal.io/sdk/temporal"

	"github.com/hitl/durable-approvals/internal/ablyconn"
	"github.com/hitl/durable-approvals/workflows"
)

// Publisher publishes one message on an Ably channel. A message with the
// same ID published twice is delivered once (Ably idempotent publishing).
type Publisher interface {
	Publish(ctx context.Context, channel string, msg *ably.Message) error
}

// AblyPublisher is a Publisher over ably-go's REST client. Its REST
// clients have tokens whose capability is publish on one channel only
// (least privilege: the agent never gets the key's full capability). A
// REST client of ably-go is not safe for concurrent use (getting a
// channel writes to it, and so does renewing its token inside a request),
// and activities publish concurrently: each client publishes for one
// caller at a time, taken from the channel's pool of idle clients, or made
// when none is idle (a client costs no round trip: it signs its own JWT).
type AblyPublisher struct {
	cfg      ablyconn.Config
	clientID string
	extra    []ably.ClientOption

	mu   sync.Mutex
	idle map[string]chan *restChannel // by channel: clients not in use
}

// restChannel is a REST client and its channel, used by one caller at a
// time, and the channel's idle clients it goes back to.
type restChannel struct {
	rest *ably.REST
	ch   *ably.RESTChannel
	idle chan *restChannel
}

// maxPublisherChannels bounds the channels one AblyPublisher publishes
// on; the agent publishes on one configured channel.
const maxPublisherChannels = 16

// maxIdleClients bounds the idle REST clients kept per channel: at most
// that many publishes at once reuse a client (and its token); more make
// clients of their own, dropped after.
const maxIdleClients = 64

// NewAblyPublisher returns a publisher that authenticates as clientID with
// a JWT it signs itself with cfg's API key (ablyconn.TrustedOptions), so the
// key never crosses the wire. The JWT's capability is
// {"<channel>":["publish"]} for the channel being published on. ably-go's
// own logging is off unless extra turns it on, e.g.
// ably.WithLogHandler(ablyconn.Logger{Log: logger}) with
// ably.WithLogLevel(ably.LogWarning); errors are returned either way.
func NewAblyPublisher(cfg ablyconn.Config, clientID string, extra ...ably.ClientOption) (*AblyPublisher, error) {
	p := &AblyPublisher{cfg: cfg, clientID: clientID, extra: extra, idle: map[string]chan *restChannel{}}
	// Build one client now so that a bad configuration fails here, not at
	// the first publish.
	if _, err := p.newREST("{}"); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *AblyPublisher) newREST(capability string) (*ably.REST, error) {
	opts, err := p.cfg.TrustedOptions(p.clientID, capability)
	if err != nil {
		return nil, fmt.Errorf("ably publisher: %w", err)
	}
	opts = append(append([]ably.ClientOption{ably.WithLogLevel(ably.LogNone)}, opts...), p.extra...)
	rest, err := ably.NewREST(opts...)
	if err != nil {
		return nil, fmt.Errorf("ably publisher: %w", err)
	}
	return rest, nil
}

// take returns a client for channel that no other caller uses until it
// is given back (give): an idle one, or a new one whose token may publish
// on channel.
func (p *AblyPublisher) take(channel string) (*restChannel, error) {
	p.mu.Lock()
	idle, ok := p.idle[channel]
	if !ok {
		if len(p.idle) >= maxPublisherChannels {
			p.mu.Unlock()
			return nil, fmt.Errorf("ably publisher: more than %d channels", maxPublisherChannels)
		}
		idle = make(chan *restChannel, maxIdleClients)
		p.idle[channel] = idle
	}
	p.mu.Unlock()
	select {
	case c := <-idle:
		return c, nil
	default:
	}
	capability, err := ablyconn.ChannelCapability(channel, "publish")
	if err != nil {
		return nil, err
	}
	r, err := p.newREST(capability)
	if err != nil {
		return nil, err
	}
	return &restChannel{rest: r, ch: r.Channels.Get(channel), idle: idle}, nil
}

// give returns c, taken with take, to its channel's idle clients (or
// drops it when enough are idle).
func give(c *restChannel) {
	select {
	case c.idle <- c:
	default:
	}
}

// Publish publishes msg on channel. Ably client errors (4xx other than
// token errors and rate limits) are non-retryable; the rest are retryable.
// A token error (401, 40140 to 40149) is retryable unless Ably refuses the
// key itself (CheckKey): a key Ably no longer knows, or whose secret is
// wrong, fails every later try too.
func (p *AblyPublisher) Publish(ctx context.Context, channel string, msg *ably.Message) error {
	c, err := p.take(channel)
	if err != nil {
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrTypeAbly, err)
	}
	err = c.ch.PublishMultiple(ctx, []*ably.Message{msg})
	give(c)
	if err == nil {
		return nil
	}
	var info *ably.ErrorInfo
	if errors.As(err, &info) {
		sc := info.StatusCode
		tokenError := sc == http.StatusUnauthorized && info.Code >= 40140 && info.Code < 40150
		if sc >= 400 && sc < 500 && sc != http.StatusTooManyRequests && sc != http.StatusRequestTimeout && !tokenError {
			return temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("ably: publish %q on %s: %v", msg.Name, channel, err), workflows.ErrTypeAbly, err)
		}
		if tokenError {
			if kerr := p.CheckKey(ctx, channel); errors.Is(kerr, ErrKeyRefused) {
				return temporal.NewNonRetryableApplicationError(
					fmt.Sprintf("ably: publish %q on %s: %v", msg.Name, channel, kerr), workflows.ErrTypeAbly, kerr)
			}
		}
	}
	return fmt.Errorf("ably: publish %q on %s: %w", msg.Name, channel, err)
}

// ErrKeyRefused is Ably refusing the API key: every publish would fail.
var ErrKeyRefused = ablyconn.ErrKeyRefused

// CheckKey asks Ably whether it takes the API key for the capability the
// publisher uses on channel (ablyconn.Config.CheckKey): an error wrapping
// ErrKeyRefused when Ably refuses it, another error when Ably could not be
// asked. Publish asks it after a token error.
func (p *AblyPublisher) CheckKey(ctx context.Context, channel string) error {
	capability, err := ablyconn.ChannelCapability(channel, "publish")
	if err != nil {
		return err
	}
	return p.cfg.CheckKey(ctx, p.clientID, capability, p.extra...)
}
