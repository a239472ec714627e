package authserver

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// browser plays a browser against the handler: it keeps the cookies the
// server sets and sends them back, and marks its requests as a browser
// does (Sec-Fetch-Site: same-origin, unless a test says otherwise).
type browser struct {
	t       *testing.T
	h       http.Handler
	remote  string
	cookies map[string]*http.Cookie
}

func newBrowser(t *testing.T, h http.Handler, remote string) *browser {
	return &browser{t: t, h: h, remote: remote, cookies: map[string]*http.Cookie{}}
}

// do sends one request; form, when not nil, is the urlencoded body.
// headers override the defaults; an empty value removes a header.
func (b *browser) do(method, path string, form url.Values, headers map[string]string) *httptest.ResponseRecorder {
	b.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = b.remote
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if method != http.MethodGet {
		req.Header.Set("Origin", "http://"+req.Host)
	}
	for k, v := range headers {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	for _, c := range b.cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

var (
	loginCSRFRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	inboxCSRFRe = regexp.MustCompile(`data-csrf="([^"]+)"`)
)

// match returns the first group of re in body, failing the test without.
func match(t *testing.T, re *regexp.Regexp, body string) string {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in page:\n%s", re, body)
	}
	return m[1]
}

// loginForm opens the login page and returns its CSRF token.
func (b *browser) loginForm() string {
	b.t.Helper()
	rec := b.do(http.MethodGet, InboxPath, nil, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="login-form"`) {
		b.t.Fatalf("GET /: status %d, want the login form:\n%s", rec.Code, rec.Body)
	}
	return match(b.t, loginCSRFRe, rec.Body.String())
}

// submitLogin posts the login form with the given token.
func (b *browser) submitLogin(csrf, name, password string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(http.MethodPost, LoginPath, url.Values{"csrf": {csrf}, "name": {name}, "password": {password}}, nil)
}

// login signs in through the form and returns the inbox's CSRF token.
func (b *browser) login(name, password string) string {
	b.t.Helper()
	rec := b.submitLogin(b.loginForm(), name, password)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != InboxPath {
		b.t.Fatalf("login as %s: status %d, Location %q, want 303 to /:\n%s", name, rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	return b.inboxCSRF()
}

// inboxCSRF opens the inbox and returns its CSRF token.
func (b *browser) inboxCSRF() string {
	b.t.Helper()
	rec := b.do(http.MethodGet, InboxPath, nil, nil)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `id="inbox"`) {
		b.t.Fatalf("GET /: status %d, want the inbox:\n%s", rec.Code, rec.Body)
	}
	return match(b.t, inboxCSRFRe, rec.Body.String())
}

// token asks for a JWT as the page's authCallback does.
func (b *browser) token(csrf string) *httptest.ResponseRecorder {
	b.t.Helper()
	return b.do(http.MethodPost, TokenPath, nil, map[string]string{csrfHeader: csrf})
}
