package ablylocal

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// maxIATSkew is how far in the future a token's iat may be.
const maxIATSkew = 60 * time.Second

// keyEntry is a configured key with its parsed capability.
type keyEntry struct {
	Key
	cap capability
}

// principal is an authenticated credential: who may do what, until when.
type principal struct {
	keyName string
	// clientID is "" for an anonymous client, "*" for a wildcard and a
	// concrete id otherwise.
	clientID string
	grant    grant
	// claims are the JWT's claims; nil for Basic auth.
	claims map[string]any
	// expires is the token's exp; zero for Basic auth.
	expires time.Time
}

// keyring holds the configured keys by name.
type keyring map[string]keyEntry

func newKeyring(keys []Key) (keyring, error) {
	kr := make(keyring, len(keys))
	for _, k := range keys {
		e := keyEntry{Key: k, cap: allRights()}
		if k.Capability != "" {
			c, err := parseCapability(k.Capability)
			if err != nil {
				return nil, err
			}
			e.cap = c
		}
		kr[k.Name] = e
	}
	return kr, nil
}

// basic authenticates "appId.keyId:secret".
func (kr keyring) basic(key string) (*principal, *errorInfo) {
	name, secret, ok := strings.Cut(key, ":")
	if !ok {
		return nil, newError(codeNoCredentials, statusUnauthorized, "invalid key format")
	}
	e, ok := kr[name]
	if !ok {
		return nil, newError(codeNotFound, statusNotFound, "invalid key: no such key name")
	}
	if !hmac.Equal([]byte(secret), []byte(e.Secret)) {
		return nil, newError(codeNoCredentials, statusUnauthorized, "invalid key secret")
	}
	return &principal{keyName: name, clientID: "*", grant: grant{e.cap}}, nil
}

type jwtHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// verifyJWT checks an Ably JWT: HS256 only, kid names a configured key, the
// signature matches, exp and iat are present, exp is in the future.
func (kr keyring) verifyJWT(tok string, now time.Time) (*principal, *errorInfo) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, errInvalidToken("token is not a JWT (Ably native tokens are not supported)")
	}
	hb, err := decodeSegment(parts[0])
	if err != nil {
		return nil, errInvalidToken("JWT header is not base64url")
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, errInvalidToken("JWT header is not a JSON object")
	}
	if h.Alg != "HS256" {
		return nil, errInvalidToken("JWT alg %q is not allowed; use HS256", h.Alg)
	}
	e, ok := kr[h.Kid]
	if h.Kid == "" || !ok {
		return nil, errInvalidToken("JWT kid does not name a known key")
	}
	sig, err := decodeSegment(parts[2])
	if err != nil {
		return nil, errInvalidToken("JWT signature is not base64url")
	}
	mac := hmac.New(sha256.New, []byte(e.Secret))
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errInvalidToken("JWT signature does not match")
	}
	pb, err := decodeSegment(parts[1])
	if err != nil {
		return nil, errInvalidToken("JWT payload is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(pb))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil || claims == nil {
		return nil, errInvalidToken("JWT payload is not a JSON object")
	}
	claims, _ = normalizeJSON(claims).(map[string]any)
	exp, okExp := numericClaim(claims["exp"])
	iat, okIat := numericClaim(claims["iat"])
	if !okExp || !okIat {
		return nil, errInvalidToken("JWT must carry numeric exp and iat claims")
	}
	if iat > float64(now.Add(maxIATSkew).Unix()) {
		return nil, errInvalidToken("JWT iat is in the future")
	}
	expT := time.UnixMilli(int64(exp * 1000))
	if !expT.After(now) {
		return nil, newError(codeTokenExpired, statusUnauthorized, "token expired")
	}
	p := &principal{keyName: e.Name, grant: grant{e.cap}, claims: claims, expires: expT}
	if raw, ok := claims["x-ably-capability"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, errInvalidToken("x-ably-capability must be a JSON string")
		}
		c, err := parseCapability(s)
		if err != nil {
			return nil, errInvalidToken("x-ably-capability: %v", err)
		}
		p.grant = grant{c, e.cap}
	}
	if raw, ok := claims["x-ably-clientId"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, errInvalidToken("x-ably-clientId must be a string")
		}
		p.clientID = s
	}
	return p, nil
}

func numericClaim(v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case int64:
		f = float64(n)
	case float64:
		f = n
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e13 {
		return 0, false
	}
	return f, true
}
