package ablyconn

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"

	"github.com/ably/ably-go/ably"
)

// Logger sends ably-go's log lines to slog, tagged component=ably-go, with
// credentials blanked (Redact). The zero Logger drops them. Use it with
// ably.WithLogHandler.
type Logger struct {
	Log *slog.Logger
	// Ctx is passed to slog; ably.Logger carries no context of its own.
	Ctx context.Context
	// CallbackLogs says the client's AuthCallback logs its own failures:
	// ably-go's two error lines about each of them then go to debug, so
	// that one failure reads as one line.
	CallbackLogs bool
}

// Printf implements ably.Logger.
func (l Logger) Printf(level ably.LogLevel, format string, v ...any) {
	if l.Log == nil {
		return
	}
	lv := slog.LevelDebug
	switch level {
	case ably.LogError:
		lv = slog.LevelError
	case ably.LogWarning:
		lv = slog.LevelWarn
	case ably.LogInfo:
		lv = slog.LevelInfo
	}
	msg := fmt.Sprintf(format, v...)
	if tokenExpired.MatchString(msg) {
		// ably-go reports, as an error, every expiry of a token it then
		// renews: routine, and on a CLI's screen it would land in the
		// middle of a question.
		lv = slog.LevelDebug
	}
	if l.CallbackLogs && callbackFailed.MatchString(msg) {
		lv = slog.LevelDebug
	}
	if lv == slog.LevelError && connectionRetried.MatchString(msg) {
		// A connection lost that ably-go tries again, or a new one
		// where Ably could not resume the old (the channels attach
		// again, and our readers catch up on what they missed): worth
		// a warning, not an error.
		lv = slog.LevelWarn
	}
	ctx := l.Ctx
	if ctx == nil {
		ctx = context.Background()
	}
	l.Log.Log(ctx, lv, Redact(msg), "component", "ably-go")
}

// tokenExpired matches ably-go's report of Ably's "token expired" (40142).
var tokenExpired = regexp.MustCompile(`(?i)\bcode=40142\b`)

// connectionRetried matches ably-go's reports of a connection it tries
// again ("Received recoverable error …": a dial refused, a connection
// dropped) and of one Ably could not resume (80008, connection expired).
var connectionRetried = regexp.MustCompile(`^Received recoverable error\b|(?i)\bcode=80008\b`)

// callbackFailed matches ably-go's reports of a failed AuthCallback: the
// call's ("Auth: failed calling opts.AuthCallback") and the token
// request's ("error from client token callback", 40170).
var callbackFailed = regexp.MustCompile(`^Auth: failed calling opts\.AuthCallback\b|(?i)\bcode=40170\b`)

// credentials match what ably-go prints of a credential, each with the
// text kept before it: the access_token and key query parameters of the
// URLs it dials (a user's JWT, an API key's secret); the connection's
// private key, in the resume and recover parameters of those URLs and in
// the connection details it logs at WARN when a resume fails (with it, and
// any token that may publish on the channel, Ably publishes over REST on
// behalf of the connection, as its clientId); at the verbose level, a
// token as %+v prints it (Token:…), an AUTH protocol message (auth=&{…});
// and, wherever else one appears, anything shaped like a JWT.
var credentials = []*regexp.Regexp{
	regexp.MustCompile(`(?i)(\b(?:access_token|key|resume|recover)=)[^&\s"'<>]+`),
	regexp.MustCompile(`("accessToken"\s*:\s*")[^"]*`),
	regexp.MustCompile(`(?i)("connectionKey"\s*:\s*")[^"]*`),
	regexp.MustCompile(`(?i)(\bConnectionKey:\s*\\?")[^"\\]*`),
	regexp.MustCompile(`(\bToken:)[^\s}]+`),
	regexp.MustCompile(`(\bauth=&\{)[^}]*`),
	regexp.MustCompile(`()\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*`),
}

// Redact blanks the credentials in s: ably-go logs the URL it failed to
// dial, query and all, and at the verbose level the tokens it sends, and a
// log line must not hand out a token that publishes as its user.
func Redact(s string) string {
	for _, re := range credentials {
		s = re.ReplaceAllString(s, "${1}REDACTED")
	}
	return s
}

// RedactError is err with the credentials in its message blanked (Redact),
// for a log line or an error shown to a user; errors.Is and errors.As see
// err's chain as before. ably-go's errors hold the URL a dial failed on,
// its access_token included, when a token Ably refused is followed by a
// dial that fails: the connection is then FAILED with it as its reason, and
// an attach or publish fails with it too. Nil for nil, and err itself when
// nothing in it is blanked.
//
// err may be a nil *ably.ErrorInfo in a non-nil error (what
// Connection.ErrorReason returns when there is no reason): its Error has a
// value receiver and panics on it, so the message is read as fmt prints
// it ("<nil>"), as the %v that RedactError's callers used before did.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	msg := fmt.Sprint(err)
	if red := Redact(msg); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
