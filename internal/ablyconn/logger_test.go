package ablyconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/ably/ably-go/ably"
)

func TestLoggerRoutesToSlog(t *testing.T) {
	var buf strings.Builder
	l := Logger{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	l.Printf(ably.LogError, "boom %d", 7)
	l.Printf(ably.LogWarning, "careful")
	l.Printf(ably.LogVerbose, "chatty")
	l.Printf(ably.LogError, "Realtime Connection: error received action=DISCONNECTED error=msg=token expired,Code=40142,StatusCode=401")
	// A connection ably-go tries again, or one Ably could not resume: a
	// warning (an Ably server restarted put them in the middle of a CLI's
	// question as errors).
	l.Printf(ably.LogError, `Received recoverable error failed to WebSocket dial: connection refused`)
	l.Printf(ably.LogError, `Realtime Connection: error received action="connected" error=(msg=Unable to recover connection (connection expired),Code=80008,StatusCode=400)`)
	l.Printf(ably.LogError, `Realtime Connection: error received action="error" error=(msg=key not found,Code=40400,StatusCode=404)`)
	Logger{}.Printf(ably.LogError, "no logger: dropped")
	out := buf.String()
	for _, want := range []string{`level=ERROR msg="boom 7" component=ably-go`, "level=WARN msg=careful", "level=DEBUG msg=chatty",
		`level=DEBUG msg="Realtime Connection: error received action=DISCONNECTED error=msg=token expired,Code=40142`,
		`level=WARN msg="Received recoverable error failed to WebSocket dial`, `level=WARN msg="Realtime Connection: error received action=\"connected\" error=(msg=Unable to recover connection`,
		`level=ERROR msg="Realtime Connection: error received action=\"error\" error=(msg=key not found,Code=40400`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("the zero Logger logged:\n%s", out)
	}
}

// TestLoggerCallbackLogs: with CallbackLogs, ably-go's two error lines
// about a failed AuthCallback go to debug (the callback logged why);
// its other errors stay errors, and without CallbackLogs nothing changes.
func TestLoggerCallbackLogs(t *testing.T) {
	lines := []struct {
		format string
		args   []any
	}{
		{"Auth: failed calling opts.AuthCallback %v", []any{"login: auth server answered 503 Service Unavailable"}},
		{"Auth: failed to get token%v", []any{"[ErrorInfo :login: auth server answered 503 code=40170 error from client token callback statusCode=401]"}},
		{"Realtime Connection: dial failed %v", []any{"connection refused"}},
	}
	tests := []struct {
		callbackLogs bool
		want         []string // the level of each line
	}{
		{callbackLogs: true, want: []string{"DEBUG", "DEBUG", "ERROR"}},
		{callbackLogs: false, want: []string{"ERROR", "ERROR", "ERROR"}},
	}
	for _, tt := range tests {
		var buf strings.Builder
		l := Logger{Log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), CallbackLogs: tt.callbackLogs}
		for _, line := range lines {
			l.Printf(ably.LogError, line.format, line.args...)
		}
		got := strings.Split(strings.TrimSpace(buf.String()), "\n")
		if len(got) != len(lines) {
			t.Fatalf("CallbackLogs=%v: %d lines, want %d:\n%s", tt.callbackLogs, len(got), len(lines), buf.String())
		}
		for i, want := range tt.want {
			if !strings.Contains(got[i], "level="+want+" ") {
				t.Errorf("CallbackLogs=%v: line %d not at %s: %s", tt.callbackLogs, i, want, got[i])
			}
		}
	}
}

