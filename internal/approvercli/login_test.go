package approvercli

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hitl/durable-approvals/internal/ablyconn"
)

func TestLoginToken(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	tok, exp, err := ablyconn.SignToken("app.key", "s3cret", "alice", `{"ai:big-bad-any":["subscribe","publish","history"]}`,
		map[string]any{"ably.channel.ai:big-bad-any": "publisher"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		switch {
		case r.URL.Path != TokenPath || r.Method != http.MethodGet:
			http.NotFound(w, r)
		case u == "throttled":
			if r.URL.RawQuery == "" {
				w.Header().Set("Retry-After", "54")
			}
			http.Error(w, "too many failed attempts, retry later", http.StatusTooManyRequests)
		case u == "forbidden":
			http.Error(w, "forbidden", http.StatusForbidden)
		case !ok || u != "alice" || p != "pw":
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		case strings.HasPrefix(r.URL.RawQuery, "huge"):
			// A token followed by more than maxTokenBytes of padding.
			w.Write([]byte(tok + strings.Repeat(" ", maxTokenBytes)))
		case strings.HasPrefix(r.URL.RawQuery, "garbage"):
			w.Write([]byte("not-a-jwt"))
		default:
			w.Header().Set("Content-Type", "application/jwt")
			w.Write([]byte(tok + "\n"))
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		name    string
		login   Login
		wantErr string
	}{
		{name: "ok", login: Login{AuthURL: srv.URL, User: "alice", Password: "pw"}},
		{name: "trailing slash", login: Login{AuthURL: srv.URL + "/", User: "alice", Password: "pw"}},
		{name: "bad password", login: Login{AuthURL: srv.URL, User: "alice", Password: "nope"}, wantErr: `refused: login as "alice" (401 Unauthorized): check the user name (APPROVER_USER or -user) and APPROVER_PASSWORD`},
		{name: "forbidden", login: Login{AuthURL: srv.URL, User: "forbidden", Password: "pw"}, wantErr: "refused"},
		{name: "answer too large", login: Login{AuthURL: srv.URL + "/?huge", User: "alice", Password: "pw"}, wantErr: "too large"},
		{name: "throttled", login: Login{AuthURL: srv.URL, User: "throttled", Password: "pw"}, wantErr: "takes no more attempts for now, after failed logins or while busy (429 Too Many Requests); try again in 54s"},
		{name: "throttled, no Retry-After", login: Login{AuthURL: srv.URL + "/?x", User: "throttled", Password: "pw"}, wantErr: "try again later"},
		{name: "not found", login: Login{AuthURL: srv.URL + "/elsewhere", User: "alice", Password: "pw"}, wantErr: "404"},
		{name: "bad url", login: Login{AuthURL: "ftp://x", User: "alice", Password: "pw"}, wantErr: "want http"},
		{name: "unreachable", login: Login{AuthURL: "http://127.0.0.1:1", User: "alice", Password: "pw"}, wantErr: "login at http://127.0.0.1:1/api/auth/token (is the auth server running there? AUTH_URL or -auth-url names it): dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			td, err := tt.login.Token(t.Context())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if td.Token != tok || td.ClientID != "alice" || td.Expires != exp.UnixMilli() || td.Issued != now.UnixMilli() ||
				td.Capability != `{"ai:big-bad-any":["subscribe","publish","history"]}` {
				t.Fatalf("token details = %+v", td)
			}
		})
	}
}

// TestLoginThrottledError: a 429 is a *ThrottledError with the server's
// Retry-After, so that a caller may wait and ask again.
func TestLoginThrottledError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3")
		http.Error(w, "busy", http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	_, err := (&Login{AuthURL: srv.URL, User: "alice", Password: "pw"}).Token(t.Context())
	var te *ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 3*time.Second || te.Status != "429 Too Many Requests" {
		t.Fatalf("err = %#v, want a *ThrottledError with RetryAfter 3s", err)
	}
	if errors.Is(err, ErrLoginRefused) {
		t.Errorf("a 429 is not a refusal: %v", err)
	}
}

// TestLoginThrottledRetryAfterBounds: a Retry-After of more seconds than
// a time.Duration holds is the longest wait, not one that overflowed into
// a negative ("try again later" for a definite wait) or made-up one.
func TestLoginThrottledRetryAfterBounds(t *testing.T) {
	longest := time.Duration(math.MaxInt64/time.Second) * time.Second
	for _, tt := range []struct {
		header string
		want   time.Duration
	}{
		{"9223372036", 9223372036 * time.Second},
		{"9223372037", longest},
		{"18446744074", longest},
		{"9223372036854775807", longest},
		{"99999999999999999999", 0}, // not an int64: no wait known
		{"0", 0},
		{"-5", 0},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", tt.header)
			http.Error(w, "busy", http.StatusTooManyRequests)
		}))
		_, err := (&Login{AuthURL: srv.URL, User: "alice", Password: "pw"}).Token(t.Context())
		srv.Close()
		var te *ThrottledError
		if !errors.As(err, &te) {
			t.Fatalf("Retry-After %s: err = %v, want a *ThrottledError", tt.header, err)
		}
		if te.RetryAfter != tt.want {
			t.Errorf("Retry-After %s: RetryAfter %s, want %s", tt.header, te.RetryAfter, tt.want)
		}
	}
}

