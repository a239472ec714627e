// Package ablyconn owns how the project's programs reach Ably: the typed
// connection settings read from the environment, and the ably-go client
// options they turn into. Trusted programs that hold the API key never send
// it over the wire: they sign their own short-lived HS256 JWT, as Ably
// documents for JWT auth, so the same code works over plain ws:// against
// the local Ably server and over TLS against Ably itself. Plain ws:// is
// for an endpoint on this machine: off loopback a token would travel in
// clear text, so Validate refuses it without an explicit override.
package ablyconn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/golang-jwt/jwt/v5"

	"github.com/hitl/durable-approvals/internal/loopback"
)

// Config says where Ably is and which key a trusted program holds.
type Config struct {
	// APIKey is "appId.keyId:secret". Empty for programs that authenticate
	// through the auth server instead.
	APIKey string
	// Endpoint is "host:port" of a local Ably-protocol server, or empty for
	// Ably itself.
	Endpoint string
	// TLS selects wss/https. It is always true for Ably itself.
	TLS bool
	// AllowPlaintext permits TLS false with an Endpoint that is not
	// loopback: tokens then travel in clear text, so only where something
	// else protects the network path (ABLY_INSECURE_ALLOW_PLAINTEXT).
	AllowPlaintext bool
	// TokenTTL is the lifetime of self-signed tokens (default 1h).
	TokenTTL time.Duration
}

// Env names read by FromEnv.
const (
	EnvAPIKey   = "ABLY_API_KEY"
	EnvEndpoint = "ABLY_ENDPOINT"
	EnvTLS      = "ABLY_TLS"
	// EnvAllowPlaintext is the explicit override of ErrPlaintext.
	EnvAllowPlaintext = "ABLY_INSECURE_ALLOW_PLAINTEXT"
)

// ErrPlaintext is returned by Validate for plain ws:// (TLS false) to an
// endpoint that is not loopback without AllowPlaintext.
var ErrPlaintext = errors.New("refusing plain ws:// to an Ably endpoint that is not loopback: tokens would travel in clear text")

// FromEnv reads ABLY_API_KEY, ABLY_ENDPOINT, ABLY_TLS and
// ABLY_INSECURE_ALLOW_PLAINTEXT through getenv. ABLY_TLS defaults to true
// without an endpoint and to false with one.
func FromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		APIKey:   strings.TrimSpace(getenv(EnvAPIKey)),
		Endpoint: strings.TrimSpace(getenv(EnvEndpoint)),
	}
	c.TLS = c.Endpoint == ""
	if v := strings.TrimSpace(getenv(EnvTLS)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want true or false", EnvTLS, v)
		}
		c.TLS = b
	}
	if v := strings.TrimSpace(getenv(EnvAllowPlaintext)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: want true or false", EnvAllowPlaintext, v)
		}
		c.AllowPlaintext = b
	}
	return c, c.Validate()
}

// Validate checks the settings without contacting anything.
func (c Config) Validate() error {
	if c.APIKey != "" {
		if _, _, err := SplitKey(c.APIKey); err != nil {
			return fmt.Errorf("%s: %w", EnvAPIKey, err)
		}
	}
	if c.Endpoint != "" {
		host, port, err := net.SplitHostPort(c.Endpoint)
		if err != nil || host == "" {
			return fmt.Errorf("%s=%q: want host:port", EnvEndpoint, c.Endpoint)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("%s=%q: bad port", EnvEndpoint, c.Endpoint)
		}
		if !c.TLS && !c.AllowPlaintext && !loopback.IsHost(host) {
			return fmt.Errorf("%s=%q with %s=false: %w; set %s=true, or %s=true where something else protects the network path", EnvEndpoint, c.Endpoint, EnvTLS, ErrPlaintext, EnvTLS, EnvAllowPlaintext)
		}
	} else if !c.TLS {
		return fmt.Errorf("%s=false needs %s: Ably itself is TLS only", EnvTLS, EnvEndpoint)
	}
	return nil
}

// SplitKey splits "appId.keyId:secret" into the key name and the secret.
func SplitKey(key string) (name, secret string, err error) {
	name, secret, ok := strings.Cut(key, ":")
	if !ok || secret == "" || !strings.Contains(name, ".") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".") {
		return "", "", errors.New("ably key: want appId.keyId:secret")
	}
	return name, secret, nil
}

