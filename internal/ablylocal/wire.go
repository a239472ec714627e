package ablylocal

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/ugorji/go/codec"
)

// Protocol actions (ably-go proto_action.go).
const (
	actionHeartbeat    = 0
	actionAck          = 1
	actionNack         = 2
	actionConnect      = 3
	actionConnected    = 4
	actionDisconnect   = 5
	actionDisconnected = 6
	actionClose        = 7
	actionClosed       = 8
	actionError        = 9
	actionAttach       = 10
	actionAttached     = 11
	actionDetach       = 12
	actionDetached     = 13
	actionPresence     = 14
	actionMessage      = 15
	actionSync         = 16
	actionAuth         = 17
	actionActivate     = 18
	actionObject       = 19
	actionObjectSync   = 20
	actionAnnotation   = 21
)

// Protocol flags.
const (
	flagHasPresence       int64 = 1 << 0
	flagHasBacklog        int64 = 1 << 1
	flagResumed           int64 = 1 << 2
	flagTransient         int64 = 1 << 4
	flagAttachResume      int64 = 1 << 5
	flagModePresence      int64 = 1 << 16
	flagModePublish       int64 = 1 << 17
	flagModeSubscribe     int64 = 1 << 18
	flagModePresenceSub   int64 = 1 << 19
	flagModeAnnotationPub int64 = 1 << 21
	flagModeAnnotationSub int64 = 1 << 22
	flagModeObjectSub     int64 = 1 << 24
	flagModeObjectPub     int64 = 1 << 25

	modeMask     = flagModePresence | flagModePublish | flagModeSubscribe | flagModePresenceSub | flagModeAnnotationPub | flagModeAnnotationSub | flagModeObjectSub | flagModeObjectPub
	defaultModes = flagModePresence | flagModePublish | flagModeSubscribe | flagModePresenceSub
)

// protocolMessage is Ably's ProtocolMessage; the same field names are used
// in JSON and msgpack.
type protocolMessage struct {
	Action            int                `json:"action" codec:"action"`
	Flags             int64              `json:"flags,omitempty" codec:"flags,omitempty"`
	Count             int                `json:"count,omitempty" codec:"count,omitempty"`
	Error             *errorInfo         `json:"error,omitempty" codec:"error,omitempty"`
	ID                string             `json:"id,omitempty" codec:"id,omitempty"`
	Channel           string             `json:"channel,omitempty" codec:"channel,omitempty"`
	ChannelSerial     string             `json:"channelSerial,omitempty" codec:"channelSerial,omitempty"`
	ConnectionID      string             `json:"connectionId,omitempty" codec:"connectionId,omitempty"`
	ConnectionKey     string             `json:"connectionKey,omitempty" codec:"connectionKey,omitempty"`
	ConnectionDetails *connectionDetails `json:"connectionDetails,omitempty" codec:"connectionDetails,omitempty"`
	MsgSerial         int64              `json:"msgSerial" codec:"msgSerial"`
	Timestamp         int64              `json:"timestamp,omitempty" codec:"timestamp,omitempty"`
	Messages          []*message         `json:"messages,omitempty" codec:"messages,omitempty"`
	Auth              *authDetails       `json:"auth,omitempty" codec:"auth,omitempty"`
	Params            map[string]string  `json:"params,omitempty" codec:"params,omitempty"`
	Res               []*publishResult   `json:"res,omitempty" codec:"res,omitempty"`
}

type connectionDetails struct {
	ClientID           string `json:"clientId,omitempty" codec:"clientId,omitempty"`
	ConnectionKey      string `json:"connectionKey" codec:"connectionKey"`
	MaxMessageSize     int64  `json:"maxMessageSize" codec:"maxMessageSize"`
	MaxFrameSize       int64  `json:"maxFrameSize" codec:"maxFrameSize"`
	MaxInboundRate     int64  `json:"maxInboundRate" codec:"maxInboundRate"`
	ConnectionStateTTL int64  `json:"connectionStateTtl" codec:"connectionStateTtl"`
	MaxIdleInterval    int64  `json:"maxIdleInterval" codec:"maxIdleInterval"`
	ServerID           string `json:"serverId" codec:"serverId"`
}

type authDetails struct {
	AccessToken string `json:"accessToken,omitempty" codec:"accessToken,omitempty"`
}

type publishResult struct {
	Serials []string `json:"serials" codec:"serials"`
}

// message is Ably's Message. data and encoding are stored and forwarded
// verbatim.
type message struct {
	ID           string         `json:"id,omitempty" codec:"id,omitempty"`
	ClientID     string         `json:"clientId,omitempty" codec:"clientId,omitempty"`
	ConnectionID string         `json:"connectionId,omitempty" codec:"connectionId,omitempty"`
	Name         string         `json:"name,omitempty" codec:"name,omitempty"`
	Data         any            `json:"data,omitempty" codec:"data,omitempty"`
	Encoding     string         `json:"encoding,omitempty" codec:"encoding,omitempty"`
	Timestamp    int64          `json:"timestamp,omitempty" codec:"timestamp,omitempty"`
	Extras       map[string]any `json:"extras,omitempty" codec:"extras,omitempty"`
	Serial       string         `json:"serial,omitempty" codec:"serial,omitempty"`
	Action       int            `json:"action" codec:"action"`
}

