package ablyconn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

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
	name, _, _ := SplitKey(c.APIKey)
	td, err := rest.Auth.RequestToken(ctx, &ably.TokenParams{ClientID: clientID, Capability: capability})
	if err != nil {
		if keyRefused(err) {
			return fmt.Errorf("%w (%s, key %s): %v", ErrKeyRefused, EnvAPIKey, name, err)
		}
		return fmt.Errorf("ably key check: %w", err)
	}
	// Ably grants what both the request and the key allow: a key with
	// fewer rights gets a token with fewer, not a refusal.
	if missing := missingRights(capability, td.Capability); missing != "" {
		return fmt.Errorf("%w (%s, key %s): it lacks %s", ErrKeyRefused, EnvAPIKey, name, missing)
	}
	return nil
}

// RequireKey is the start-up check of a program that signs with c's key:
// CheckKey within 15 s, returning only a refusal (the program must stop:
// everything it would sign is refused too). Ably out of reach, or any
// other answer, is logged as a warning and nil is returned.
func (c Config) RequireKey(ctx context.Context, log *slog.Logger, clientID, capability string) error {
	kctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	err := c.CheckKey(kctx, clientID, capability)
	switch {
	case errors.Is(err, ErrKeyRefused):
		return err
	case err != nil && ctx.Err() == nil:
		log.Warn("could not check the Ably key: Ably did not answer", "ablyEndpoint", c.Endpoint, "err", err)
	}
	return nil
}

// keyRefusedCodes are Ably's error codes that refuse a key itself: invalid
// or incompatible credentials, a key revoked or expired, an action the key
// does not permit, no such key. Anything else (a clock that is off, 40104;
// an account limit; a proxy's own 403 or 404 page, which ably-go reports
// with the generic 40000) is not the key's fault. A proxy that answers 404
// with a JSON body that is not Ably's gets 40400 from ably-go and reads as
// no such key: at start, a misrouted endpoint is worth stopping for.
var keyRefusedCodes = map[ably.ErrorCode]bool{40101: true, 40102: true, 40103: true, 40131: true, 40132: true, 40160: true, 40400: true}

// keyRefused reports whether Ably's answer to a token request refuses the
// key itself (keyRefusedCodes).
func keyRefused(err error) bool {
	var info *ably.ErrorInfo
	return errors.As(err, &info) && keyRefusedCodes[info.Code] &&
		(info.StatusCode == http.StatusUnauthorized || info.StatusCode == http.StatusForbidden || info.StatusCode == http.StatusNotFound)
}

// missingRights returns the operations of requested (a capability, JSON)
// that granted does not hold, as "op on resource, ...", or "" when it holds
// them all or either cannot be read (then Ably is the judge).
func missingRights(requested, granted string) string {
	var req, got map[string][]string
	if json.Unmarshal([]byte(requested), &req) != nil || json.Unmarshal([]byte(granted), &got) != nil {
		return ""
	}
	var missing []string
	for _, res := range slices.Sorted(maps.Keys(req)) {
		for _, op := range req[res] {
			if !slices.Contains(got[res], op) && !slices.Contains(got[res], "*") {
				missing = append(missing, op+" on "+res)
			}
		}
	}
	return strings.Join(missing, ", ")
}