// EndpointOptions returns the options that select the endpoint and TLS, and
// nothing about auth.
func (c Config) EndpointOptions() []ably.ClientOption {
	if c.Endpoint == "" {
		return nil
	}
	host, portStr, _ := net.SplitHostPort(c.Endpoint)
	port, _ := strconv.Atoi(portStr)
	opts := []ably.ClientOption{ably.WithEndpoint(host), ably.WithTLS(c.TLS)}
	if c.TLS {
		opts = append(opts, ably.WithTLSPort(port))
	} else {
		opts = append(opts, ably.WithPort(port))
	}
	return opts
}

// TrustedOptions returns client options for a program that holds the API
// key and acts as clientID: the endpoint options plus an auth callback that
// signs a fresh JWT for clientID with the key. capability is the
// x-ably-capability JSON to request; empty means the key's own.
func (c Config) TrustedOptions(clientID, capability string) ([]ably.ClientOption, error) {
	if c.APIKey == "" {
		return nil, fmt.Errorf("%s is required", EnvAPIKey)
	}
	if clientID == "" {
		return nil, errors.New("ably: a trusted program needs a clientId")
	}
	name, secret, err := SplitKey(c.APIKey)
	if err != nil {
		return nil, err
	}
	ttl := c.TokenTTL
	if ttl <= 0 {
		ttl = time.Hour
	}
	cb := func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		now := time.Now()
		tok, exp, err := SignToken(name, secret, clientID, capability, nil, now, ttl)
		if err != nil {
			return nil, err
		}
		return &ably.TokenDetails{Token: tok, Expires: exp.UnixMilli(), Issued: now.UnixMilli(), ClientID: clientID}, nil
	}
	opts := append(c.EndpointOptions(), ably.WithAuthCallback(cb), ably.WithClientID(clientID))
	return opts, nil
}

// reservedClaims are the claims SignToken sets itself; extra may not
// override them, or a caller's extra claims could widen the token's
// identity, rights or lifetime.
var reservedClaims = []string{"iat", "exp", "x-ably-clientId", "x-ably-capability"}

// SignToken signs an Ably JWT: HS256, kid = key name, iat and exp, the
// clientId and capability claims, and any extra claims (such as
// "ably.channel.<name>" user claims). It returns the token and its expiry.
// extra may not contain iat, exp, x-ably-clientId or x-ably-capability.
// The expiry is now+ttl down to the whole second, as exp carries it.
func SignToken(keyName, secret, clientID, capability string, extra map[string]any, now time.Time, ttl time.Duration) (string, time.Time, error) {
	for _, k := range reservedClaims {
		if _, ok := extra[k]; ok {
			return "", time.Time{}, fmt.Errorf("sign ably token: extra claim %q is reserved", k)
		}
	}
	// A JWT's exp counts whole seconds: the expiry returned is the one
	// the token carries, never later (a client that caches the token
	// until the expiry returned would otherwise use it after Ably stopped
	// taking it).
	exp := now.Add(ttl).Truncate(time.Second)
	claims := jwt.MapClaims{
		"iat": now.Unix(),
		"exp": exp.Unix(),
	}
	if clientID != "" {
		claims["x-ably-clientId"] = clientID
	}
	if capability != "" {
		claims["x-ably-capability"] = capability
	}
	for k, v := range extra {
		claims[k] = v
	}
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	t.Header["kid"] = keyName
	s, err := t.SignedString([]byte(secret))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign ably token: %w", err)
	}
	return s, exp, nil
}

// messageIDKeyLabel separates the message-id key from any other use of the
// API key's secret.
const messageIDKeyLabel = "hitl agent message ids v1"

// MessageIDKey derives the key of the agent's Ably message ids
// (workflows.AgentMessageID) from the API key's secret: every trusted
// program that publishes as the agent (the worker, the dev stack's
// re-announcer) computes the same ids with no other secret to hand out,
// and nobody without the key can predict them. Nil without an API key.
func (c Config) MessageIDKey() []byte {
	_, secret, ok := strings.Cut(c.APIKey, ":")
	if !ok || secret == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(messageIDKeyLabel))
	return m.Sum(nil)
}

// NewRealtime is ably.NewRealtime, with the connection opened only once the
// client is fully built. ably-go v1.4.1 starts connecting inside the
// constructor, before it sets Realtime.Connection; a connection that
// resumes before then makes its event loop call Connection.resendAcks on
// nil and panic (seen once under -race on a loaded machine). Every program
// and test of the project builds its realtime clients through this.
func NewRealtime(opts ...ably.ClientOption) (*ably.Realtime, error) {
	c, err := ably.NewRealtime(append(opts, ably.WithAutoConnect(false))...)
	if err != nil {
		return nil, err
	}
	c.Connect()
	return c, nil
}
