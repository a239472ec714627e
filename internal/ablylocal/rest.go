package ablylocal

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveRoot)
	mux.HandleFunc("GET /time", s.serveTime)
	mux.HandleFunc("GET /is-the-internet-up.txt", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "yes\n")
	})
	mux.HandleFunc("POST /channels/{channel}/messages", s.servePublish)
	mux.HandleFunc("GET /channels/{channel}/messages", s.serveHistory)
	mux.HandleFunc("GET /channels/{channel}/history", s.serveHistory)
	mux.HandleFunc("POST /keys/{keyName}/requestToken", s.serveRequestToken)
	mux.HandleFunc("PATCH /channels/{channel}/messages/{serial}", s.serveMessageOperation)
	// Everything else authenticates first, as Ably does: bad credentials
	// are a 401 with their own code, good ones a 404.
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if _, e := s.authenticateREST(r); e != nil {
			s.writeError(w, r, e)
			return
		}
		s.writeError(w, r, newError(codeNotFound, statusNotFound, "%s %s is not implemented by the local Ably server", r.Method, r.URL.Path))
	})
	return mux
}

// serveRoot is the WebSocket endpoint; a plain GET answers with a banner.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		s.serveWS(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "local Ably-protocol server\n")
}

// responseFormat picks the format the Accept header asks for.
func responseFormat(r *http.Request) wireFormat {
	if strings.Contains(r.Header.Get("Accept"), contentTypeMsgpack) {
		return formatMsgpack
	}
	return formatJSON
}

