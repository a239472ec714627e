// Ably native tokens: POST /keys/{keyName}/requestToken for signed
// TokenRequests and for key-authenticated (Basic) TokenParams, the
// TokenDetails it answers with, and verifying the tokens it issued.

package ablylocal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	// defaultTokenTTL and maxTokenTTL are Ably's default (60 min) and
	// maximum (24 h) token lifetimes.
	defaultTokenTTL = time.Hour
	maxTokenTTL     = 24 * time.Hour
	// tokenRequestWindow is how far a signed TokenRequest's timestamp may
	// be from the server's clock (our choice; Ably documents none). Its
	// nonce is remembered for as long.
	tokenRequestWindow = 10 * time.Minute
	// minNonceLen is the shortest nonce accepted (TE2: "at least 16
	// characters").
	minNonceLen = 16
	// maxNonces bounds the remembered nonces (our choice).
	maxNonces = 100_000
	// maxTokenRequestBody bounds a requestToken body.
	maxTokenRequestBody = 64 << 10
	// nativeTokenDomain separates native-token MACs from anything else
	// signed with a key's secret.
	nativeTokenDomain = "ablylocal native token v1\n"
)

// tokenRequest is a TokenRequest (signed, with mac) or TokenParams
// (key-authenticated) as ably-go and ably-js send them.
type tokenRequest struct {
	KeyName    string  `json:"keyName,omitempty" codec:"keyName,omitempty"`
	TTL        *int64  `json:"ttl,omitempty" codec:"ttl,omitempty"`
	Capability *string `json:"capability,omitempty" codec:"capability,omitempty"`
	ClientID   *string `json:"clientId,omitempty" codec:"clientId,omitempty"`
	Timestamp  *int64  `json:"timestamp,omitempty" codec:"timestamp,omitempty"`
	Nonce      string  `json:"nonce,omitempty" codec:"nonce,omitempty"`
	MAC        string  `json:"mac,omitempty" codec:"mac,omitempty"`
}

// signText is the canonical text a TokenRequest's mac covers: keyName,
// ttl, capability, clientId, timestamp and nonce, each followed by a
// newline, absent fields empty.
func (tr *tokenRequest) signText() string {
	opt := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	return tr.KeyName + "\n" + opt(tr.TTL) + "\n" + str(tr.Capability) + "\n" + str(tr.ClientID) + "\n" +
		opt(tr.Timestamp) + "\n" + tr.Nonce + "\n"
}

// tokenRequestMAC is base64(HMAC-SHA256(secret, signText)).
func tokenRequestMAC(secret, text string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(text))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// tokenDetails is Ably's TokenDetails.
type tokenDetails struct {
	Token      string `json:"token" codec:"token"`
	KeyName    string `json:"keyName" codec:"keyName"`
	Issued     int64  `json:"issued" codec:"issued"`
	Expires    int64  `json:"expires" codec:"expires"`
	Capability string `json:"capability" codec:"capability"`
	ClientID   string `json:"clientId,omitempty" codec:"clientId,omitempty"`
}

// nativeClaims is what a native token carries, signed with its key.
type nativeClaims struct {
	KeyName    string `json:"k"`
	ClientID   string `json:"c,omitempty"`
	Capability string `json:"p"`
	Issued     int64  `json:"i"`
	Expires    int64  `json:"x"`
	Nonce      string `json:"n"`
}

// serveRequestToken handles POST /keys/{keyName}/requestToken.
func (s *Server) serveRequestToken(w http.ResponseWriter, r *http.Request) {
	td, e := s.requestToken(r)
	if e != nil {
		s.writeError(w, r, e)
		return
	}
	s.write(w, r, http.StatusOK, td)
}

