package ablylocal

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzDecodeFrame(f *testing.F) {
	c := newCodecs()
	seeds := []*protocolMessage{
		{Action: actionAttach, Channel: "[?rewind=1]a:b", Flags: flagAttachResume | flagModeSubscribe, ChannelSerial: formatSerial(1, 2), Params: map[string]string{"rewind": "10s"}},
		{Action: actionMessage, Channel: "ai:x", MsgSerial: 3, Messages: []*message{
			{Name: "n", Data: map[string]any{"k": []any{int64(1), "two", 3.5, nil, true}}, Extras: map[string]any{"userClaim": "x", "headers": map[string]any{"toolCallId": "t"}}},
			{Data: []byte{0, 1, 2}, Encoding: "utf-8"},
		}},
		{Action: actionAuth, Auth: &authDetails{AccessToken: "a.b.c"}},
		{Action: actionHeartbeat, ID: "ping"},
	}
	for _, pm := range seeds {
		for _, format := range []wireFormat{formatJSON, formatMsgpack} {
			b, err := c.encodeFrame(format, pm)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, format == formatMsgpack)
		}
	}
	f.Add([]byte(`{"action":15,"messages":[null]}`), false)
	f.Add([]byte(`{"action":15,"messages":[{"data":1e400}]}`), false)
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, true)
	f.Add([]byte{0x81, 0xa8, 'm', 'e', 's', 's', 'a', 'g', 'e', 's', 0xdd, 0xff, 0xff, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, data []byte, msgpack bool) {
		format := formatJSON
		if msgpack {
			format = formatMsgpack
		}
		pm, err := c.decodeFrame(format, data)
		if err != nil {
			return
		}
		for _, m := range pm.Messages {
			_, _ = m.size()
			_ = stampUserClaim(m.Extras, map[string]any{"ably.channel.*": "r"}, "c")
		}
		// Whatever decodes must re-encode (or fail cleanly) in both formats.
		_, _ = c.encodeFrame(formatJSON, pm)
		_, _ = c.encodeFrame(formatMsgpack, pm)
		_, _, _ = parseChannelName(pm.Channel)
		if v, ok := pm.Params["rewind"]; ok {
			_, _ = parseRewind(v)
		}
	})
}

func FuzzParseJWT(f *testing.F) {
	kr, err := newKeyring([]Key{{Name: testKeyName, Secret: testSecret}})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	claims := map[string]any{"iat": now.Unix(), "exp": now.Unix() + 60, "x-ably-clientId": "u", "x-ably-capability": `{"*":["*"]}`, "ably.channel.*": "r"}
	f.Add(rawJWT(map[string]any{"alg": "HS256", "kid": testKeyName}, claims, testSecret, hs256))
	f.Add(rawJWT(map[string]any{"alg": "none", "kid": testKeyName}, claims, testSecret, nil))
	f.Add(rawJWT(map[string]any{"alg": "HS256", "kid": testKeyName}, map[string]any{"exp": "soon"}, testSecret, hs256))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, tok string) {
		p, e := kr.verifyJWT(tok, now)
		if (p == nil) == (e == nil) {
			t.Fatalf("verifyJWT returned principal %v and error %v", p, e)
		}
		if e != nil {
			if e.StatusCode != 401 || (e.Code != codeInvalidToken && e.Code != codeTokenExpired) {
				t.Fatalf("unexpected error %v", e)
			}
			return
		}
		// Accepted: it must be HS256, signed with the key, and unexpired.
		parts := strings.Split(tok, ".")
		hb, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
		var h struct{ Alg, Kid string }
		if err := json.Unmarshal(hb, &h); err != nil || h.Alg != "HS256" || h.Kid != testKeyName {
			t.Fatalf("accepted header %q", hb)
		}
		mac := hmac.New(sha256.New, []byte(testSecret))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		sig, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
		if !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatal("accepted a bad signature")
		}
		if !p.expires.After(now) {
			t.Fatal("accepted an expired token")
		}
	})
}

