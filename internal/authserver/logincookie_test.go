package authserver

import (
	"net/http"
	"testing"
)

// The login form's double-submit cookie lasts loginCookieTTL, and one whose
// value is too short to be ours (planted, or cut) is replaced, not echoed
// into the form.
func TestLoginCookie(t *testing.T) {
	tests := []struct {
		name      string
		planted   string // the hitl-login cookie the browser sends, "" none
		wantReuse bool
	}{
		{"none", "", false},
		{"short", "AAAA", false},
		{"25 characters", "ABCDEFGHIJKLMNOPQRSTUVWXY", false},
		{"26 characters", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, _ := newTestServer(t, nil)
			b := newBrowser(t, s.Handler(), "192.0.2.32:1")
			if tt.planted != "" {
				b.cookies[loginCookieName] = &http.Cookie{Name: loginCookieName, Value: tt.planted}
			}
			rec := b.do(http.MethodGet, InboxPath, nil, nil)
			csrf := match(t, loginCSRFRe, rec.Body.String())
			cs := rec.Result().Cookies()
			if tt.wantReuse {
				if csrf != tt.planted || len(cs) != 0 {
					t.Fatalf("form token %q, cookies %+v; want the cookie's %q and no new cookie", csrf, cs, tt.planted)
				}
				return
			}
			if len(cs) != 1 || cs[0].Name != loginCookieName || cs[0].Value != csrf || csrf == tt.planted {
				t.Fatalf("form token %q, cookies %+v; want a new cookie holding the form's token", csrf, cs)
			}
			if want := int(loginCookieTTL.Seconds()); cs[0].MaxAge != want {
				t.Errorf("Max-Age = %d, want %d", cs[0].MaxAge, want)
			}
		})
	}
}
