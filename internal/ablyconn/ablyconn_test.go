package ablyconn

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string // substring; "" means no error
	}{
		{name: "cloud defaults to TLS", env: map[string]string{EnvAPIKey: "app.key:secret"}, want: Config{APIKey: "app.key:secret", TLS: true}},
		{name: "endpoint defaults to plain", env: map[string]string{EnvEndpoint: "127.0.0.1:8090"}, want: Config{Endpoint: "127.0.0.1:8090"}},
		{name: "endpoint with TLS", env: map[string]string{EnvEndpoint: "ably.local:443", EnvTLS: "true"}, want: Config{Endpoint: "ably.local:443", TLS: true}},
		{name: "spaces trimmed", env: map[string]string{EnvAPIKey: " app.key:secret ", EnvEndpoint: " 127.0.0.1:8090 "}, want: Config{APIKey: "app.key:secret", Endpoint: "127.0.0.1:8090"}},
		{name: "nothing set", env: map[string]string{}, want: Config{TLS: true}},
		{name: "key without secret", env: map[string]string{EnvAPIKey: "app.key"}, wantErr: "ABLY_API_KEY: ably key: want appId.keyId:secret"},
		{name: "key without dot", env: map[string]string{EnvAPIKey: "appkey:secret"}, wantErr: "want appId.keyId:secret"},
		{name: "key with empty secret", env: map[string]string{EnvAPIKey: "app.key:"}, wantErr: "ABLY_API_KEY: ably key: want appId.keyId:secret"},
		{name: "endpoint without port", env: map[string]string{EnvEndpoint: "127.0.0.1"}, wantErr: "want host:port"},
		{name: "endpoint without host", env: map[string]string{EnvEndpoint: ":8090"}, wantErr: "want host:port"},
		{name: "endpoint port zero", env: map[string]string{EnvEndpoint: "127.0.0.1:0"}, wantErr: "bad port"},
		{name: "endpoint port too big", env: map[string]string{EnvEndpoint: "127.0.0.1:70000"}, wantErr: "bad port"},
		{name: "endpoint port not a number", env: map[string]string{EnvEndpoint: "127.0.0.1:http"}, wantErr: "bad port"},
		{name: "TLS not a bool", env: map[string]string{EnvTLS: "maybe"}, wantErr: "want true or false"},
		{name: "TLS off for Ably itself", env: map[string]string{EnvTLS: "false"}, wantErr: "Ably itself is TLS only"},
		{name: "plain off loopback", env: map[string]string{EnvEndpoint: "ably.example:8090"}, wantErr: "ABLY_TLS=true, or ABLY_INSECURE_ALLOW_PLAINTEXT=true"},
		{name: "plain off loopback, allowed", env: map[string]string{EnvEndpoint: "ably.example:8090", EnvAllowPlaintext: "true"}, want: Config{Endpoint: "ably.example:8090", AllowPlaintext: true}},
		{name: "allow plaintext not a bool", env: map[string]string{EnvAllowPlaintext: "yes please"}, wantErr: "ABLY_INSECURE_ALLOW_PLAINTEXT=\"yes please\": want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if got != tt.want {
				t.Fatalf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		c         Config
		ok        bool
		plaintext bool // the error is ErrPlaintext
	}{
		{name: "zero value is Ably over TLS without key", c: Config{TLS: true}, ok: true},
		{name: "plain without endpoint", c: Config{}, ok: false},
		{name: "local plain", c: Config{APIKey: "a.b:c", Endpoint: "localhost:8090"}, ok: true},
		{name: "plain on 127.0.0.1", c: Config{Endpoint: "127.0.0.1:8090"}, ok: true},
		{name: "plain on 127.0.0.2", c: Config{Endpoint: "127.0.0.2:8090"}, ok: true},
		{name: "plain on ::1", c: Config{Endpoint: "[::1]:8090"}, ok: true},
		{name: "plain off loopback", c: Config{Endpoint: "192.0.2.9:8080"}, plaintext: true},
		{name: "plain to a name", c: Config{Endpoint: "ably.example:8090"}, plaintext: true},
		{name: "plain to a name that ends in localhost", c: Config{Endpoint: "evil-localhost:8090"}, plaintext: true},
		{name: "plain on all interfaces", c: Config{Endpoint: "0.0.0.0:8090"}, plaintext: true},
		{name: "plain off loopback, allowed", c: Config{Endpoint: "192.0.2.9:8080", AllowPlaintext: true}, ok: true},
		{name: "TLS off loopback", c: Config{Endpoint: "192.0.2.9:443", TLS: true}, ok: true},
		{name: "bad key", c: Config{APIKey: ".b:c", TLS: true}, ok: false},
		{name: "bad endpoint", c: Config{Endpoint: "localhost:-1"}, ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			if (err == nil) != tt.ok || errors.Is(err, ErrPlaintext) != tt.plaintext {
				t.Fatalf("Validate() = %v, want ok %v, ErrPlaintext %v", err, tt.ok, tt.plaintext)
			}
		})
	}
}

func TestSplitKey(t *testing.T) {
	tests := []struct {
		key, name, secret string
		ok                bool
	}{
		{key: "app.key:secret", name: "app.key", secret: "secret", ok: true},
		{key: "app.key:sec:ret", name: "app.key", secret: "sec:ret", ok: true},
		{key: "app.key", ok: false},
		{key: "app.key:", ok: false},
		{key: "appkey:secret", ok: false},
		{key: ".key:secret", ok: false},
		{key: "app.:secret", ok: false},
		{key: "", ok: false},
	}
	for _, tt := range tests {
		name, secret, err := SplitKey(tt.key)
		if (err == nil) != tt.ok || name != tt.name || secret != tt.secret {
			t.Errorf("SplitKey(%q) = %q, %q, %v; want %q, %q, ok %v", tt.key, name, secret, err, tt.name, tt.secret, tt.ok)
		}
	}
}