func TestParseTokenRejects(t *testing.T) {
	valid, _, err := ablyconn.SignToken("app.key", "s", "alice", "", nil, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"x-ably-clientId": "alice"}).SignedString([]byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{"", "not-a-jwt", "a.b.c", noExp} {
		if _, err := ParseToken(tok); err == nil {
			t.Errorf("ParseToken(%q) accepted", tok)
		}
	}
	if _, err := ParseToken(valid); err != nil {
		t.Errorf("ParseToken(valid) = %v", err)
	}
}

func TestChannelRole(t *testing.T) {
	tok, _, err := userToken("alice", "editor")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ token, channel, want string }{
		{tok, testChannel, "editor"},
		{tok, "other", ""},
		{"not a jwt", testChannel, ""},
	}
	for _, tt := range tests {
		if got := ChannelRole(tt.token, tt.channel); got != tt.want {
			t.Errorf("ChannelRole(%.10q, %q) = %q, want %q", tt.token, tt.channel, got, tt.want)
		}
	}
}

// recordingTransport answers every request with 401 and records its
// Authorization header: no request leaves the process.
type recordingTransport struct{ sent []string }

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.sent = append(rt.sent, r.URL.Scheme+" "+r.Header.Get("Authorization"))
	return &http.Response{StatusCode: http.StatusUnauthorized, Status: "401 Unauthorized", Body: http.NoBody, Request: r}, nil
}

// Login never sends the password over plain HTTP to a host that is not
// loopback unless told to.
func TestLoginRefusesPlaintextOffLoopback(t *testing.T) {
	tests := []struct {
		name      string
		url       string
		allow     bool
		wantSent  bool
		plaintext bool
	}{
		{name: "http off loopback", url: "http://192.0.2.2:3001", plaintext: true},
		{name: "http to a name", url: "http://auth.example", plaintext: true},
		{name: "http off loopback, allowed", url: "http://192.0.2.2:3001", allow: true, wantSent: true},
		{name: "https off loopback", url: "https://auth.example", wantSent: true},
		{name: "http on loopback", url: "http://127.0.0.1:3001", wantSent: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := &recordingTransport{}
			l := Login{AuthURL: tt.url, User: "alice", Password: "alice-secret-pw", AllowPlaintext: tt.allow, HTTP: &http.Client{Transport: rt}}
			_, err := l.Token(t.Context())
			if err == nil {
				t.Fatal("Token succeeded against a server that answers 401")
			}
			if got := errors.Is(err, ErrPlaintext); got != tt.plaintext {
				t.Errorf("err = %v, ErrPlaintext %v, want %v", err, got, tt.plaintext)
			}
			if got := len(rt.sent) > 0; got != tt.wantSent {
				t.Errorf("requests sent %q, want sent %v", rt.sent, tt.wantSent)
			}
		})
	}
}

// TestLoginFollowsNoRedirect: an auth server that redirects (to plain
// http:// on another port here) never gets the password sent on, with the
// caller's HTTP client too.
func TestLoginFollowsNoRedirect(t *testing.T) {
	got := make(chan string, 1)
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
	}))
	t.Cleanup(plain.Close)
	redirecting := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/api/auth/token?user=alice&secret=x", http.StatusFound)
	}))
	t.Cleanup(redirecting.Close)
	// The test server's own client trusts its certificate; it follows
	// redirects, as Go's clients do by default.
	l := Login{AuthURL: redirecting.URL, User: "alice", Password: "pw", HTTP: redirecting.Client()}
	_, err := l.Token(t.Context())
	if err == nil || !strings.Contains(err.Error(), "redirects (302 Found, to") || strings.Contains(err.Error(), "secret") {
		t.Errorf("err = %v, want a refusal naming the redirect without its query", err)
	}
	select {
	case auth := <-got:
		t.Fatalf("the password went to the redirect's target: Authorization %q", auth)
	default:
	}
	if redirecting.Client().CheckRedirect != nil {
		t.Error("the caller's client was changed")
	}
}

// An AUTH_URL may carry a credential in its user information or its
// query: no error about it shows either, whether the URL is refused (not
// http(s), plain HTTP off loopback) or the auth server is out of reach.
func TestLoginErrorsRedactAuthURL(t *testing.T) {
	tests := []struct {
		name, url string
		wantErr   string
	}{
		{name: "not http", url: "ftp://u:SECRET@auth.example/?token=SECRET", wantErr: "want http"},
		{name: "plain http off loopback", url: "http://u:SECRET@auth.example/?token=SECRET", wantErr: "clear text"},
		{name: "unreachable", url: "http://u:SECRET@127.0.0.1:1/?token=SECRET", wantErr: "login at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Login{AuthURL: tt.url, User: "alice", Password: "pw"}
			_, err := l.Token(t.Context())
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("Token: err = %v shows a credential of the URL", err)
			}
			if err := CheckAuthURL(tt.url, false); err != nil && strings.Contains(err.Error(), "SECRET") {
				t.Errorf("CheckAuthURL: err = %v shows a credential of the URL", err)
			}
		})
	}
}
