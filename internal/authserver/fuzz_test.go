package authserver

import (
	"encoding/base64"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzParseUsers feeds arbitrary users files to the parser: it must never
// panic, everything it accepts must satisfy the rules, and what it accepts
// must survive a write and re-read unchanged.
func FuzzParseUsers(f *testing.F) {
	h, _ := bcrypt.GenerateFromPassword([]byte("password1"), bcrypt.MinCost)
	f.Add([]byte(`{"users":[]}`))
	f.Add([]byte(`{"users":[{"name":"alice","role":"publisher","passwordHash":"` + string(h) + `"}]}`))
	f.Add([]byte(`{"users":[{"name":"a","role":"admin","passwordHash":"` + string(h) + `"},{"name":"a","role":"admin","passwordHash":"x"}]}`))
	f.Add([]byte(`{"users":null}`))
	f.Add([]byte(`{"users":[{"name":"*","role":"","passwordHash":"$2a$04$"}]} trailing`))
	f.Add([]byte(`null`))
	rules := Rules{Cost: bcrypt.MinCost}
	f.Fuzz(func(t *testing.T, data []byte) {
		users, err := ParseUsers(data, rules)
		if err != nil {
			return
		}
		for name, u := range users {
			if name != u.Name {
				t.Fatalf("key %q holds user %q", name, u.Name)
			}
			if err := rules.checkUser(u); err != nil {
				t.Fatalf("accepted invalid user: %v", err)
			}
		}
		out, err := MarshalUsers(users)
		if err != nil {
			t.Fatalf("MarshalUsers: %v", err)
		}
		again, err := ParseUsers(out, rules)
		if err != nil {
			t.Fatalf("re-reading a written file: %v\n%s", err, out)
		}
		if !maps.Equal(users, again) {
			t.Fatalf("round trip changed users: %v != %v", users, again)
		}
	})
}

// FuzzParseBasic feeds arbitrary Authorization header values to the Basic
// parser: it must never panic, and what it accepts must re-encode to
// credentials that parse the same.
func FuzzParseBasic(f *testing.F) {
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:pw")))
	f.Add("basic    " + base64.StdEncoding.EncodeToString([]byte("alice:p:w")))
	f.Add("Basic " + base64.StdEncoding.EncodeToString([]byte(":pw")))
	f.Add("Basic")
	f.Add("Bearer x.y.z")
	f.Add("Basic YWxpY2U=")
	f.Add("Basic YWxpY2U6cHc")
	f.Fuzz(func(t *testing.T, header string) {
		user, pw, ok := parseBasic(header)
		if !ok {
			if user != "" || pw != "" {
				t.Fatalf("rejected header returned credentials %q %q", user, pw)
			}
			return
		}
		if user == "" || strings.Contains(user, ":") {
			t.Fatalf("accepted user %q", user)
		}
		if len(header) > maxAuthHeader {
			t.Fatalf("accepted a %d-byte header", len(header))
		}
		u2, pw2, ok2 := parseBasic("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw)))
		if !ok2 || u2 != user || pw2 != pw {
			t.Fatalf("round trip: %q %q %v, want %q %q", u2, pw2, ok2, user, pw)
		}
	})
}

// FuzzClientAddress feeds arbitrary X-Forwarded-For values: the result is
// never empty, an untrusted peer always keys on itself, and a trusted peer
// keys on a parsed address or on an entry of the header.
func FuzzClientAddress(f *testing.F) {
	f.Add("10.0.0.1:1", "198.51.100.1")
	f.Add("10.0.0.1:1", "1.2.3.4, 10.0.0.9, [2001:db8::1]:80")
	f.Add("203.0.113.1:1", "garbage,,")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := clientAddress(remote, []string{xff}, trusted)
		if got == "" && remote != "" {
			t.Fatalf("empty client address for %q / %q", remote, xff)
		}
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		peer, err := netip.ParseAddr(host)
		if err != nil || !inPrefixes(peer, trusted) {
			if got != remote {
				t.Fatalf("untrusted peer %q keyed on %q", remote, got)
			}
			return
		}
		if got != remote && !strings.Contains(xff, got) {
			if _, err := netip.ParseAddr(got); err != nil {
				t.Fatalf("trusted peer: client %q neither parsed nor from the header %q", got, xff)
			}
		}
		_ = clientKey(got)
	})
}

