package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"
)

// loginOutcome is what a check of a name and password came to.
type loginOutcome int

const (
	loginOK          loginOutcome = iota
	loginFailed                   // wrong or malformed credentials: 401
	loginTooMany                  // over a limit: 429 with Retry-After
	loginUnavailable              // the users file is unusable: 503
	loginGone                     // the client went away while waiting: no answer
)

// loginResult is the result of checkLogin.
type loginResult struct {
	outcome loginOutcome
	user    User          // loginOK
	retry   time.Duration // loginTooMany
	by      string        // loginTooMany: which limit
	err     error         // loginUnavailable
}

// checkLogin checks name and password against the users file under every
// login limit (see the package comment): the cap per user name (nameGate),
// the bcrypt slots, and the failure counts per address and per (name,
// address) pair. Every way of logging in, HTTP Basic on the token endpoint
// and the inbox's login form alike, goes through it, so they share one set
// of limits. addrKey is the client address's rate-limit key.
func (s *Server) checkLogin(ctx context.Context, log *slog.Logger, addrKey, name, password string) loginResult {
	now := s.now()
	// Names that cannot exist are not tracked per user (that would let
	// anyone fill the tables); their failures count per address. Any valid
	// name is tracked, existing or not, so a 429 reveals nothing.
	validName := ValidateName(name, nil) == nil
	user, check, found, err := s.users.lookup(name)
	if err != nil {
		return loginResult{outcome: loginUnavailable, err: err}
	}
	var lane laneKey
	if validName {
		// Per user name, from all addresses: checks beyond the free ones
		// wait for their turn, one after another (nameGate).
		k, wait, retry, ok := s.byName.reserve(name, addrKey, found, now)
		if !ok {
			log.Warn("auth refused: no turn for this user name soon", "user", s.logName(name, found, validName))
			s.count.countFailed(FailReasonThrottled)
			return loginResult{outcome: loginTooMany, retry: retry, by: "user name"}
		}
		lane = k
		if wait > 0 {
			log.Warn("auth queued: many failed logins for this user name", "user", s.logName(name, found, validName), "wait", wait.String())
			if err := s.sleep(ctx, wait); err != nil {
				s.byName.forgive(lane)
				return loginResult{outcome: loginGone}
			}
			// The users file may have changed while the request waited.
			now = s.now()
			if user, check, found, err = s.users.lookup(name); err != nil {
				s.byName.forgive(lane)
				return loginResult{outcome: loginUnavailable, err: err}
			}
		}
	}
	ok, err := s.checkPassword(ctx, addrKey, check, found && validName, password)
	if err != nil {
		if validName {
			s.byName.forgive(lane)
		}
		switch {
		case errors.Is(err, errAddrBusy):
			log.Warn("auth refused: too many password checks waiting from this client", "user", s.logName(name, found, validName))
			s.count.countFailed(FailReasonThrottled)
			return loginResult{outcome: loginTooMany, retry: time.Second, by: "client's checks waiting"}
		case errors.Is(err, errNoSlot):
			log.Warn("auth refused: no password check slot free in time", "user", s.logName(name, found, validName), "wait", s.slots.wait.String())
			s.count.countFailed(FailReasonThrottled)
			return loginResult{outcome: loginTooMany, retry: time.Second, by: "server busy"}
		}
		return loginResult{outcome: loginGone} // the client went away while waiting for a bcrypt slot
	}
	if !ok {
		pairKey := ""
		if validName {
			pairKey = pairKeyOf(name, addrKey)
		}
		log.Warn("auth failed", "user", s.logName(name, found, validName))
		return s.failure(addrKey, pairKey)
	}
	// The address's failures never refuse a correct password: behind a
	// shared address (a NAT, a proxy) they may be someone else's.
	s.byPair.reset(pairKeyOf(name, addrKey))
	s.byName.forgive(lane)
	s.byName.remember(name, addrKey, now)
	s.count.countLogin()
	return loginResult{outcome: loginOK, user: user}
}

// failure counts a failed login against the client address and, for a
// valid user name (pairKey not empty), against the (name, address) pair:
// loginFailed, or loginTooMany once either is over its limit in the window.
func (s *Server) failure(addrKey, pairKey string) loginResult {
	s.count.countFailed(FailReasonBadCredentials)
	now := s.now()
	retry, over := s.byAddr.fail(addrKey, now)
	by := "client"
	if pairKey != "" {
		if r, o := s.byPair.fail(pairKey, now); o {
			retry, over, by = max(retry, r), true, "user and client"
		}
	}
	if over {
		return loginResult{outcome: loginTooMany, retry: retry, by: by}
	}
	return loginResult{outcome: loginFailed}
}

// logName is how a login's user name appears in the log: as typed when it
// is a user's, and otherwise (a password typed into the name field reads
// like a name) "(invalid)" or "(unknown " + a keyed hash + ")", the same
// for the same name while the server runs, so that guesses at one name can
// be told apart from guesses at many without the log holding what was
// typed.
func (s *Server) logName(name string, found, valid bool) string {
	switch {
	case !valid:
		return "(invalid)"
	case found:
		return name
	}
	mac := hmac.New(sha256.New, s.logKey[:])
	mac.Write([]byte(name))
	return "(unknown " + hex.EncodeToString(mac.Sum(nil)[:6]) + ")"
}

func pairKeyOf(name, addrKey string) string { return "user:" + name + "\x00" + addrKey }

// checkPassword runs every comparison of check whatever their outcome (see
// passwordCheck): the same comparisons at the same costs for every name,
// so the response time does not tell whether a user exists. The password
// is correct if the user's own hash matched. It returns an error only when
// it gets no bcrypt slot (hashSlots.acquire: errAddrBusy, errNoSlot, or
// ctx's error).
func (s *Server) checkPassword(ctx context.Context, addrKey string, check passwordCheck, found bool, password string) (bool, error) {
	release, err := s.slots.acquire(ctx, addrKey)
	if err != nil {
		return false, err
	}
	defer release()
	pw := []byte(password)
	if len(pw) > MaxPasswordLen {
		pw = pw[:MaxPasswordLen]
	}
	match := false
	for i, hash := range check.hashes {
		err := s.compare(hash, pw)
		if i == check.own {
			match = err == nil
		}
	}
	return match && found && len(password) <= MaxPasswordLen, nil
}