// wireFormat is the client's chosen encoding.
type wireFormat int

const (
	formatJSON wireFormat = iota
	formatMsgpack
)

func (f wireFormat) String() string {
	if f == formatMsgpack {
		return "msgpack"
	}
	return "json"
}

const (
	contentTypeJSON    = "application/json"
	contentTypeMsgpack = "application/x-msgpack"
)

func (f wireFormat) contentType() string {
	if f == formatMsgpack {
		return contentTypeMsgpack
	}
	return contentTypeJSON
}

// newMsgpackHandle configures msgpack like ably-go, except that bin stays
// []byte: maps decode as map[string]any, str decodes as string and bin as
// []byte, and strings and []byte encode as str and bin, so both round-trip.
func newMsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.WriteExt = true
	h.MapType = reflect.TypeOf(map[string]any(nil))
	h.MaxInitLen = 4096
	return h
}

// codecs encodes and decodes frames and bodies in both formats.
type codecs struct {
	mp *codec.MsgpackHandle
}

func newCodecs() codecs { return codecs{mp: newMsgpackHandle()} }

// decode decodes data in format f into v, never panicking.
func (c codecs) decode(f wireFormat, data []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode %s: %v", f, r)
		}
	}()
	if f == formatMsgpack {
		dec := codec.NewDecoderBytes(data, c.mp)
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("decode msgpack: %w", err)
		}
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode json: %w", err)
	}
	// More would report false before a stray ']' or '}', taking `{...}}`
	// for one value; only the end of the input may follow.
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decode json: trailing data")
	}
	return nil
}

// encode encodes v in format f.
func (c codecs) encode(f wireFormat, v any) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("encode %s: %v", f, r)
		}
	}()
	if f == formatMsgpack {
		if err := codec.NewEncoderBytes(&out, c.mp).Encode(v); err != nil {
			return nil, fmt.Errorf("encode msgpack: %w", err)
		}
		return out, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode json: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeFrame decodes one inbound ProtocolMessage.
func (c codecs) decodeFrame(f wireFormat, data []byte) (*protocolMessage, error) {
	var pm protocolMessage
	if err := c.decode(f, data, &pm); err != nil {
		return nil, err
	}
	for i, m := range pm.Messages {
		if m == nil {
			return nil, fmt.Errorf("messages[%d] is null", i)
		}
		m.normalize()
	}
	return &pm, nil
}

// encodeFrame encodes one outbound ProtocolMessage for a client.
func (c codecs) encodeFrame(f wireFormat, pm *protocolMessage) ([]byte, error) {
	if f == formatJSON && hasBinary(pm.Messages) {
		cp := *pm
		cp.Messages = forJSON(pm.Messages)
		pm = &cp
	}
	return c.encode(f, pm)
}

func hasBinary(ms []*message) bool {
	for _, m := range ms {
		if _, ok := m.Data.([]byte); ok {
			return true
		}
	}
	return false
}

// forJSON returns ms with binary data base64-encoded for a JSON client, as
// Ably does: "base64" is appended to the encoding.
func forJSON(ms []*message) []*message {
	out := make([]*message, len(ms))
	for i, m := range ms {
		b, ok := m.Data.([]byte)
		if !ok {
			out[i] = m
			continue
		}
		cp := *m
		cp.Data = base64.StdEncoding.EncodeToString(b)
		if cp.Encoding == "" {
			cp.Encoding = "base64"
		} else {
			cp.Encoding += "/base64"
		}
		out[i] = &cp
	}
	return out
}

// normalize converts decoded JSON numbers into int64 or float64 so data
// and extras encode the same way in both formats.
func (m *message) normalize() {
	m.Data = normalizeJSON(m.Data)
	if m.Extras != nil {
		m.Extras, _ = normalizeJSON(m.Extras).(map[string]any)
	}
}

func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		if f, err := x.Float64(); err == nil {
			return f
		}
		return x.String()
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeJSON(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeJSON(e)
		}
		return x
	default:
		return v
	}
}

// size is the message size as Ably counts it: name, clientId, data and
// extras.
func (m *message) size() (int, error) {
	n := len(m.Name) + len(m.ClientID)
	switch d := m.Data.(type) {
	case nil:
	case string:
		n += len(d)
	case []byte:
		n += len(d)
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return 0, fmt.Errorf("data is not JSON-encodable: %w", err)
		}
		n += len(b)
	}
	if m.Extras != nil {
		b, err := json.Marshal(m.Extras)
		if err != nil {
			return 0, fmt.Errorf("extras are not JSON-encodable: %w", err)
		}
		n += len(b)
	}
	return n, nil
}

// parseFormat maps the format query parameter; empty means JSON.
func parseFormat(s string) (wireFormat, bool) {
	switch strings.ToLower(s) {
	case "", "json":
		return formatJSON, true
	case "msgpack":
		return formatMsgpack, true
	}
	return formatJSON, false
}
