package authserver

import (
	"fmt"
	"testing"
	"time"
)

// The server's inbox sessions are capped as doc.go says, "at most 16 per
// user and 10,000 in all": at the cap every session lives; one login
// beyond it ends the oldest session, of the user for the cap per user and
// of anyone for the cap in all. The numbers are doc.go's, not the
// constants, so that changing one is seen.
func TestSessionCaps(t *testing.T) {
	const perUser, inAll = 16, 10000
	tests := []struct {
		name    string
		others  int // sessions of other users, older than alice's logins
		logins  int // alice's logins through the form, a second apart
		held    int
		ended   string // "alice": her first session ended; "other": the oldest other one
		endedAt int    // which of them
	}{
		{name: "per user at the cap", logins: perUser, held: perUser},
		{name: "per user beyond the cap", logins: perUser + 1, held: perUser, ended: "alice"},
		{name: "per user, two beyond the cap", logins: perUser + 2, held: perUser, ended: "alice", endedAt: 1},
		{name: "in all at the cap", others: inAll - 1, logins: 1, held: inAll},
		{name: "in all beyond the cap", others: inAll, logins: 1, held: inAll, ended: "other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, nil)
			start := clock.Now()
			others := make([]string, tt.others)
			s.sessions.mu.Lock()
			for i := range others {
				others[i] = fmt.Sprintf("other-session-%d", i)
				created := start.Add(time.Duration(i-tt.others) * time.Second)
				s.sessions.byID[sessionKey(others[i])] = &session{
					user: fmt.Sprintf("user%d", i), hash: "hash", csrf: "csrf",
					created: created, expires: start.Add(time.Hour),
				}
			}
			s.sessions.mu.Unlock()
			h := s.Handler()
			alice := make([]string, tt.logins)
			for i := range alice {
				b := newBrowser(t, h, "192.0.2.60:1")
				b.login("alice", "alice-password")
				alice[i] = b.cookies[sessionCookieName].Value
				clock.Advance(time.Second)
			}
			if got := s.sessions.len(); got != tt.held {
				t.Errorf("%d sessions held, want %d", got, tt.held)
			}
			check := func(who string, ids []string) {
				t.Helper()
				for i, id := range ids {
					_, live := s.sessions.get(id, clock.Now())
					want := !(tt.ended == who && i <= tt.endedAt)
					if live != want {
						t.Errorf("%s's session %d of %d live %v, want %v", who, i, len(ids), live, want)
					}
				}
			}
			check("alice", alice)
			check("other", others)
		})
	}
}