// TestJSONTrailingData: a frame or a capability is one JSON value and
// nothing after it but white space; encoding/json's More reports no more
// before a stray ']' or '}', which took `{...}}` for one value.
func TestJSONTrailingData(t *testing.T) {
	c := newCodecs()
	for _, tt := range []struct {
		tail string
		ok   bool
	}{{"", true}, {" \n\t", true}, {"}", false}, {"]", false}, {" }", false}, {"{}", false}, {"1", false}, {",", false}} {
		_, err := c.decodeFrame(formatJSON, []byte(`{"action":0}`+tt.tail))
		if (err == nil) != tt.ok {
			t.Errorf("frame with %q after it: %v, want ok %v", tt.tail, err, tt.ok)
		}
		_, err = parseCapability(`{"a":["publish"]}` + tt.tail)
		if (err == nil) != tt.ok {
			t.Errorf("capability with %q after it: %v, want ok %v", tt.tail, err, tt.ok)
		}
	}
}

func FuzzCapability(f *testing.F) {
	f.Add(`{"*":["*"]}`, "a:b", "ns:*")
	f.Add(`{"ns:*":["subscribe"],"a:*:c":["publish"]}`, "a:b:c", "a:*:c")
	f.Add(`{"[*]*":["history"]}`, "[meta]x", "[*]*")
	f.Add(`{"foo*":["presence"]}`, "foo*", "foo*")
	f.Add(`[]`, "", "")
	f.Fuzz(func(t *testing.T, capJSON, channel, pattern string) {
		_ = matchResource(pattern, channel)
		_ = rankPattern(pattern)
		_, _ = userClaimFor(map[string]any{userClaimPrefix + pattern: 1.5, userClaimPrefix + "*": "x"}, channel)
		c, err := parseCapability(capJSON)
		if err != nil {
			return
		}
		for _, op := range []string{opPublish, opSubscribe, opPresence, opHistory} {
			allowed := c.allows(channel, op)
			if allowed && !(grant{c, allRights()}).allows(channel, op) {
				t.Fatalf("intersection with all rights lost %s on %q", op, channel)
			}
			if (grant{c, capability{}}).allows(channel, op) {
				t.Fatal("intersection with nothing allowed something")
			}
		}
	})
}

// FuzzDecodeRESTMessages feeds REST publish bodies through the decoder and
// the publish rules of a server without a listener: whatever decodes is
// either refused with a 4xx error or stored, one serial per message.
func FuzzDecodeRESTMessages(f *testing.F) {
	c := newCodecs()
	seeds := []any{
		[]*message{{Name: "a", Data: "1"}, {ID: "x:0", Name: "b", Data: map[string]any{"k": 1.5}, Extras: map[string]any{"headers": map[string]any{"toolCallId": "t"}}}},
		&message{Name: "single", Data: []byte{1, 2}, Encoding: "utf-8"},
		[]*message{{ID: "dup:0"}, {ID: "dup:0"}},
		[]*message{{ClientID: "*"}},
	}
	for _, v := range seeds {
		for _, format := range []wireFormat{formatJSON, formatMsgpack} {
			b, err := c.encode(format, v)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, format == formatMsgpack)
		}
	}
	f.Add([]byte(`[null]`), false)
	f.Add([]byte(` {"data":1e400}`), false)
	f.Add([]byte(`[{"extras":{"userClaim":"forged"}}] x`), false)
	f.Add([]byte{0x91, 0xc0}, true)
	f.Add([]byte{0xdf, 0xff, 0xff, 0xff, 0xff}, true)
	srv, err := newServer(context.Background(), Config{Keys: []Key{{Name: testKeyName, Secret: testSecret}}})
	if err != nil {
		f.Fatal(err)
	}
	p, e := srv.keys.basic(testKey)
	if e != nil {
		f.Fatal(e)
	}
	f.Fuzz(func(t *testing.T, body []byte, msgpack bool) {
		format := formatJSON
		if msgpack {
			format = formatMsgpack
		}
		msgs, err := c.decodeMessages(format, body)
		if err != nil {
			return
		}
		for i, m := range msgs {
			if m == nil {
				t.Fatalf("message %d decoded as nil", i)
			}
		}
		serials, e := srv.publish(publisher{p: p, idBase: "fuzz"}, "fuzz", msgs)
		if e != nil {
			if e.StatusCode < 400 || e.StatusCode > 499 {
				t.Fatalf("publish refused with %v, want a 4xx", e)
			}
			return
		}
		if len(serials) != len(msgs) {
			t.Fatalf("%d serials for %d messages", len(serials), len(msgs))
		}
		for i, s := range serials {
			if !validSerial(s) {
				t.Fatalf("serial %d = %q", i, s)
			}
		}
	})
}

