package authserver

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The whole way through: login form, inbox, token by cookie, logout.
func TestInboxLoginTokenLogout(t *testing.T) {
	s, clock, _ := newTestServer(t, func(c *Config) {
		c.AgentClientID = "hitl:agent"
		c.AblyEndpoint = "127.0.0.1:8090"
	})
	b := newBrowser(t, s.Handler(), "192.0.2.1:1")

	rec := b.do(http.MethodGet, InboxPath, nil, nil)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /: %d", rec.Code)
	}
	lc := rec.Result().Cookies()
	if len(lc) != 1 || lc[0].Name != loginCookieName || !lc[0].HttpOnly || lc[0].SameSite != http.SameSiteStrictMode || lc[0].Secure {
		t.Errorf("login page cookies = %+v, want one HttpOnly SameSite=Strict %s, not Secure on loopback", lc, loginCookieName)
	}
	if strings.Contains(rec.Body.String(), "<script") {
		t.Errorf("the login page has a script:\n%s", rec.Body)
	}

	csrf := b.login("alice", "alice-password")
	var sc *http.Cookie
	for _, c := range b.cookies {
		if c.Name == sessionCookieName {
			sc = c
		}
	}
	if sc == nil || !sc.HttpOnly || sc.SameSite != http.SameSiteStrictMode || sc.Secure || sc.Path != "/" || sc.MaxAge != 0 {
		t.Fatalf("session cookie = %+v, want HttpOnly, SameSite=Strict, Path=/, a browser-session cookie, not Secure on loopback", sc)
	}
	page := b.do(http.MethodGet, InboxPath, nil, nil).Body.String()
	for _, want := range []string{
		`data-channel="ai:big-bad-any"`, `data-agent-client-id="hitl:agent"`, `data-user="alice"`, `data-role="publisher"`,
		`data-roles="[&#34;editor&#34;,&#34;publisher&#34;,&#34;admin&#34;]"`, `data-ably-host="127.0.0.1"`, `data-ably-port="8090"`,
		`data-ably-tls="false"`, `data-token-path="/api/auth/token"`, `data-max-reason="512"`, `<script src="/assets/app.js" defer></script>`,
		// The role badge's note is read out, not only a mouse's tooltip.
		`<span class="visually-hidden" id="my-role-note">: your role, for your information only; the agent checks your role itself, from your sign-in token</span>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("inbox page lacks %s", want)
		}
	}

	tok := b.token(csrf)
	if tok.Code != http.StatusOK || tok.Header().Get("Content-Type") != "application/jwt" {
		t.Fatalf("token by cookie: %d %q", tok.Code, tok.Body)
	}
	_, claims := verifyToken(t, tok.Body.String(), clock.Now())
	if claims["x-ably-clientId"] != "alice" || claims[RoleClaim(testChannel)] != "publisher" {
		t.Errorf("claims = %v, want alice as publisher", claims)
	}

	// Logout needs the session's token; then the cookie is gone and the
	// session too, even for a copy of the cookie.
	stolen := map[string]*http.Cookie{}
	for k, c := range b.cookies {
		stolen[k] = c
	}
	if rec := b.do(http.MethodPost, LogoutPath, url.Values{"csrf": {"wrong"}}, nil); rec.Code != http.StatusForbidden {
		t.Errorf("logout with a wrong token: %d, want 403", rec.Code)
	}
	if rec := b.token(csrf); rec.Code != http.StatusOK {
		t.Errorf("after a refused logout the session must live: token %d", rec.Code)
	}
	rec = b.do(http.MethodPost, LogoutPath, url.Values{"csrf": {csrf}}, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != InboxPath {
		t.Fatalf("logout: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if _, ok := b.cookies[sessionCookieName]; ok {
		t.Error("logout left the session cookie")
	}
	b.cookies = stolen
	if rec := b.token(csrf); rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != "" {
		t.Errorf("token with the cookie of an ended session: %d (WWW-Authenticate %q), want 401 without a Basic challenge", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	if got := b.do(http.MethodGet, InboxPath, nil, nil).Body.String(); !strings.Contains(got, `id="login-form"`) {
		t.Error("after logout / does not show the login form")
	}
	if s.sessions.len() != 0 {
		t.Errorf("%d sessions left", s.sessions.len())
	}
}

// Every state-changing request of the inbox needs its CSRF token and a
// same-origin browser; the session's token endpoint needs the header.
func TestInboxCSRF(t *testing.T) {
	crossSite := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}
	foreignOrigin := map[string]string{"Sec-Fetch-Site": "", "Origin": "http://evil.example"}
	tests := []struct {
		name     string
		send     func(b *browser, loginCSRF, csrf string) int
		wantCode int
	}{
		{"login without token", func(b *browser, _, _ string) int {
			return b.do(http.MethodPost, LoginPath, url.Values{"name": {"bob"}, "password": {"bob-password-1"}}, nil).Code
		}, 403},
		{"login with a wrong token", func(b *browser, lc, _ string) int { return b.submitLogin(lc+"x", "bob", "bob-password-1").Code }, 403},
		{"login with the session's token", func(b *browser, _, c string) int { return b.submitLogin(c, "bob", "bob-password-1").Code }, 403},
		{"login cross-site", func(b *browser, lc, _ string) int {
			return b.do(http.MethodPost, LoginPath, url.Values{"csrf": {lc}, "name": {"bob"}, "password": {"bob-password-1"}}, crossSite).Code
		}, 403},
		{"login from a foreign Origin", func(b *browser, lc, _ string) int {
			return b.do(http.MethodPost, LoginPath, url.Values{"csrf": {lc}, "name": {"bob"}, "password": {"bob-password-1"}}, foreignOrigin).Code
		}, 403},
		{"logout without token", func(b *browser, _, _ string) int { return b.do(http.MethodPost, LogoutPath, url.Values{}, nil).Code }, 403},
		{"logout with the login token", func(b *browser, lc, _ string) int {
			return b.do(http.MethodPost, LogoutPath, url.Values{"csrf": {lc}}, nil).Code
		}, 403},
		{"logout cross-site", func(b *browser, _, c string) int {
			return b.do(http.MethodPost, LogoutPath, url.Values{"csrf": {c}}, crossSite).Code
		}, 403},
		{"token by cookie without header", func(b *browser, _, _ string) int {
			return b.do(http.MethodPost, TokenPath, nil, nil).Code
		}, 403},
		{"token by cookie with a wrong header", func(b *browser, _, c string) int { return b.token(c + "x").Code }, 403},
		{"token by cookie with the login token", func(b *browser, lc, _ string) int { return b.token(lc).Code }, 403},
		{"token by cookie cross-site", func(b *browser, _, c string) int {
			return b.do(http.MethodPost, TokenPath, nil, map[string]string{csrfHeader: c, "Sec-Fetch-Site": "cross-site"}).Code
		}, 403},
		{"token by cookie, GET with the header", func(b *browser, _, c string) int {
			return b.do(http.MethodGet, TokenPath, nil, map[string]string{csrfHeader: c}).Code
		}, 200},
		{"token by cookie", func(b *browser, _, c string) int { return b.token(c).Code }, 200},
		// A cookie planted beside the server's own (by a sibling site, or
		// over plain HTTP) makes the request's cookie ambiguous: it counts
		// as none, whichever of the two a reader would take.
		{"token by cookie with a second, planted session cookie", func(b *browser, _, c string) int {
			return b.do(http.MethodPost, TokenPath, nil, map[string]string{csrfHeader: c, "Cookie": sessionCookieName + "=planted"}).Code
		}, 401},
		{"login with a second, planted login cookie", func(b *browser, lc, _ string) int {
			return b.do(http.MethodPost, LoginPath, url.Values{"csrf": {lc}, "name": {"bob"}, "password": {"bob-password-1"}},
				map[string]string{"Cookie": loginCookieName + "=planted"}).Code
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, nil)
			b := newBrowser(t, s.Handler(), "192.0.2.2:1")
			csrf := b.login("alice", "alice-password")
			loginCSRF := b.cookies[loginCookieName].Value
			if got := tt.send(b, loginCSRF, csrf); got != tt.wantCode {
				t.Fatalf("status %d, want %d", got, tt.wantCode)
			}
			// A refused request changed nothing: alice is still logged in.
			if rec := b.token(csrf); rec.Code != http.StatusOK {
				t.Errorf("afterwards, token by cookie: %d, want 200", rec.Code)
			} else if _, claims := verifyToken(t, rec.Body.String(), s.now()); claims["x-ably-clientId"] != "alice" {
				t.Errorf("afterwards the session is %v's, want alice's", claims["x-ably-clientId"])
			}
		})
	}
}

// The login form lives under exactly the limits of HTTP Basic: its
// failures and Basic's add up, per address, per (name, address) and per
// name, and a correct password is never refused for them.
func TestLoginFormSharesLimits(t *testing.T) {
	type step struct {
		form     bool // the login form, else HTTP Basic on the token endpoint
		remote   string
		name     string
		password string
		want     int // 200 means logged in (303 for the form)
	}
	alt := func(n int, remote, name, password string, want int) []step {
		out := make([]step, n)
		for i := range out {
			out[i] = step{form: i%2 == 0, remote: remote, name: name, password: password, want: want}
		}
		return out
	}
	perAddr := DefaultAddrFailuresFactor * DefaultMaxFailures
	distinctUsers := make([]step, perAddr)
	for i := range distinctUsers {
		distinctUsers[i] = step{form: i%2 == 1, remote: "192.0.2.30:1", name: fmt.Sprintf("m%d", i), password: "x", want: 401}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"per user and address", slices.Concat(
			alt(5, "192.0.2.20:1", "alice", "wrong", 401),
			[]step{
				{form: true, remote: "192.0.2.20:1", name: "alice", password: "wrong", want: 429},
				{form: false, remote: "192.0.2.20:1", name: "alice", password: "wrong", want: 429},
				{form: true, remote: "192.0.2.20:1", name: "alice", password: "alice-password", want: 200},
				{form: false, remote: "192.0.2.20:1", name: "alice", password: "wrong", want: 401},
			})},
		{"per address over all names", slices.Concat(
			distinctUsers,
			[]step{
				{form: true, remote: "192.0.2.30:1", name: "m-next", password: "x", want: 429},
				{form: true, remote: "192.0.2.30:1", name: "bob", password: "bob-password-1", want: 200},
			})},
		{"unknown user like a known one", slices.Concat(
			alt(5, "192.0.2.40:1", "ghost", "x", 401),
			[]step{{form: true, remote: "192.0.2.40:1", name: "ghost", password: "x", want: 429}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, _ := newTestServer(t, nil)
			var slept []time.Duration
			s.sleep = func(ctx context.Context, d time.Duration) error {
				slept = append(slept, d)
				return clock.Sleep(ctx, d)
			}
			h := s.Handler()
			for i, st := range tt.steps {
				var code int
				if st.form {
					b := newBrowser(t, h, st.remote)
					rec := b.submitLogin(b.loginForm(), st.name, st.password)
					code = rec.Code
					if code == http.StatusSeeOther {
						code = http.StatusOK
					}
					if code == http.StatusUnauthorized && !strings.Contains(rec.Body.String(), msgLoginFailed) {
						t.Errorf("step %d: the form's 401 page lacks %q", i, msgLoginFailed)
					}
					if code == http.StatusTooManyRequests && rec.Header().Get("Retry-After") == "" {
						t.Errorf("step %d: 429 without Retry-After", i)
					}
				} else {
					code = doToken(t, h, http.MethodGet, st.remote, basic(st.name, st.password)).Code
				}
				if code != st.want {
					t.Fatalf("step %d (form %v, %s as %s): status %d, want %d", i, st.form, st.remote, st.name, code, st.want)
				}
			}
			// The name gate saw the form's failures too: the sixth failure
			// for a name waited for its turn.
			if tt.name != "per address over all names" && len(slept) == 0 {
				t.Error("no login waited for its turn: the form's failures did not reach the per-name cap")
			}
		})
	}
}

// A session ends when the user is removed or their password changes, and
// the token follows a change of role at once.
func TestSessionFollowsUsersFile(t *testing.T) {
	tests := []struct {
		name      string
		change    func(t *testing.T, path string)
		wantCode  int
		wantRole  string
		wantLogin bool // / shows the login form again
	}{
		{"unchanged", func(*testing.T, string) {}, 200, "publisher", false},
		{"demoted in the file, same hash", func(t *testing.T, path string) {
			users, err := ReadUsersFile(path, Rules{Cost: bcrypt.MinCost})
			if err != nil {
				t.Fatal(err)
			}
			u := users["alice"]
			u.Role = "editor"
			users["alice"] = u
			if err := writeUsers(path, users); err != nil {
				t.Fatal(err)
			}
		}, 200, "editor", false},
		{"demoted by useradd (a new hash, even of the same password)", func(t *testing.T, path string) {
			if err := AddUser(path, "alice", "editor", "alice-password", nil, WithCost(bcrypt.MinCost)); err != nil {
				t.Fatal(err)
			}
		}, 401, "", true},
		{"removed", func(t *testing.T, path string) {
			if err := DeleteUser(path, "alice", nil, WithCost(bcrypt.MinCost)); err != nil {
				t.Fatal(err)
			}
		}, 401, "", true},
		{"password changed", func(t *testing.T, path string) {
			if err := AddUser(path, "alice", "publisher", "a-new-password-9", nil, WithCost(bcrypt.MinCost)); err != nil {
				t.Fatal(err)
			}
		}, 401, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, clock, path := newTestServer(t, nil)
			b := newBrowser(t, s.Handler(), "192.0.2.3:1")
			csrf := b.login("alice", "alice-password")
			clock.Advance(time.Second)
			tt.change(t, path)
			bumpMtime(t, path, clock.Now())
			rec := b.token(csrf)
			if rec.Code != tt.wantCode {
				t.Fatalf("token: %d %q, want %d", rec.Code, rec.Body, tt.wantCode)
			}
			if tt.wantRole != "" {
				if _, claims := verifyToken(t, rec.Body.String(), clock.Now()); claims[RoleClaim(testChannel)] != tt.wantRole {
					t.Errorf("role claim = %v, want %s", claims[RoleClaim(testChannel)], tt.wantRole)
				}
			}
			page := b.do(http.MethodGet, InboxPath, nil, nil).Body.String()
			if got := strings.Contains(page, `id="login-form"`); got != tt.wantLogin {
				t.Errorf("/ shows the login form: %v, want %v", got, tt.wantLogin)
			}
		})
	}
}

// bumpMtime makes sure the users file looks changed to the reloader even
// within the file system's timestamp granularity.
func bumpMtime(t *testing.T, path string, at time.Time) {
	t.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		t.Fatal(err)
	}
}

func TestSessionExpires(t *testing.T) {
	s, clock, _ := newTestServer(t, func(c *Config) { c.SessionTTL = time.Hour })
	b := newBrowser(t, s.Handler(), "192.0.2.4:1")
	csrf := b.login("bob", "bob-password-1")
	clock.Advance(time.Hour - time.Second)
	if rec := b.token(csrf); rec.Code != http.StatusOK {
		t.Fatalf("before expiry: %d", rec.Code)
	}
	clock.Advance(time.Second)
	if rec := b.token(csrf); rec.Code != http.StatusUnauthorized {
		t.Fatalf("at expiry: %d, want 401", rec.Code)
	}
}

// TestSessionTokenEndsWithSession: a token the session's cookie gets
// expires when the session does, not a token's TTL after its last minute:
// the inbox page of a session that ended stops at its next renewal, as
// the README says, not up to AUTH_TOKEN_TTL after the session's end. A
// session with less than MinTokenTTL left gets no token.
func TestSessionTokenEndsWithSession(t *testing.T) {
	s, clock, _ := newTestServer(t, func(c *Config) { c.SessionTTL = 2 * time.Hour })
	b := newBrowser(t, s.Handler(), "192.0.2.4:1")
	csrf := b.login("bob", "bob-password-1")
	end := clock.Now().Add(2 * time.Hour)

	rec := b.token(csrf)
	if rec.Code != http.StatusOK {
		t.Fatalf("token: %d %q", rec.Code, rec.Body)
	}
	_, claims := verifyToken(t, rec.Body.String(), clock.Now())
	if exp, _ := claims.GetExpirationTime(); exp == nil || !exp.Equal(clock.Now().Add(DefaultTokenTTL)) {
		t.Errorf("a token early in the session expires at %v, want the full TTL, %v", exp, clock.Now().Add(DefaultTokenTTL))
	}

	clock.Advance(2*time.Hour - 10*time.Minute)
	rec = b.token(csrf)
	if rec.Code != http.StatusOK {
		t.Fatalf("token 10 minutes before the session ends: %d %q", rec.Code, rec.Body)
	}
	_, claims = verifyToken(t, rec.Body.String(), clock.Now())
	if exp, _ := claims.GetExpirationTime(); exp == nil || exp.After(end) {
		t.Errorf("a token 10 minutes before the session ends (%v) expires at %v, after it", end, exp)
	} else if !exp.Equal(end) {
		t.Errorf("a token 10 minutes before the session ends (%v) expires at %v, want then", end, exp)
	}

	// Basic auth has no session: the full TTL.
	rec = doToken(t, s.Handler(), http.MethodPost, "192.0.2.5:1", basic("bob", "bob-password-1"))
	if rec.Code != http.StatusOK {
		t.Fatalf("Basic token: %d %q", rec.Code, rec.Body)
	}
	_, claims = verifyToken(t, rec.Body.String(), clock.Now())
	if exp, _ := claims.GetExpirationTime(); exp == nil || !exp.Equal(clock.Now().Add(DefaultTokenTTL)) {
		t.Errorf("a Basic token expires at %v, want the full TTL, %v", exp, clock.Now().Add(DefaultTokenTTL))
	}

	clock.Advance(10*time.Minute - MinTokenTTL)
	if rec := b.token(csrf); rec.Code != http.StatusOK {
		t.Fatalf("token %s before the session ends: %d, want a token of %s", MinTokenTTL, rec.Code, MinTokenTTL)
	}
	clock.Advance(MinTokenTTL / 2)
	if rec := b.token(csrf); rec.Code != http.StatusUnauthorized {
		t.Errorf("token %s before the session ends: %d, want 401 (session ended)", MinTokenTTL/2, rec.Code)
	}
}

// A login replaces the browser's earlier session (no fixation).
// TestLoginFormTrimsName: the space a phone keyboard adds after a word is
// not part of the name; the password is taken as typed.
func TestLoginFormTrimsName(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.7:1")
	b.login(" alice ", "alice-password")
	b2 := newBrowser(t, s.Handler(), "192.0.2.8:1")
	if rec := b2.submitLogin(b2.loginForm(), "alice", " alice-password"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("a password with a space added: %d, want 401", rec.Code)
	}
}

// The login form's message is tied to its fields (aria-describedby), so
// that a screen reader says it with the field the focus is put in: the
// password after a wrong one, the name when none was kept. The fields
// keep what a password manager needs (autocomplete), and the password
// never goes in a URL (POST).
func TestLoginFormAccessible(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.9:1")
	page := b.do(http.MethodGet, InboxPath, nil, nil).Body.String()
	for _, want := range []string{`<form method="post" action="/login" id="login-form">`, `<label for="name">`, `<label for="password">`, `autocomplete="username"`, `autocomplete="current-password"`} {
		if !strings.Contains(page, want) {
			t.Errorf("login form lacks %s", want)
		}
	}
	if strings.Contains(page, "aria-describedby") {
		t.Errorf("login form without a message refers to one:\n%s", page)
	}
	field := func(page, id string) string {
		return regexp.MustCompile(`<input id="` + id + `"[^>]*>`).FindString(page)
	}
	for _, tc := range []struct{ name, focused string }{{"alice", "password"}, {"", "name"}} {
		rec := b.submitLogin(b.loginForm(), tc.name, "wrong-password")
		page := rec.Body.String()
		if rec.Code != http.StatusUnauthorized || !strings.Contains(page, `<p class="alert" role="alert" id="login-error">`+msgLoginFailed+`</p>`) {
			t.Fatalf("wrong password for %q: %d\n%s", tc.name, rec.Code, page)
		}
		for _, id := range []string{"name", "password"} {
			if f := field(page, id); !strings.Contains(f, `aria-describedby="login-error"`) {
				t.Errorf("name %q: field %s is not described by the message: %s", tc.name, id, f)
			}
		}
		if f := field(page, tc.focused); !strings.Contains(f, "autofocus") {
			t.Errorf("name %q: the focus is not put in %s: %s", tc.name, tc.focused, f)
		}
	}
}

func TestLoginReplacesSession(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.5:1")
	b.login("alice", "alice-password")
	first := b.cookies[sessionCookieName].Value
	if rec := b.submitLogin(b.cookies[loginCookieName].Value, "bob", "bob-password-1"); rec.Code != http.StatusSeeOther {
		t.Fatalf("second login: %d", rec.Code)
	}
	if second := b.cookies[sessionCookieName].Value; second == first {
		t.Fatal("the session id did not change at login")
	}
	if _, ok := s.sessions.get(first, s.now()); ok {
		t.Error("the earlier session still lives")
	}
	if s.sessions.len() != 1 {
		t.Errorf("%d sessions, want 1", s.sessions.len())
	}
}

func TestSessionStoreBounds(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		max, per   int
		logins     []string // user of each login, one second apart
		wantLive   []int    // indexes of logins still live after all
		advance    time.Duration
		wantAfter  int // sessions held after advance and one more login of "z"
		ttl        time.Duration
		wantLenEnd int
	}{
		{name: "per user", max: 100, per: 2, logins: []string{"a", "a", "b", "a"}, wantLive: []int{1, 2, 3}, ttl: time.Hour},
		{name: "total", max: 3, per: 3, logins: []string{"a", "b", "c", "d"}, wantLive: []int{1, 2, 3}, ttl: time.Hour},
		{name: "expired dropped first", max: 3, per: 3, logins: []string{"a", "b"}, wantLive: []int{0, 1}, advance: time.Hour, wantAfter: 1, ttl: time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newSessionStore(tt.ttl, tt.max, tt.per)
			var ids []string
			at := now
			for _, u := range tt.logins {
				id, _ := st.create(u, "hash", at)
				ids = append(ids, id)
				at = at.Add(time.Second)
			}
			for i, id := range ids {
				_, ok := st.get(id, at)
				if want := slices.Contains(tt.wantLive, i); ok != want {
					t.Errorf("login %d (%s) live = %v, want %v", i, tt.logins[i], ok, want)
				}
			}
			if tt.advance > 0 {
				st.create("z", "hash", at.Add(tt.advance))
				if st.len() != tt.wantAfter {
					t.Errorf("after expiry: %d sessions, want %d", st.len(), tt.wantAfter)
				}
			}
		})
	}
}

func TestCookiesSecureOffLoopback(t *testing.T) {
	certFile, keyFile, _ := writeSelfSigned(t)
	tests := []struct {
		name       string
		mod        func(*Config)
		wantSecure bool
	}{
		{"plain HTTP on loopback", func(c *Config) { c.Listen = "127.0.0.1:3001" }, false},
		{"localhost", func(c *Config) { c.Listen = "localhost:3001" }, false},
		{"TLS", func(c *Config) { c.Listen = "127.0.0.1:3001"; c.TLSCertFile, c.TLSKeyFile = certFile, keyFile }, true},
		{"behind a TLS proxy", func(c *Config) { c.Listen = "0.0.0.0:3001"; c.AllowPlaintext = true }, true},
		// Plain HTTP allowed on loopback says a TLS proxy is in front, on
		// this machine, even with no trusted proxy set.
		{"plaintext allowed on loopback", func(c *Config) { c.Listen = "127.0.0.1:3001"; c.AllowPlaintext = true }, true},
		{"all interfaces", func(c *Config) { c.Listen = ":3001" }, true},
		// A TLS proxy on this machine in front of a loopback listener: the
		// trusted proxy says a proxy is in front.
		{"behind a proxy on this machine", func(c *Config) {
			c.Listen = "127.0.0.1:3001"
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, tt.mod)
			b := newBrowser(t, s.Handler(), "192.0.2.6:1")
			rec := b.do(http.MethodGet, InboxPath, nil, nil)
			wantName := loginCookieName
			if tt.wantSecure {
				wantName = hostCookiePrefix + loginCookieName
			}
			cs := rec.Result().Cookies()
			if len(cs) != 1 || cs[0].Secure != tt.wantSecure || cs[0].Name != wantName {
				t.Fatalf("cookies = %+v, want %s with Secure=%v", cs, wantName, tt.wantSecure)
			}
			csrf := match(t, loginCSRFRe, rec.Body.String())
			rec = b.submitLogin(csrf, "alice", "alice-password")
			cs = rec.Result().Cookies()
			wantName = strings.Replace(wantName, loginCookieName, sessionCookieName, 1)
			if rec.Code != http.StatusSeeOther || len(cs) != 1 || cs[0].Name != wantName || cs[0].Secure != tt.wantSecure {
				t.Fatalf("login: %d, cookies %+v, want %s with Secure=%v", rec.Code, cs, wantName, tt.wantSecure)
			}
		})
	}
}

// The pages and files carry a strict policy and no inline script, style
// or event handler.
func TestInboxContentSecurityPolicy(t *testing.T) {
	tests := []struct {
		name        string
		endpoint    string
		tls         bool
		wantConnect string
	}{
		{"local Ably", "127.0.0.1:8090", false, "connect-src 'self' http://127.0.0.1:8090 ws://127.0.0.1:8090"},
		{"local Ably over TLS", "ably.internal:8443", true, "connect-src 'self' https://ably.internal:8443 wss://ably.internal:8443"},
		{"IPv6", "[::1]:8090", false, "connect-src 'self' http://[::1]:8090 ws://[::1]:8090"},
		{"Ably itself", "", false, "connect-src 'self' https://main.realtime.ably.net wss://main.realtime.ably.net https://*.ably-realtime.com wss://*.ably-realtime.com"},
	}
	inline := []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`),            // checked below: src required
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),                  // event handler attributes
		regexp.MustCompile(`(?i)\sstyle\s*=`),                     // inline style
		regexp.MustCompile(`(?i)<style`),                          // style element
		regexp.MustCompile(`(?i)javascript:`),                     // script URLs
		regexp.MustCompile(`(?i)<(?:link|script|img)[^>]+//[^/]`), // anything from another origin
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, func(c *Config) { c.AblyEndpoint, c.AblyTLS = tt.endpoint, tt.tls })
			b := newBrowser(t, s.Handler(), "192.0.2.7:1")
			login := b.do(http.MethodGet, InboxPath, nil, nil)
			b.login("alice", "alice-password")
			inbox := b.do(http.MethodGet, InboxPath, nil, nil)
			js := b.do(http.MethodGet, AssetsPath+"app.js", nil, nil)
			css := b.do(http.MethodGet, AssetsPath+"app.css", nil, nil)
			for name, rec := range map[string]interface {
				Header() http.Header
			}{"login": login, "inbox": inbox, "app.js": js, "app.css": css} {
				csp := rec.Header().Get("Content-Security-Policy")
				for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'", "require-trusted-types-for 'script'", tt.wantConnect} {
					if !strings.Contains(csp+";", want+";") {
						t.Errorf("%s: CSP %q lacks %q", name, csp, want)
					}
				}
				for _, bad := range []string{"unsafe", "data:", "blob:", "*;", "* "} {
					if strings.Contains(csp, bad) {
						t.Errorf("%s: CSP %q has %q", name, csp, bad)
					}
				}
				if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
					t.Errorf("%s: X-Content-Type-Options %q", name, got)
				}
				if got := rec.Header().Get("X-Frame-Options"); got != "DENY" {
					t.Errorf("%s: X-Frame-Options %q", name, got)
				}
			}
			if ct := js.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
				t.Errorf("app.js Content-Type %q", ct)
			}
			if ct := css.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
				t.Errorf("app.css Content-Type %q", ct)
			}
			for name, rec := range map[string]string{"login": login.Body.String(), "inbox": inbox.Body.String()} {
				for _, tag := range inline[0].FindAllString(rec, -1) {
					if !strings.Contains(tag, `src="/assets/`) {
						t.Errorf("%s page: inline script %s", name, tag)
					}
				}
				for _, re := range inline[1:] {
					if m := re.FindString(rec); m != "" {
						t.Errorf("%s page: %q matches %s", name, m, re)
					}
				}
			}
		})
	}
}

