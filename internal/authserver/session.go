package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"
)

// Bounds of the inbox sessions held in memory.
const (
	// maxSessions bounds the sessions of all users together; beyond it the
	// oldest session ends.
	maxSessions = 10000
	// maxSessionsPerUser bounds one user's sessions (browsers, devices);
	// beyond it the user's oldest session ends.
	maxSessionsPerUser = 16
)

// session is one browser logged in to the inbox. It names the user, not
// the role: every token request reads the role from the users file, so a
// demotion or removal applies at the page's next token (within the token
// TTL), as for the CLI.
type session struct {
	user string
	// hash is the user's password hash at login: a changed password (a
	// useradd with a new password) ends the session.
	hash string
	// csrf is the token every state-changing request of this session
	// carries (a form field or the X-CSRF-Token header).
	csrf    string
	created time.Time
	expires time.Time
}

// sessionStore holds the inbox sessions in memory: a restart of the auth
// server logs every browser out (the page then shows the login form). The
// map is keyed by the SHA-256 of the cookie value, so the cookie values
// themselves are kept nowhere on the server. It is safe for concurrent
// use.
type sessionStore struct {
	ttl        time.Duration
	max        int
	maxPerUser int

	mu   sync.Mutex
	byID map[string]*session
}

func newSessionStore(ttl time.Duration, maxTotal, maxPerUser int) *sessionStore {
	return &sessionStore{ttl: ttl, max: maxTotal, maxPerUser: maxPerUser, byID: map[string]*session{}}
}

// sessionKey is the map key of a cookie value.
func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// create starts a session for user (whose password hash is hash) at now
// and returns the cookie value and the session. It ends the user's oldest
// session beyond maxPerUser and the oldest of all beyond max.
func (st *sessionStore) create(user, hash string, now time.Time) (string, session) {
	id := rand.Text() + rand.Text() // 2 × 130 bits from crypto/rand
	s := &session{user: user, hash: hash, csrf: rand.Text() + rand.Text(), created: now, expires: now.Add(st.ttl)}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.dropExpired(now)
	st.evict(func(o *session) bool { return o.user == user }, st.maxPerUser)
	st.evict(func(*session) bool { return true }, st.max)
	st.byID[sessionKey(id)] = s
	return id, *s
}

// get returns the live session of cookie value id.
func (st *sessionStore) get(id string, now time.Time) (session, bool) {
	if id == "" {
		return session{}, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	k := sessionKey(id)
	s, ok := st.byID[k]
	if !ok {
		return session{}, false
	}
	if !now.Before(s.expires) {
		delete(st.byID, k)
		return session{}, false
	}
	return *s, true
}

// end ends the session of cookie value id, if any.
func (st *sessionStore) end(id string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	delete(st.byID, sessionKey(id))
}

// len returns the number of sessions held (tests).
func (st *sessionStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.byID)
}

// dropExpired removes the sessions expired at now. The caller holds st.mu.
func (st *sessionStore) dropExpired(now time.Time) {
	for k, s := range st.byID {
		if !now.Before(s.expires) {
			delete(st.byID, k)
		}
	}
}

// evict removes the oldest sessions matching match until fewer than limit
// match, making room for one more. The caller holds st.mu.
func (st *sessionStore) evict(match func(*session) bool, limit int) {
	for {
		n := 0
		var oldestKey string
		var oldest *session
		for k, s := range st.byID {
			if !match(s) {
				continue
			}
			n++
			if oldest == nil || s.created.Before(oldest.created) || s.created.Equal(oldest.created) && k < oldestKey {
				oldestKey, oldest = k, s
			}
		}
		if n < limit || oldest == nil {
			return
		}
		delete(st.byID, oldestKey)
	}
}
