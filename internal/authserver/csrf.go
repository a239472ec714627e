package authserver

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"time"
)

// Cross-site request forgery is refused in two independent layers, each
// enough on its own in a current browser:
//
//  1. Every request goes through net/http's CrossOriginProtection: a
//     state-changing (non-GET/HEAD/OPTIONS) request that a browser marks
//     as cross-origin (Sec-Fetch-Site, or an Origin that is not this host)
//     gets 403. Requests without those headers (the CLI, curl) pass.
//  2. Every state-changing request of the inbox carries a token the
//     attacker's page cannot read: the session's CSRF token (a form field
//     of the logout form, the X-CSRF-Token header of the page's token
//     requests), or, for the login form, a double-submit token (a random
//     cookie that the form repeats in a hidden field). A missing or wrong
//     token gets 403.
//
// The session cookie itself is HttpOnly and SameSite=Strict, so a
// cross-site request does not even carry it.

// Names of the CSRF token in forms and headers.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// Cookie names. Over TLS (Secure cookies) they take the __Host- prefix:
// the browser then accepts them only from this host, over HTTPS, for
// path /, so a sibling subdomain cannot plant one.
const (
	sessionCookieName = "hitl-session"
	loginCookieName   = "hitl-login"
	hostCookiePrefix  = "__Host-"
)

// loginCookieTTL bounds the life of the login form's double-submit token.
const loginCookieTTL = 12 * time.Hour

func (s *Server) cookieName(base string) string {
	if s.secureCookies {
		return hostCookiePrefix + base
	}
	return base
}

// newCookie is a cookie of this server: path /, HttpOnly, SameSite=Strict,
// Secure unless the server serves plain HTTP on loopback. maxAge < 0
// deletes it; 0 makes it a browser-session cookie.
func (s *Server) newCookie(base, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{
		Name:     s.cookieName(base),
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.secureCookies,
		SameSite: http.SameSiteStrictMode,
	}
	switch {
	case maxAge < 0:
		c.MaxAge = -1
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	}
	return c
}

// cookieValue returns the value of the request's cookie of this server
// called base; empty when absent or when the request holds more than one
// (a planted duplicate).
func (s *Server) cookieValue(r *http.Request, base string) string {
	name := s.cookieName(base)
	var value string
	n := 0
	for _, c := range r.CookiesNamed(name) {
		value = c.Value
		n++
	}
	if n != 1 {
		return ""
	}
	return value
}

// tokensEqual compares two CSRF tokens in constant time; empty tokens
// never match.
func tokensEqual(got, want string) bool {
	return got != "" && want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// loginToken returns the login form's double-submit token, setting a new
// cookie when the request has none.
func (s *Server) loginToken(w http.ResponseWriter, r *http.Request) string {
	if v := s.cookieValue(r, loginCookieName); len(v) >= 26 {
		return v
	}
	v := rand.Text() + rand.Text()
	http.SetCookie(w, s.newCookie(loginCookieName, v, loginCookieTTL))
	return v
}

// crossOriginProtection wraps h with the first layer. Its refusals are
// logged and answered with the inbox's plain 403.
func (s *Server) crossOriginProtection(h http.Handler) http.Handler {
	p := http.NewCrossOriginProtection()
	p.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log, _ := s.requestLog(r)
		log.Warn("cross-origin request refused", "method", r.Method, "path", r.URL.Path,
			"origin", r.Header.Get("Origin"), "secFetchSite", r.Header.Get("Sec-Fetch-Site"))
		s.forbidden(w)
	}))
	return p.Handler(h)
}

// msgForbidden is the body of every CSRF refusal.
const msgForbidden = "forbidden: this request did not come from the inbox page (cross-site, or a stale form); reload the inbox and try again"

func (s *Server) forbidden(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, msgForbidden, http.StatusForbidden)
}