func TestInboxAssets(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.8:1")
	rec := b.do(http.MethodGet, AssetsPath+"app.js", nil, nil)
	if rec.Code != http.StatusOK || rec.Body.Len() == 0 {
		t.Fatalf("app.js: %d, %d bytes", rec.Code, rec.Body.Len())
	}
	etag := rec.Header().Get("ETag")
	if rec := b.do(http.MethodGet, AssetsPath+"app.js", nil, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", rec.Code)
	}
	for _, p := range []string{AssetsPath + "nope.js", AssetsPath + "../web.go", "/index.html", "/login"} {
		if rec := b.do(http.MethodGet, p, nil, nil); rec.Code == http.StatusOK {
			t.Errorf("GET %s: 200, want no file", p)
		}
	}
}

func TestValidateAblyEndpoint(t *testing.T) {
	tests := []struct {
		endpoint string
		ok       bool
	}{
		{"127.0.0.1:8090", true},
		{"[::1]:8090", true},
		{"ably.internal:443", true},
		{"127.0.0.1", false},
		{"host:port", false},
		{"host:0", false},
		{"evil.example:80; script-src *", false},
		{"a b:80", false},
		{":80", false},
	}
	for _, tt := range tests {
		err := ValidateAblyEndpoint(tt.endpoint)
		if (err == nil) != tt.ok {
			t.Errorf("ValidateAblyEndpoint(%q) = %v, want ok %v", tt.endpoint, err, tt.ok)
		}
	}
}
