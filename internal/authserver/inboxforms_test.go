package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// The login and logout forms are read only up to maxFormBytes: a larger
// body is refused before anything in it is looked at.
func TestInboxFormsBounded(t *testing.T) {
	big := strings.Repeat("x", maxFormBytes)
	for _, path := range []string{LoginPath, LogoutPath} {
		t.Run(path, func(t *testing.T) {
			s, _, _ := newTestServer(t, nil)
			b := newBrowser(t, s.Handler(), "192.0.2.33:1")
			csrf := b.loginForm()
			rec := b.do(http.MethodPost, path, url.Values{"csrf": {csrf}, "name": {"alice"}, "password": {"alice-password"}, "pad": {big}}, nil)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("POST %s with a %d-byte body: %d, want 400", path, maxFormBytes+100, rec.Code)
			}
		})
	}
}

// A failed login shows the name typed back only when it can be a user
// name: people type their password into the name field, and the page
// must not show it (nor a cache or a screen share keep it).
func TestLoginFormShowsOnlyValidNames(t *testing.T) {
	tests := []struct {
		typed    string
		wantShow bool
	}{
		{"alice", true},
		{"nobody", true},
		{"Hunter2-Secret!", false},
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			s, _, _ := newTestServer(t, nil)
			b := newBrowser(t, s.Handler(), "192.0.2.34:1")
			rec := b.submitLogin(b.loginForm(), tt.typed, "wrong-password")
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", rec.Code)
			}
			if got := strings.Contains(rec.Body.String(), tt.typed); got != tt.wantShow {
				t.Errorf("page shows %q: %v, want %v", tt.typed, got, tt.wantShow)
			}
		})
	}
}

// A token request from the page without its cookie (the session ended, the
// cookie was cleared) gets 401 without a Basic challenge, which would make
// the browser prompt for a password.
func TestPageTokenWithoutCookieIsNotChallenged(t *testing.T) {
	s, _, _ := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.35:1")
	rec := b.token("some-csrf-token")
	if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("token with the CSRF header and no cookie: %d, WWW-Authenticate %q; want 401 without a challenge", rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
}

// The page reaches Ably itself over TLS; a local endpoint as configured.
func TestInboxAblyTLS(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		tls      bool
		want     string
	}{
		{"Ably itself", "", false, `data-ably-tls="true"`},
		{"local, plain", "127.0.0.1:8090", false, `data-ably-tls="false"`},
		{"local, TLS", "ably.internal:8443", true, `data-ably-tls="true"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, func(c *Config) { c.AblyEndpoint, c.AblyTLS = tt.endpoint, tt.tls })
			b := newBrowser(t, s.Handler(), "192.0.2.36:1")
			b.login("alice", "alice-password")
			if body := b.do(http.MethodGet, InboxPath, nil, nil).Body.String(); !strings.Contains(body, tt.want) {
				t.Errorf("inbox page lacks %s", tt.want)
			}
		})
	}
}

// The inbox page itself, asked for before any token, reads the users file:
// a browser whose user was removed gets the login form, not an inbox
// with an empty name.
func TestInboxPageAfterUserRemoved(t *testing.T) {
	s, clock, path := newTestServer(t, nil)
	b := newBrowser(t, s.Handler(), "192.0.2.37:1")
	b.login("alice", "alice-password")
	clock.Advance(time.Second)
	if err := DeleteUser(path, "alice", nil, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, path, clock.Now())
	page := b.do(http.MethodGet, InboxPath, nil, nil).Body.String()
	if !strings.Contains(page, `id="login-form"`) || strings.Contains(page, `id="inbox"`) {
		t.Fatalf("/ after alice was removed: want the login form:\n%s", page)
	}
}
