package ablylocal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