func (s *Server) requestToken(r *http.Request) (*tokenDetails, *errorInfo) {
	keyName := r.PathValue("keyName")
	key, ok := s.keys[keyName]
	if !ok {
		return nil, newError(codeNotFound, statusNotFound, "invalid key: no such key name %q", keyName)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequestBody+1))
	if err != nil {
		return nil, errBadRequest("read body: %v", err)
	}
	if len(body) > maxTokenRequestBody {
		return nil, newError(codeMessageTooLarge, statusRequestTooLarge, "token request body exceeds %d bytes", maxTokenRequestBody)
	}
	var tr tokenRequest
	if err := s.codecs.decode(requestFormat(r), body, &tr); err != nil {
		return nil, errBadRequest("malformed token request: %v", err)
	}
	if tr.KeyName != "" && tr.KeyName != keyName {
		return nil, newError(codeNoCredentials, statusUnauthorized, "token request keyName %q does not match the key %q it was sent to", tr.KeyName, keyName)
	}
	now := s.now()
	if tr.MAC != "" {
		if e := s.checkSignedTokenRequest(&tr, key, now); e != nil {
			return nil, e
		}
	} else if e := s.checkKeyAuth(r, keyName); e != nil {
		return nil, e
	}
	ttl := defaultTokenTTL
	if tr.TTL != nil && *tr.TTL != 0 {
		if *tr.TTL < 0 || *tr.TTL > maxTokenTTL.Milliseconds() {
			return nil, newError(codeInvalidParam, statusBadRequest, "invalid ttl %d: want 1 to %d ms", *tr.TTL, maxTokenTTL.Milliseconds())
		}
		ttl = time.Duration(*tr.TTL) * time.Millisecond
	}
	granted := key.cap
	if tr.Capability != nil && *tr.Capability != "" {
		requested, err := parseCapability(*tr.Capability)
		if err != nil {
			return nil, errBadRequest("invalid capability: %v", err)
		}
		granted = intersectCapability(requested, key.cap)
		if len(granted) == 0 {
			return nil, errCapability("key does not support the requested capability %s", *tr.Capability)
		}
	}
	c := nativeClaims{
		KeyName:    keyName,
		Capability: granted.String(),
		Issued:     now.UnixMilli(),
		Expires:    now.Add(ttl).UnixMilli(),
		Nonce:      randomID(9),
	}
	if tr.ClientID != nil {
		c.ClientID = *tr.ClientID
	}
	tok, err := signNativeToken(c, key.Secret)
	if err != nil {
		return nil, newError(codeInternal, statusInternal, "cannot issue token: %v", err)
	}
	return &tokenDetails{Token: tok, KeyName: keyName, Issued: c.Issued, Expires: c.Expires, Capability: c.Capability, ClientID: c.ClientID}, nil
}

// checkSignedTokenRequest checks a TokenRequest's mac, timestamp and nonce
// (once only).
func (s *Server) checkSignedTokenRequest(tr *tokenRequest, key keyEntry, now time.Time) *errorInfo {
	if tr.KeyName == "" {
		return newError(codeNoCredentials, statusUnauthorized, "signed token request without keyName")
	}
	if !hmac.Equal([]byte(tr.MAC), []byte(tokenRequestMAC(key.Secret, tr.signText()))) {
		return newError(codeNoCredentials, statusUnauthorized, "invalid mac: the token request is not signed with key %q", key.Name)
	}
	if tr.Timestamp == nil {
		return newError(codeTimestampNotCurrent, statusUnauthorized, "Timestamp not current: the token request has no timestamp")
	}
	ts := time.UnixMilli(*tr.Timestamp)
	if d := now.Sub(ts); d > tokenRequestWindow || d < -tokenRequestWindow {
		return newError(codeTimestampNotCurrent, statusUnauthorized, "Timestamp not current: %s off the server's clock (at most %s)", d.Round(time.Second), tokenRequestWindow)
	}
	if len(tr.Nonce) < minNonceLen {
		return newError(codeInvalidParam, statusBadRequest, "nonce must be at least %d characters", minNonceLen)
	}
	return s.useNonce(key.Name+"\n"+tr.Nonce, now)
}

// useNonce records a signed request's nonce; a second use within the
// window is a replay.
func (s *Server) useNonce(id string, now time.Time) *errorInfo {
	s.nonceMu.Lock()
	defer s.nonceMu.Unlock()
	nowMs := now.UnixMilli()
	if exp, ok := s.nonces[id]; ok && exp > nowMs {
		return newError(codeNonceReplayed, statusUnauthorized, "Nonce value replayed")
	}
	if len(s.nonces) >= maxNonces {
		s.pruneNoncesLocked(nowMs)
		if len(s.nonces) >= maxNonces {
			return newError(codeRateLimited, statusTooManyRequests, "too many token requests; try again later")
		}
	}
	// Twice the window: a timestamp up to the window ahead stays valid
	// until the window has passed after it.
	s.nonces[id] = nowMs + 2*tokenRequestWindow.Milliseconds()
	return nil
}

func (s *Server) pruneNoncesLocked(nowMs int64) {
	for id, exp := range s.nonces {
		if exp <= nowMs {
			delete(s.nonces, id)
		}
	}
}

// checkKeyAuth authenticates an unsigned token request: only Basic auth
// with the key it names may issue a token that way.
func (s *Server) checkKeyAuth(r *http.Request, keyName string) *errorInfo {
	scheme, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	switch strings.ToLower(scheme) {
	case "basic":
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
		if err != nil {
			return newError(codeNoCredentials, statusUnauthorized, "malformed Basic credentials")
		}
		p, e := s.keys.basic(string(raw))
		if e != nil {
			return e
		}
		if p.keyName != keyName {
			return newError(codeNoCredentials, statusUnauthorized, "Basic credentials are for key %q, not %q", p.keyName, keyName)
		}
		return nil
	case "bearer":
		return newError(codeRequiresBasicAuth, statusUnauthorized, "requestToken needs a signed TokenRequest or Basic auth with the key, not a token")
	}
	return newError(codeNoCredentials, statusUnauthorized, "no credentials: send a signed TokenRequest or use Basic auth with the key")
}