// FuzzParseHistoryQuery parses history query strings and runs accepted
// queries against a small channel: a page never exceeds the limit, stays
// within the start/end and fromSerial bounds, and is ordered.
func FuzzParseHistoryQuery(f *testing.F) {
	ch := &channel{ids: map[string]idRecord{}}
	for i := int64(1); i <= 12; i++ {
		s := formatSerial(1, i)
		ch.msgs = append(ch.msgs, storedMessage{serial: s, msg: &message{Serial: s, Timestamp: 1000 * i}})
	}
	f.Add("limit=2&direction=forwards&start=2000&end=9000")
	f.Add("fromSerial=" + formatSerial(1, 5) + "&limit=3")
	f.Add("from_serial=" + formatSerial(1, 5) + "&cursor=" + formatSerial(1, 4))
	f.Add("direction=sideways")
	f.Add("limit=0")
	f.Add("start=9&end=1")
	f.Add("cursor=zz&%zz")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, e := parseHistoryQuery(v)
		if e != nil {
			if e.Code != codeBadRequest || e.StatusCode != statusBadRequest {
				t.Fatalf("refused with %v, want 40000/400", e)
			}
			return
		}
		if q.limit < 1 || q.limit > maxHistoryLimit {
			t.Fatalf("accepted limit %d", q.limit)
		}
		if (q.until != "" && !validSerial(q.until)) || (q.cursor != "" && !validSerial(q.cursor)) {
			t.Fatalf("accepted serial bounds %q %q", q.until, q.cursor)
		}
		page, _ := ch.history(q)
		if len(page) > q.limit {
			t.Fatalf("page of %d over limit %d", len(page), q.limit)
		}
		for i, m := range page {
			if (q.start > 0 && m.Timestamp < q.start) || (q.end > 0 && m.Timestamp > q.end) {
				t.Fatalf("message at %d outside [%d, %d]", m.Timestamp, q.start, q.end)
			}
			if q.until != "" && m.Serial > q.until {
				t.Fatalf("message %s after fromSerial %s", m.Serial, q.until)
			}
			if i > 0 && (m.Serial > page[i-1].Serial) != q.forwards {
				t.Fatalf("page out of order: %s then %s (forwards %v)", page[i-1].Serial, m.Serial, q.forwards)
			}
		}
	})
}