func TestSignTokenClaims(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	tok, exp, err := SignToken("app.key", "s3cret", "alice", `{"ch":["publish"]}`, map[string]any{"ably.channel.ch": "publisher"}, now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Hour)) {
		t.Errorf("exp = %v, want %v", exp, now.Add(time.Hour))
	}
	claims := jwt.MapClaims{}
	parsed, err := jwt.ParseWithClaims(tok, claims, func(tk *jwt.Token) (any, error) { return []byte("s3cret"), nil },
		jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return now.Add(time.Minute) }))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if parsed.Header["kid"] != "app.key" || parsed.Header["alg"] != "HS256" {
		t.Errorf("header = %v, want kid app.key and alg HS256", parsed.Header)
	}
	want := map[string]any{
		"iat": float64(now.Unix()), "exp": float64(now.Add(time.Hour).Unix()),
		"x-ably-clientId": "alice", "x-ably-capability": `{"ch":["publish"]}`, "ably.channel.ch": "publisher",
	}
	if len(claims) != len(want) {
		t.Errorf("claims = %v, want %v", claims, want)
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	// A wrong secret does not verify.
	if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return []byte("other"), nil }, jwt.WithTimeFunc(func() time.Time { return now })); err == nil {
		t.Error("token verified with the wrong secret")
	}
}

func TestSignTokenOmitsEmptyClaims(t *testing.T) {
	now := time.Now()
	tok, _, err := SignToken("app.key", "s3cret", "", "", nil, now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(tok, claims, func(*jwt.Token) (any, error) { return []byte("s3cret"), nil }); err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["x-ably-clientId"]; ok {
		t.Errorf("claims = %v: empty clientId should be omitted", claims)
	}
	if _, ok := claims["x-ably-capability"]; ok {
		t.Errorf("claims = %v: empty capability should be omitted (the key's own)", claims)
	}
}

func TestSignTokenRefusesReservedExtra(t *testing.T) {
	now := time.Now()
	for _, k := range []string{"iat", "exp", "x-ably-clientId", "x-ably-capability"} {
		t.Run(k, func(t *testing.T) {
			tok, _, err := SignToken("app.key", "s3cret", "alice", `{"ch":["subscribe"]}`, map[string]any{k: "override"}, now, time.Minute)
			if err == nil || !strings.Contains(err.Error(), k) || tok != "" {
				t.Fatalf("SignToken with extra %q = %q, %v; want an error naming the claim", k, tok, err)
			}
		})
	}
}

func TestMessageIDKey(t *testing.T) {
	a := Config{APIKey: "app.key:secret-one"}.MessageIDKey()
	if len(a) != 32 {
		t.Fatalf("key of %d bytes, want 32", len(a))
	}
	if b := (Config{APIKey: "other.key:secret-one"}).MessageIDKey(); string(a) != string(b) {
		t.Error("the key depends on the key name, not only on the secret")
	}
	if c := (Config{APIKey: "app.key:secret-two"}).MessageIDKey(); string(a) == string(c) {
		t.Error("two secrets, one key")
	}
	// Every worker and re-announcer derives the same key, whatever its
	// version: a changed derivation changes every agent message id.
	if got, want := hex.EncodeToString(a), "92a719d1a9240ecb4af5f2ca49aaee4f949b78c385dbb6a61414298a604061d6"; got != want {
		t.Errorf("MessageIDKey = %s, want %s", got, want)
	}
	if (Config{}).MessageIDKey() != nil || (Config{APIKey: "app.key"}).MessageIDKey() != nil || (Config{APIKey: "app.key:"}).MessageIDKey() != nil {
		t.Error("a key without an API key secret")
	}
}

// TestSignTokenExpiryIsTheClaim: the expiry SignToken returns (which
// TrustedOptions hands ably-go as TokenDetails.Expires, the time until
// which ably-go reuses the token) is the JWT's exp, which counts whole
// seconds, not up to a second after it: past exp Ably refuses the token
// (40142) while ably-go would still take it for valid.
func TestSignTokenExpiryIsTheClaim(t *testing.T) {
	now := time.Unix(1_700_000_000, 900*int64(time.Millisecond))
	for _, ttl := range []time.Duration{time.Second, 1500 * time.Millisecond, time.Hour} {
		tok, exp, err := SignToken("app.key", "s3cret", "alice", "", nil, now, ttl)
		if err != nil {
			t.Fatal(err)
		}
		claims := jwt.MapClaims{}
		if _, _, err := jwt.NewParser().ParseUnverified(tok, claims); err != nil {
			t.Fatal(err)
		}
		claim, err := claims.GetExpirationTime()
		if err != nil || claim == nil {
			t.Fatalf("ttl %s: exp claim: %v, %v", ttl, claim, err)
		}
		if !exp.Equal(claim.Time) {
			t.Errorf("ttl %s: SignToken returned expiry %s, but the token's exp is %s", ttl, exp.Format(time.RFC3339Nano), claim.Time.Format(time.RFC3339Nano))
		}
		if exp.After(now.Add(ttl)) {
			t.Errorf("ttl %s: expiry %s is after now+ttl %s", ttl, exp, now.Add(ttl))
		}
	}
}