func (s *Server) write(w http.ResponseWriter, r *http.Request, status int, v any) {
	f := responseFormat(r)
	b, err := s.codecs.encode(f, v)
	if err != nil {
		s.log.Error("encode response", "err", err)
		s.writeError(w, r, newError(codeInternal, statusInternal, "cannot encode response"))
		return
	}
	w.Header().Set("Content-Type", f.contentType())
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, e *errorInfo) {
	f := responseFormat(r)
	b, err := s.codecs.encode(f, map[string]any{"error": e})
	if err != nil {
		f, b = formatJSON, []byte(`{"error":{"code":50000,"statusCode":500,"message":"internal error"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType())
	h.Set("X-Ably-Errorcode", strconv.Itoa(e.Code))
	h.Set("X-Ably-Errormessage", strings.NewReplacer("\r", " ", "\n", " ").Replace(e.Message))
	w.WriteHeader(e.StatusCode)
	_, _ = w.Write(b)
}

func (s *Server) serveTime(w http.ResponseWriter, r *http.Request) {
	s.write(w, r, http.StatusOK, []int64{s.now().UnixMilli()})
}

// authenticateREST reads Basic key or Bearer token auth (Bearer is
// base64(token) from the SDKs, or a raw JWT).
func (s *Server) authenticateREST(r *http.Request) (*principal, *errorInfo) {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	var p *principal
	var e *errorInfo
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return nil, newError(codeNoCredentials, statusUnauthorized, "malformed Basic credentials")
		}
		p, e = s.keys.basic(string(raw))
	case "bearer":
		tok := cred
		if !strings.Contains(tok, ".") {
			raw, err := base64.StdEncoding.DecodeString(tok)
			if err != nil {
				if raw, err = base64.RawURLEncoding.DecodeString(tok); err != nil {
					return nil, errInvalidToken("malformed Bearer token")
				}
			}
			tok = string(raw)
		}
		p, e = s.keys.verifyToken(tok, s.now())
	default:
		return nil, newError(codeNoCredentials, statusUnauthorized, "no credentials: use Basic key or Bearer token auth")
	}
	if e != nil {
		return nil, e
	}
	if v := r.Header.Get("X-Ably-ClientId"); v != "" {
		cid, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, errBadRequest("X-Ably-ClientId must be base64")
		}
		if e := applyClientID(p, string(cid)); e != nil {
			return nil, e
		}
	}
	return p, nil
}

// servePublish handles POST /channels/{channel}/messages.
func (s *Server) servePublish(w http.ResponseWriter, r *http.Request) {
	p, e := s.authenticateREST(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, defaultMaxFrameSize+1))
	if err != nil {
		s.writeError(w, r, errBadRequest("read body: %v", err))
		return
	}
	if len(body) > defaultMaxFrameSize {
		s.writeError(w, r, newError(codeMessageTooLarge, statusRequestTooLarge, "request body exceeds %d bytes", defaultMaxFrameSize))
		return
	}
	f := requestFormat(r)
	msgs, err := s.codecs.decodeMessages(f, body)
	if err != nil {
		s.writeError(w, r, errBadRequest("malformed %s body: %v", f, err))
		return
	}
	serials, e := s.publish(publisher{p: p, idBase: randomID(9)}, r.PathValue("channel"), msgs)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.write(w, r, http.StatusCreated, map[string]any{"serials": serials})
}

// serveMessageOperation handles PATCH /channels/{channel}/messages/{serial}
// (REST message update, delete and append): refused with 93002 after
// authentication, as on a channel without the mutable-messages rule.
func (s *Server) serveMessageOperation(w http.ResponseWriter, r *http.Request) {
	if _, e := s.authenticateREST(r); e != nil {
		s.writeError(w, r, e)
		return
	}
	var m message
	what := "update"
	body, err := io.ReadAll(io.LimitReader(r.Body, defaultMaxFrameSize))
	if err == nil && s.codecs.decode(requestFormat(r), body, &m) == nil {
		switch m.Action {
		case messageDelete:
			what = "delete"
		case messageAppend:
			what = "append"
		}
	}
	s.writeError(w, r, errMutableMessages(what))
}

// requestFormat is the format of a request body, by its Content-Type.
func requestFormat(r *http.Request) wireFormat {
	if strings.Contains(r.Header.Get("Content-Type"), "msgpack") {
		return formatMsgpack
	}
	return formatJSON
}

// decodeMessages decodes a REST publish body: an array of messages or a
// single message.
func (c codecs) decodeMessages(f wireFormat, body []byte) ([]*message, error) {
	var msgs []*message
	single := false
	if f == formatJSON {
		single = bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{"))
	} else if len(body) > 0 {
		b := body[0]
		single = b&0xf0 == 0x80 || b == 0xde || b == 0xdf
	}
	if single {
		var m message
		if err := c.decode(f, body, &m); err != nil {
			return nil, err
		}
		msgs = []*message{&m}
	} else if err := c.decode(f, body, &msgs); err != nil {
		return nil, err
	}
	for i, m := range msgs {
		if m == nil {
			return nil, fmt.Errorf("message %d is null", i)
		}
		m.normalize()
	}
	return msgs, nil
}

// serveHistory handles GET /channels/{channel}/history (ably-go) and
// /messages (ably-js).
func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	p, e := s.authenticateREST(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	base, _, err := parseChannelName(r.PathValue("channel"))
	if err != nil {
		s.writeError(w, r, errBadRequest("%v", err))
		return
	}
	if !p.grant.allows(base, opHistory) {
		s.writeError(w, r, errCapability("action not permitted: history on channel %q", base))
		return
	}
	params := r.URL.Query()
	q, e := parseHistoryQuery(params)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.mu.Lock()
	ch := s.channels[base]
	s.mu.Unlock()
	msgs := []*message{}
	more := false
	if ch != nil {
		if page, m := ch.history(q); page != nil {
			msgs, more = page, m
		}
	}
	seg := "history"
	if strings.HasSuffix(r.URL.Path, "/messages") {
		seg = "messages"
	}
	params.Del("cursor")
	w.Header().Add("Link", fmt.Sprintf(`<./%s?%s>; rel="first"`, seg, params.Encode()))
	if more {
		next := url.Values{}
		for k, v := range params {
			next[k] = v
		}
		next.Set("cursor", msgs[len(msgs)-1].Serial)
		w.Header().Add("Link", fmt.Sprintf(`<./%s?%s>; rel="next"`, seg, next.Encode()))
	}
	if responseFormat(r) == formatJSON {
		msgs = forJSON(msgs)
	}
	s.write(w, r, http.StatusOK, msgs)
}

func parseHistoryQuery(v url.Values) (historyQuery, *errorInfo) {
	q := historyQuery{limit: defaultHistoryLimit}
	num := func(name string) (int64, *errorInfo) {
		s := v.Get(name)
		if s == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return 0, errBadRequest("invalid %s %q", name, s)
		}
		return n, nil
	}
	var e *errorInfo
	if q.start, e = num("start"); e != nil {
		return q, e
	}
	if q.end, e = num("end"); e != nil {
		return q, e
	}
	if q.start > 0 && q.end > 0 && q.start > q.end {
		return q, errBadRequest("start must not be after end")
	}
	if v.Get("limit") != "" {
		n, e := num("limit")
		if e != nil {
			return q, e
		}
		if n < 1 || n > maxHistoryLimit {
			return q, errBadRequest("limit must be between 1 and %d", maxHistoryLimit)
		}
		q.limit = int(n)
	}
	switch d := v.Get("direction"); d {
	case "", "backwards":
	case "forwards":
		q.forwards = true
	default:
		return q, errBadRequest("invalid direction %q", d)
	}
	q.until = v.Get("fromSerial")
	if q.until == "" {
		q.until = v.Get("from_serial")
	}
	if q.until != "" && !validSerial(q.until) {
		return q, errBadRequest("invalid fromSerial %q", q.until)
	}
	q.cursor = v.Get("cursor")
	if q.cursor != "" && !validSerial(q.cursor) {
		return q, errBadRequest("invalid cursor %q", q.cursor)
	}
	return q, nil
}