// FuzzVerifyToken feeds token strings to the token verifier: a native
// token is accepted only with its key's MAC and before it expires, and
// every refusal is a 401 token error.
func FuzzVerifyToken(f *testing.F) {
	kr, err := newKeyring([]Key{{Name: testKeyName, Secret: testSecret}})
	if err != nil {
		f.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c := nativeClaims{KeyName: testKeyName, ClientID: "u", Capability: `{"*":["*"]}`, Issued: now.UnixMilli(), Expires: now.Add(time.Minute).UnixMilli(), Nonce: "n"}
	good, err := signNativeToken(c, testSecret)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	c.Expires = now.UnixMilli()
	expired, _ := signNativeToken(c, testSecret)
	f.Add(expired)
	f.Add("abc.def")
	f.Add(".")
	f.Add(rawJWT(map[string]any{"alg": "HS256", "kid": testKeyName}, map[string]any{"iat": now.Unix(), "exp": now.Unix() + 60}, testSecret, hs256))
	f.Fuzz(func(t *testing.T, tok string) {
		p, e := kr.verifyToken(tok, now)
		if (p == nil) == (e == nil) {
			t.Fatalf("verifyToken returned principal %v and error %v", p, e)
		}
		if e != nil {
			if e.StatusCode != 401 || e.Code < 40140 || e.Code > 40149 {
				t.Fatalf("unexpected error %v", e)
			}
			return
		}
		if !p.token || !p.expires.After(now) {
			t.Fatalf("accepted %q as %+v", tok, p)
		}
		if strings.Count(tok, ".") != 1 {
			return // a JWT: FuzzParseJWT checks those
		}
		payload, sig, _ := strings.Cut(tok, ".")
		mac, err := base64.RawURLEncoding.DecodeString(sig)
		if err != nil || !hmac.Equal(mac, nativeMAC(testSecret, payload)) {
			t.Fatalf("accepted a native token without its MAC: %q", tok)
		}
	})
}

// FuzzRequestToken feeds token requests to POST /keys/{key}/requestToken,
// which anyone may reach before any authentication: a token is issued only
// to the key's own Basic credentials (a signed TokenRequest's MAC cannot be
// guessed), never with more rights than the key or a longer life than
// maxTokenTTL, and a request it refuses is a 4xx, never a server error.
func FuzzRequestToken(f *testing.F) {
	const keyCap = `{"ai:*":["publish","subscribe"],"other":["history"]}`
	s, err := newServer(context.Background(), Config{Keys: []Key{{Name: testKeyName, Secret: testSecret, Capability: keyCap}}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.cancel)
	keyRights, err := parseCapability(keyCap)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{}`), uint8(1), false)
	f.Add([]byte(`{"keyName":"`+testKeyName+`","capability":"{\"ai:x\":[\"*\"]}","ttl":60000,"clientId":"u"}`), uint8(1), false)
	f.Add([]byte(`{"capability":"{\"*\":[\"*\"]}","ttl":-1}`), uint8(1), false)
	f.Add([]byte(`{"keyName":"`+testKeyName+`","mac":"AAAA","timestamp":1800000000000,"nonce":"n","capability":"{\"*\":[\"*\"]}"}`), uint8(0), false)
	f.Add([]byte{0x80}, uint8(2), true)
	f.Fuzz(func(t *testing.T, body []byte, auth uint8, msgpack bool) {
		req := httptest.NewRequest(http.MethodPost, "/keys/"+testKeyName+"/requestToken", bytes.NewReader(body))
		if msgpack {
			req.Header.Set("Content-Type", "application/x-msgpack")
		} else {
			req.Header.Set("Content-Type", "application/json")
		}
		right := auth%3 == 1
		switch auth % 3 {
		case 1:
			req.SetBasicAuth(testKeyName, testSecret)
		case 2:
			req.SetBasicAuth(testKeyName, "wrong")
		}
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("server error %d: %s", rec.Code, rec.Body)
		}
		if rec.Code != http.StatusOK {
			return
		}
		if !right {
			t.Fatalf("a token issued without the key's credentials, for body %q: %s", body, rec.Body)
		}
		var td tokenDetails
		if err := json.Unmarshal(rec.Body.Bytes(), &td); err != nil {
			t.Fatalf("token details: %v: %s", err, rec.Body)
		}
		if life := time.Duration(td.Expires-td.Issued) * time.Millisecond; life <= 0 || life > maxTokenTTL {
			t.Fatalf("a token that lives %s", life)
		}
		granted, err := parseCapability(td.Capability)
		if err != nil {
			t.Fatalf("issued capability %q: %v", td.Capability, err)
		}
		for _, ch := range []string{"ai:x", "ai:big-bad-any", "other", "secret", "[?rewind=1]ai:x", "x"} {
			for _, op := range []string{opPublish, opSubscribe, opPresence, opHistory} {
				if granted.allows(ch, op) && !keyRights.allows(ch, op) {
					t.Fatalf("token capability %s allows %s on %s, which the key does not", td.Capability, op, ch)
				}
			}
		}
	})
}
