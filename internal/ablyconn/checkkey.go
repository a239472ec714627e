package ablyconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ably/ably-go/ably"
)

// ErrKeyRefused is Ably refusing an API key: every token it signs would be
// refused too.
var ErrKeyRefused = errors.New("the Ably API key is refused")

// CheckKey asks Ably for a token with c's API key (a token request signed
// with the key, so the secret does not cross the wire) for clientID and
// capability. It returns an error wrapping ErrKeyRefused when Ably refuses
// the key (unknown, wrong secret, revoked, or without the capability), and
// another error when Ably could not be asked or answered otherwise (a
// program may start anyway).
func (c Config) CheckKey(ctx context.Context, clientID, capability string, extra ...ably.ClientOption) error {
	opts := append(append([]ably.ClientOption{ably.WithLogLevel(ably.LogNone)}, c.EndpointOptions()...), ably.WithKey(c.APIKey), ably.WithUseTokenAuth(true))
	rest, err := ably.NewREST(append(opts, extra...)...)
	if err != nil {
		return fmt.Errorf("ably key check: %w", err)
	}
	_, err = rest.Auth.RequestToken(ctx, &ably.TokenParams{ClientID: clientID, Capability: capability})
	if err == nil {
		return nil
	}
	if keyRefused(err) {
		name, _, _ := SplitKey(c.APIKey)
		return fmt.Errorf("%w (%s, key %s): %v", ErrKeyRefused, EnvAPIKey, name, err)
	}
	return fmt.Errorf("ably key check: %w", err)
}

// keyRefused reports whether Ably's answer to a token request refuses the
// key itself: unauthorised (a wrong secret), forbidden (no such right) or
// not found (no such key); but not a timestamp that is not current or a
// nonce seen before (40104, 40105), which this machine's clock causes and
// which pass once it is right.
func keyRefused(err error) bool {
	var info *ably.ErrorInfo
	if !errors.As(err, &info) {
		return false
	}
	switch info.StatusCode {
	case http.StatusUnauthorized:
		return info.Code != 40104 && info.Code != 40105
	case http.StatusForbidden, http.StatusNotFound:
		return true
	}
	return false
}