// signNativeToken encodes c as base64url(JSON) "." base64url(HMAC).
func signNativeToken(c nativeClaims, secret string) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(nativeMAC(secret, payload)), nil
}

func nativeMAC(secret, payload string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(nativeTokenDomain + payload))
	return m.Sum(nil)
}

// verifyToken checks a token credential: an Ably native token (one ".",
// as Ably's own) or a JWT (everything else).
func (kr keyring) verifyToken(tok string, now time.Time) (*principal, *errorInfo) {
	if strings.Count(tok, ".") == 1 {
		return kr.verifyNative(tok, now)
	}
	return kr.verifyJWT(tok, now)
}

// verifyNative checks a native token this server issued: its MAC under the
// key it names, then its expiry. Anything else is unrecognised (40143).
func (kr keyring) verifyNative(tok string, now time.Time) (*principal, *errorInfo) {
	unrecognised := newError(codeTokenUnrecognised, statusUnauthorized, "token unrecognised")
	payload, sig, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, unrecognised
	}
	var c nativeClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, unrecognised
	}
	key, ok := kr[c.KeyName]
	if !ok {
		return nil, unrecognised
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, nativeMAC(key.Secret, payload)) {
		return nil, unrecognised
	}
	capab, err := parseCapability(c.Capability)
	if err != nil {
		return nil, unrecognised
	}
	exp := time.UnixMilli(c.Expires)
	if !exp.After(now) {
		return nil, newError(codeTokenExpired, statusUnauthorized, "token expired")
	}
	// The key's current capability still applies, as for a JWT.
	return &principal{keyName: key.Name, clientID: c.ClientID, token: true, grant: grant{capab, key.cap}, expires: exp}, nil
}

// intersectCapability is requested ∩ key as one capability: for each pair
// of resources where one covers the other, the narrower resource with the
// operations both grant. Resources that only partly overlap (a:*:c and
// a:b:*) grant nothing (our choice: Ably documents no rule for them, and
// granting less is safe).
func intersectCapability(requested, key capability) capability {
	out := capability{}
	add := func(res string, ops map[string]bool) {
		if out[res] == nil {
			out[res] = map[string]bool{}
		}
		for op := range ops {
			out[res][op] = true
		}
	}
	for ra, opsA := range requested {
		for rb, opsB := range key {
			ops := intersectOps(opsA, opsB)
			if len(ops) == 0 {
				continue
			}
			switch {
			case coversResource(rb, ra):
				add(ra, ops)
			case coversResource(ra, rb):
				add(rb, ops)
			}
		}
	}
	for res, ops := range out {
		if ops[opAll] {
			out[res] = map[string]bool{opAll: true}
		}
	}
	return out
}

func intersectOps(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	switch {
	case a[opAll] && b[opAll]:
		out[opAll] = true
	case a[opAll]:
		for op := range b {
			out[op] = true
		}
	case b[opAll]:
		for op := range a {
			out[op] = true
		}
	default:
		for op := range a {
			if b[op] {
				out[op] = true
			}
		}
	}
	return out
}

// coversResource reports whether every channel the pattern specific
// matches is also matched by general.
func coversResource(general, specific string) bool {
	if general == specific || general == "[*]*" {
		return true
	}
	if rest, ok := strings.CutPrefix(specific, "[*]"); ok {
		grest, ok := strings.CutPrefix(general, "[*]")
		return ok && coversSegments(grest, rest)
	}
	if strings.HasPrefix(specific, "[") {
		return matchResource(general, specific)
	}
	if rest, ok := strings.CutPrefix(general, "[*]"); ok {
		return coversSegments(rest, specific)
	}
	if strings.HasPrefix(general, "[") {
		return false
	}
	return coversSegments(general, specific)
}

// coversSegments compares ":"-segment patterns: each "*" of specific
// becomes a segment only a "*" of general matches; a trailing "*" (one or
// more segments) must be covered for one and for two segments, which only
// a trailing "*" of general at or before it does.
func coversSegments(general, specific string) bool {
	const wild = "\x00"
	segs := strings.Split(specific, ":")
	for i, sg := range segs {
		if sg == "*" {
			segs[i] = wild
		}
	}
	one := strings.Join(segs, ":")
	if !matchSegments(general, one) {
		return false
	}
	if segs[len(segs)-1] == wild {
		return matchSegments(general, one+":"+wild)
	}
	return true
}

// String is the capability as Ably JSON: resources in order, operations
// sorted.
func (c capability) String() string {
	m := make(map[string][]string, len(c))
	for res, ops := range c {
		list := make([]string, 0, len(ops))
		for op := range ops {
			list = append(list, op)
		}
		sort.Strings(list)
		m[res] = list
	}
	b, _ := json.Marshal(m)
	return string(b)
}