// FuzzCookieValue feeds arbitrary Cookie headers to the lookup of the
// session and login cookies. It returns a value only when the header holds
// exactly one cookie of the server's name (with secure cookies, the
// __Host- one: the bare name, which a sibling subdomain or a plain-HTTP
// page can plant, never counts), and then that cookie's value; and a
// planted cookie of the same name, before or after the header's, always
// makes it return nothing.
func FuzzCookieValue(f *testing.F) {
	f.Add("hitl-session=abc", false)
	f.Add("__Host-hitl-session=abc; hitl-login=def", true)
	f.Add("hitl-session=abc; hitl-session=evil", false)
	f.Add(`hitl-session="abc"; __Host-hitl-session=x;;; =y`, true)
	f.Add("HITL-SESSION=abc;hitl-session=", false)
	f.Fuzz(func(t *testing.T, header string, secure bool) {
		s := &Server{secureCookies: secure}
		get := func(h, base string) string {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", h)
			return s.cookieValue(r, base)
		}
		for _, base := range []string{sessionCookieName, loginCookieName} {
			name := s.cookieName(base)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Cookie", header)
			var values []string
			for _, c := range r.Cookies() {
				if c.Name == name {
					values = append(values, c.Value)
				}
			}
			got := get(header, base)
			if got != "" && (len(values) != 1 || values[0] != got) {
				t.Fatalf("cookieValue(%q, %q) = %q; cookies of that name: %q", header, name, got, values)
			}
			if len(values) == 0 {
				continue
			}
			if got := get(header+"; "+name+"=planted", base); got != "" {
				t.Fatalf("with a planted cookie after %q: %q", header, got)
			}
			if got := get(name+"=planted; "+header, base); got != "" {
				t.Fatalf("with a planted cookie before %q: %q", header, got)
			}
		}
	})
}

// FuzzInboxRefusal sends arbitrary state-changing requests (the login form,
// logout, the token endpoint) with arbitrary cookies, form bodies, CSRF and
// Authorization headers and browser headers to a server with one user.
// Refusal is total for every request that lacks what each route needs: a
// session cookie is set only by a login form that carries the double-submit
// token of its one login cookie and the user's password; a token is issued
// only for the user's Basic credentials (no fuzzed session cookie is a live
// session's); logout of a session nobody holds never succeeds.
func FuzzInboxRefusal(f *testing.F) {
	const user, password = "alice", "alice-password"
	login := strings.Repeat("L", 52)
	f.Add(uint8(0), loginCookieName+"="+login, "csrf="+login+"&name=alice&password=alice-password", "", "", "")
	f.Add(uint8(0), loginCookieName+"="+login+"; "+loginCookieName+"=x", "csrf=x&name=alice&password=alice-password", "", "", "same-origin")
	f.Add(uint8(0), loginCookieName+"=", "csrf=&name=+alice+&password=alice-password", "", "", "")
	f.Add(uint8(0), "", "csrf=&name=alice&password=alice-password&csrf="+login, "", "", "cross-site")
	f.Add(uint8(1), sessionCookieName+"=abc", "csrf=abc", "abc", "", "")
	f.Add(uint8(2), sessionCookieName+"=abc", "", "abc", "", "same-origin")
	f.Add(uint8(2), "", "", "", basic(user, password), "")
	f.Add(uint8(2), sessionCookieName+"=x", "", "x", basic(user, "wrong"), "")
	path := filepath.Join(f.TempDir(), "users.json")
	if err := AddUser(path, user, "publisher", password, nil, WithCost(bcrypt.MinCost)); err != nil {
		f.Fatal(err)
	}
	clock := newFakeClock()
	s, err := New(Config{UsersFile: path, AblyKey: testKey, BcryptCost: bcrypt.MinCost, Now: clock.Now})
	if err != nil {
		f.Fatal(err)
	}
	s.sleep = clock.Sleep
	h := s.Handler()
	f.Fuzz(func(t *testing.T, route uint8, cookie, form, csrf, authorization, secFetchSite string) {
		target := []string{LoginPath, LogoutPath, TokenPath}[int(route)%3]
		req := httptest.NewRequest(http.MethodPost, target, strings.NewReader(form))
		req.RemoteAddr = "192.0.2.1:1"
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range map[string]string{"Cookie": cookie, csrfHeader: csrf, "Authorization": authorization, "Sec-Fetch-Site": secFetchSite} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		sessions := s.sessions.len()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		newSession := false
		for _, c := range rec.Result().Cookies() {
			if c.Name == s.cookieName(sessionCookieName) && c.Value != "" {
				newSession = true
			}
		}
		if newSession || s.sessions.len() > sessions {
			vals, err := url.ParseQuery(form)
			parsed := httptest.NewRequest(http.MethodGet, "/", nil)
			parsed.Header.Set("Cookie", cookie)
			var logins []string
			for _, c := range parsed.Cookies() {
				if c.Name == s.cookieName(loginCookieName) {
					logins = append(logins, c.Value)
				}
			}
			if target != LoginPath || rec.Code != http.StatusSeeOther || err != nil || len(logins) != 1 || logins[0] == "" ||
				vals.Get(csrfField) != logins[0] || strings.TrimSpace(vals.Get("name")) != user || vals.Get("password") != password {
				t.Fatalf("POST %s (Cookie %q, form %q) started a session: %d", target, cookie, form, rec.Code)
			}
		}
		switch target {
		case TokenPath:
			if rec.Code == http.StatusOK {
				if u, pw, ok := parseBasic(authorization); !ok || u != user || pw != password {
					t.Fatalf("token issued to Authorization %q, Cookie %q, %s %q", authorization, cookie, csrfHeader, csrf)
				}
			}
		case LogoutPath:
			if rec.Code == http.StatusSeeOther {
				t.Fatalf("logout of no live session succeeded (Cookie %q, form %q)", cookie, form)
			}
		}
	})
}
