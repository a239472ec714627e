package ablylocal

import (
	"crypto/hmac"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
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
	// token is set for token auth (JWT or Ably native token), as opposed
	// to Basic auth with the key.
	token bool
	// claims are the JWT's claims; nil for Basic auth and native tokens.
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

// jwtParser checks what golang-jwt can: the token's shape, HS256 only
// (alg none, HS384 and the rest are refused before any key is looked up),
// the signature (constant-time, with the key kid names), a required exp,
// and iat and nbf at most maxIATSkew in the future. The skew is the
// parser's leeway, so verifyJWT checks exp again without it: Ably allows
// none on exp.
func jwtParser(now time.Time) *jwt.Parser {
	return jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(maxIATSkew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithJSONNumber(),
		jwt.WithPaddingAllowed(),
	)
}

// errUnknownKid is the keyfunc's error for a kid naming no configured key.
var errUnknownKid = errors.New("JWT kid does not name a known key")

// verifyJWT checks an Ably JWT: HS256 only, kid names a configured key, the
// signature matches, exp and iat are present, exp is in the future.
func (kr keyring) verifyJWT(tok string, now time.Time) (*principal, *errorInfo) {
	var key keyEntry
	claims := jwt.MapClaims{}
	_, err := jwtParser(now).ParseWithClaims(tok, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		e, ok := kr[kid]
		if kid == "" || !ok {
			return nil, errUnknownKid
		}
		key = e
		return []byte(e.Secret), nil
	})
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, errInvalidToken("token is not a JWT (Ably native tokens are not accepted here): %v", err)
	case errors.Is(err, errUnknownKid):
		return nil, errInvalidToken("%v", errUnknownKid)
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return nil, errInvalidToken("JWT not accepted (HS256 signed with the key kid names is required): %v", err)
	case !errors.Is(err, jwt.ErrTokenInvalidClaims):
		return nil, errInvalidToken("JWT not accepted: %v", err)
	}
	// The signature is good: only the claims can be wrong from here on.
	cl, _ := normalizeJSON(map[string]any(claims)).(map[string]any)
	exp, okExp := numericClaim(cl["exp"])
	_, okIat := numericClaim(cl["iat"])
	if !okExp || !okIat {
		return nil, errInvalidToken("JWT must carry numeric exp and iat claims")
	}
	if errors.Is(err, jwt.ErrTokenUsedBeforeIssued) {
		return nil, errInvalidToken("JWT iat is in the future")
	}
	expT := time.UnixMilli(int64(exp * 1000))
	if !expT.After(now) {
		return nil, newError(codeTokenExpired, statusUnauthorized, "token expired")
	}
	if err != nil {
		return nil, errInvalidToken("JWT claims not accepted: %v", err)
	}
	p := &principal{keyName: key.Name, token: true, grant: grant{key.cap}, claims: cl, expires: expT}
	if raw, ok := cl["x-ably-capability"]; ok {
		s, ok := raw.(string)
		if !ok {
			return nil, errInvalidToken("x-ably-capability must be a JSON string")
		}
		c, err := parseCapability(s)
		if err != nil {
			return nil, errInvalidToken("x-ably-capability: %v", err)
		}
		// Ably: a JWT whose capability has no intersection with its
		// key's is an error, not a token without rights (as for a
		// TokenRequest).
		if len(intersectCapability(c, key.cap)) == 0 {
			return nil, errCapability("JWT x-ably-capability %s has no intersection with the capability of key %s", s, key.Name)
		}
		p.grant = grant{c, key.cap}
	}
	if raw, ok := cl["x-ably-clientId"]; ok {
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
