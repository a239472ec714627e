package approvercli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ably/ably-go/ably"
	"github.com/golang-jwt/jwt/v5"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/loopback"
)

// TokenPath is the auth server's token endpoint.
const TokenPath = "/api/auth/token"

const maxTokenBytes = 16 << 10

// Login fetches approver JWTs from the auth server with HTTP Basic auth.
type Login struct {
	AuthURL  string // base URL, e.g. http://127.0.0.1:3001
	User     string
	Password string
	HTTP     *http.Client // default: a client with a 15s timeout
	// AllowPlaintext permits an http:// AuthURL to a host that is not
	// loopback (see CheckAuthURL).
	AllowPlaintext bool
}

// ErrLoginRefused is the auth server refusing the user name and password
// (401 or 403): trying again will not help.
var ErrLoginRefused = errors.New("login refused")

// ThrottledError is the auth server answering 429: it takes no more
// attempts for now, after failed logins or while its password checks are
// all busy. RetryAfter is its Retry-After (0 when it gave none); a login
// with the right password may succeed then.
type ThrottledError struct {
	Status     string
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	wait := "later"
	if e.RetryAfter > 0 {
		wait = fmt.Sprintf("in %s", e.RetryAfter)
	}
	return fmt.Sprintf("login: the auth server takes no more attempts for now, after failed logins or while busy (%s); try again %s", e.Status, wait)
}

// ErrNotAToken is an answer of the auth server that is not a usable JWT
// (the AUTH_URL may point at something else).
var ErrNotAToken = errors.New("not a token")

// ErrPlaintext is returned by CheckAuthURL for an http:// auth server URL
// whose host is not loopback: the auth server itself refuses to serve
// plain HTTP there without an explicit override, for the same reason.
var ErrPlaintext = errors.New("refusing plain HTTP to an auth server that is not loopback: the password would travel in clear text")

// CheckAuthURL checks an auth server base URL: http(s)://host[:port], and
// https unless the host is this machine (or allowPlaintext says something
// else protects the network path), since the password is sent with HTTP
// Basic.
func CheckAuthURL(raw string, allowPlaintext bool) error {
	_, err := parseAuthURL(raw, allowPlaintext)
	return err
}

// parseAuthURL is CheckAuthURL that also returns the parsed URL.
func parseAuthURL(raw string, allowPlaintext bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("AUTH_URL (-auth-url) %q: want http(s)://host[:port]", config.RedactURL(raw))
	}
	if !allowPlaintext && loopback.InClear(u) {
		return nil, fmt.Errorf("AUTH_URL (-auth-url) %q: %w; use https://, or set %s=true (-insecure-allow-plaintext) where something else protects the network path", config.RedactURL(raw), ErrPlaintext, config.EnvApproverInsecureAllowPlaintext)
	}
	return u, nil
}

// Token fetches a fresh JWT. The JWT is not verified here (Ably verifies
// it); its exp and x-ably-clientId claims are read so ably-go knows when to
// renew it and who it is.
func (l *Login) Token(ctx context.Context) (*ably.TokenDetails, error) {
	u, err := parseAuthURL(l.AuthURL, l.AllowPlaintext)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	u = u.JoinPath(TokenPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	req.SetBasicAuth(l.User, l.Password)
	hc := &http.Client{Timeout: 15 * time.Second}
	if l.HTTP != nil {
		c := *l.HTTP
		hc = &c
	}
	// A redirect is not followed: Go would send the password again to
	// wherever it points, plain http:// included, past the check of
	// AUTH_URL above. The token endpoint never redirects.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Do(req)
	if err != nil {
		// The *url.Error names the URL with its query, which may hold
		// a credential: only the redacted one is shown.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		hint := ""
		if op := (*net.OpError)(nil); errors.As(err, &op) && op.Op == "dial" {
			hint = " (is the auth server running there? AUTH_URL or -auth-url names it)"
		}
		return nil, fmt.Errorf("login at %s%s: %w", config.RedactURL(u.String()), hint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenBytes+1))
	if err != nil {
		return nil, fmt.Errorf("login: read response: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: login as %q (%s): check the user name (APPROVER_USER or -user) and APPROVER_PASSWORD", ErrLoginRefused, l.User, resp.Status)
	case resp.StatusCode == http.StatusTooManyRequests:
		te := &ThrottledError{Status: resp.Status}
		if secs, err := strconv.ParseInt(resp.Header.Get("Retry-After"), 10, 64); err == nil && secs > 0 {
			// At most what a time.Duration holds: a larger number of
			// seconds overflowed into a negative or made-up wait.
			te.RetryAfter = time.Duration(min(secs, int64(math.MaxInt64/time.Second))) * time.Second
		}
		return nil, te
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, fmt.Errorf("login: the auth server redirects (%s, to %s) instead of answering; set AUTH_URL to the address that answers, the password is not sent on", resp.Status, strconv.Quote(config.RedactURL(resp.Header.Get("Location"))))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("login: auth server answered %s", resp.Status)
	case len(body) > maxTokenBytes:
		return nil, fmt.Errorf("login: %w: the response is too large", ErrNotAToken)
	}
	return ParseToken(strings.TrimSpace(string(body)))
}

// ParseToken reads the exp and x-ably-clientId claims of a JWT without
// verifying it, and returns it as ably TokenDetails.
func ParseToken(token string) (*ably.TokenDetails, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return nil, fmt.Errorf("login: %w: the auth server did not return a JWT: %w", ErrNotAToken, err)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, fmt.Errorf("login: %w: the token has no exp claim", ErrNotAToken)
	}
	td := &ably.TokenDetails{Token: token, Expires: exp.UnixMilli()}
	if iat, err := claims.GetIssuedAt(); err == nil && iat != nil {
		td.Issued = iat.UnixMilli()
	}
	if cid, ok := claims["x-ably-clientId"].(string); ok {
		td.ClientID = cid
	}
	if c, ok := claims["x-ably-capability"].(string); ok {
		td.Capability = c
	}
	return td, nil
}

// AuthCallback returns the ably-go auth callback that logs in again every
// time ably-go needs a token.
func (l *Login) AuthCallback() func(context.Context, ably.TokenParams) (ably.Tokener, error) {
	return func(ctx context.Context, _ ably.TokenParams) (ably.Tokener, error) {
		return l.Token(ctx)
	}
}

// ChannelRole returns the approver's role on channel: the JWT's
// "ably.channel.<channel>" claim, read without verifying the JWT (Ably
// verifies it and copies the claim into extras.userClaim; the CLI only
// uses it for warnings). It returns "" when the token has no such claim.
func ChannelRole(token, channel string) string {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return ""
	}
	role, _ := claims["ably.channel."+channel].(string)
	return role
}