// ably-go logs the URL it could not dial, with the user's JWT or the API
// key's secret in its query; the log line keeps the rest.
func TestLoggerRedactsCredentials(t *testing.T) {
	tests := []struct{ in, want string }{
		{
			in:   `dial failed: wss://127.0.0.1:1/?access_token=eyJhbGciOiJIUzI1NiIs.eyJ4IjoxfQ.c2ln&format=json&heartbeats=true: connection refused`,
			want: `dial failed: wss://127.0.0.1:1/?access_token=REDACTED&format=json&heartbeats=true: connection refused`,
		},
		{
			in:   `GET https://rest.ably.io/time?format=json&key=appid.keyid%3As3cr3t failed`,
			want: `GET https://rest.ably.io/time?format=json&key=REDACTED failed`,
		},
		{
			in:   `sending {"action":17,"accessToken":"eyJ.secret.sig","connectionKey":"ck"}`,
			want: `sending {"action":17,"accessToken":"REDACTED","connectionKey":"REDACTED"}`,
		},
		// A connection's private key lets a REST client publish on its
		// behalf: ably-go logs it when a resume fails, and dials with it.
		{
			in:   `Realtime Connection: error received (action="connected", id="LkAZ", details=&ably.connectionDetails{ClientID:"pat", ConnectionKey:"SFO8aG_70en3EzdO!LkAZIbIhsGCX", MaxMessageSize:65536})`,
			want: `Realtime Connection: error received (action="connected", id="LkAZ", details=&ably.connectionDetails{ClientID:"pat", ConnectionKey:"REDACTED", MaxMessageSize:65536})`,
		},
		{
			in:   `Get "http://127.0.0.1:8090?access_token=eyJ.a.b&echo=true&resume=HyCUWA_UHJHghGiV%21G_qeJa-ureQS&v=5": refused`,
			want: `Get "http://127.0.0.1:8090?access_token=REDACTED&echo=true&resume=REDACTED&v=5": refused`,
		},
		{in: `wss://realtime.ably.io/?recover=abc%21def&v=5`, want: `wss://realtime.ably.io/?recover=REDACTED&v=5`},
		{
			in:   `starting client-requested reauthorization with token: &{Token:eyJhbGciOiJIUzI1NiIs.eyJ4IjoxfQ.c2ln Expires:1796507861245}`,
			want: `starting client-requested reauthorization with token: &{Token:REDACTED Expires:1796507861245}`,
		},
		{
			in:   `Realtime Connection: sending (action="auth", id="", auth=&{xVLyHw.native-token-secret})`,
			want: `Realtime Connection: sending (action="auth", id="", auth=&{REDACTED})`,
		},
		{in: `bearer eyJhbGciOiJIUzI1NiIs.eyJ4IjoxfQ.c2ln-_x rest`, want: `bearer REDACTED rest`},
		{in: `attach "ai:big-bad-any": timeout`, want: `attach "ai:big-bad-any": timeout`},
		{in: `monkey=banana`, want: `monkey=banana`},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
	var buf strings.Builder
	l := Logger{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	l.Printf(ably.LogError, "dial %s", "ws://127.0.0.1:1/?access_token=eyJsecret")
	if out := buf.String(); strings.Contains(out, "eyJsecret") || !strings.Contains(out, "access_token=REDACTED") {
		t.Errorf("logged %q: want the token redacted", out)
	}
}

// RedactError blanks what Redact does and keeps the error's chain.
func TestRedactError(t *testing.T) {
	if RedactError(nil) != nil {
		t.Error("RedactError(nil) != nil")
	}
	// Connection.ErrorReason's nil, in an error: printed as %v did, not a
	// panic (ably.ErrorInfo's Error has a value receiver).
	var noReason *ably.ErrorInfo
	if got := fmt.Sprintf("connection failed: %v", RedactError(noReason)); got != "connection failed: <nil>" {
		t.Errorf("RedactError of a nil *ably.ErrorInfo printed %q", got)
	}
	plain := errors.New("no credential here")
	if RedactError(plain) != plain {
		t.Error("an error with nothing to blank is not returned as it is")
	}
	info := &ably.ErrorInfo{Code: 80000, StatusCode: 400}
	err := fmt.Errorf(`dial: Get "ws://h?access_token=eyJa.eyJb.sig&v=5": %w (%w)`, context.DeadlineExceeded, info)
	got := RedactError(err)
	if strings.Contains(got.Error(), "eyJ") || !strings.Contains(got.Error(), "access_token=REDACTED&v=5") {
		t.Errorf("RedactError = %q", got)
	}
	var ei *ably.ErrorInfo
	if !errors.Is(got, context.DeadlineExceeded) || !errors.As(got, &ei) || ei != info {
		t.Errorf("RedactError(%v) lost the chain", err)
	}
}
