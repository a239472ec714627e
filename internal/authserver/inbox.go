package authserver

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/hitl/durable-approvals/internal/authserver/web"
	"github.com/hitl/durable-approvals/workflows"
)

// HTTP paths of the web approval inbox.
const (
	InboxPath  = "/"
	LoginPath  = "/login"
	LogoutPath = "/logout"
	AssetsPath = "/assets/"
)

// maxFormBytes bounds the body of the login and logout forms.
const maxFormBytes = 4 << 10

// asset is one built file of the page, served from memory.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// inboxPages are the parsed templates and the page's files.
type inboxPages struct {
	tmpl   *template.Template
	assets map[string]asset
}

func loadInboxPages() (*inboxPages, error) {
	tmpl, err := template.ParseFS(web.Templates(), "pages.html")
	if err != nil {
		return nil, fmt.Errorf("inbox templates: %w", err)
	}
	p := &inboxPages{tmpl: tmpl, assets: map[string]asset{}}
	err = fs.WalkDir(web.Assets(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(web.Assets(), name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		sum := sha256.Sum256(body)
		p.assets[name] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("inbox assets: %w", err)
	}
	return p, nil
}

// pageData is what the templates render.
type pageData struct {
	Title string
	CSRF  string
	// login
	Name  string
	Error string
	// inbox
	User, Role             string
	Channel, AgentClientID string
	RolesJSON              string
	TokenPath              string
	AblyHost, AblyPort     string
	AblyTLS                bool
	MaxReasonLen           int
}

// render writes template name with status code.
func (s *Server) render(w http.ResponseWriter, log *slog.Logger, code int, name string, d pageData) {
	var buf bytes.Buffer
	if err := s.pages.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		log.Error("render page", "page", name, "err", err)
		http.Error(w, msgUnavailable, http.StatusInternalServerError)
		return
	}
	s.setPageHeaders(w)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// handleInbox serves the inbox to a logged-in browser and the login form
// to anyone else.
func (s *Server) handleInbox(w http.ResponseWriter, r *http.Request) {
	log, _ := s.requestLog(r)
	sess, user, ok := s.currentSession(r)
	if !ok {
		s.renderLogin(w, r, log, http.StatusOK, "", "")
		return
	}
	roles, err := json.Marshal(s.roles())
	if err != nil {
		log.Error("roles", "err", err)
		http.Error(w, msgUnavailable, http.StatusInternalServerError)
		return
	}
	d := pageData{
		Title:         "Inbox",
		CSRF:          sess.csrf,
		User:          user.Name,
		Role:          user.Role,
		Channel:       s.cfg.Channel,
		AgentClientID: s.cfg.AgentClientID,
		RolesJSON:     string(roles),
		TokenPath:     TokenPath,
		AblyTLS:       s.cfg.AblyEndpoint == "" || s.cfg.AblyTLS,
		MaxReasonLen:  workflows.MaxReasonLen,
	}
	if s.cfg.AblyEndpoint != "" {
		d.AblyHost, d.AblyPort, _ = net.SplitHostPort(s.cfg.AblyEndpoint) // validated by Config.Validate
	}
	s.render(w, log, http.StatusOK, "inbox", d)
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, log *slog.Logger, code int, name, msg string) {
	s.render(w, log, code, "login", pageData{Title: "Sign in", CSRF: s.loginToken(w, r), Name: name, Error: msg})
}

// Messages of the login form. A wrong name and a wrong password get the
// same one.
const (
	msgLoginFailed      = "Wrong user name or password."
	msgLoginTooMany     = "Too many failed sign-ins, or too many at once. Wait %d s and try again."
	msgLoginUnavailable = "Signing in is not possible right now; the administrator has been told (see the auth server's log)."
)

// handleLogin checks the login form under the same limits as HTTP Basic
// (checkLogin), starts a session and sends the browser to the inbox.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	log, addrKey := s.requestLog(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !tokensEqual(r.PostForm.Get(csrfField), s.cookieValue(r, loginCookieName)) {
		log.Warn("login refused: missing or wrong CSRF token")
		s.forbidden(w)
		return
	}
	// A user name never holds white space (ValidateName), but a phone's
	// keyboard adds a space after a word: it is not part of the name.
	name, password := strings.TrimSpace(r.PostForm.Get("name")), r.PostForm.Get("password")
	if name == "" || password == "" {
		s.renderLogin(w, r, log, http.StatusUnauthorized, name, msgLoginFailed)
		return
	}
	res := s.checkLogin(r.Context(), log, addrKey, name, password)
	shownName := name
	if ValidateName(name, nil) != nil {
		shownName = ""
	}
	switch res.outcome {
	case loginOK:
	case loginFailed:
		s.renderLogin(w, r, log, http.StatusUnauthorized, shownName, msgLoginFailed)
		return
	case loginTooMany:
		secs := retrySeconds(res.retry)
		log.Warn("auth rate limited", "by", res.by, "retryAfter", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		s.renderLogin(w, r, log, http.StatusTooManyRequests, shownName, fmt.Sprintf(msgLoginTooMany, secs))
		return
	case loginUnavailable:
		log.Error("users file unusable, refusing logins", "err", res.err)
		s.renderLogin(w, r, log, http.StatusServiceUnavailable, shownName, msgLoginUnavailable)
		return
	default:
		return // the client went away
	}
	// A new session id at every login (no fixation); an older session of
	// this browser ends.
	if old := s.cookieValue(r, sessionCookieName); old != "" {
		s.sessions.end(old)
	}
	id, sess := s.sessions.create(res.user.Name, res.user.PasswordHash, s.now())
	http.SetCookie(w, s.newCookie(sessionCookieName, id, 0))
	log.Info("inbox login", "user", res.user.Name, "role", res.user.Role, "sessionExpires", sess.expires.UTC().Format(time.RFC3339))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, InboxPath, http.StatusSeeOther)
}

// handleLogout ends the session named by the cookie, if the form carries
// its CSRF token.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	log, _ := s.requestLog(r)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	id := s.cookieValue(r, sessionCookieName)
	sess, ok := s.sessions.get(id, s.now())
	if !ok || !tokensEqual(r.PostForm.Get(csrfField), sess.csrf) {
		log.Warn("logout refused: no session or wrong CSRF token")
		s.forbidden(w)
		return
	}
	s.sessions.end(id)
	http.SetCookie(w, s.newCookie(sessionCookieName, "", -1))
	log.Info("inbox logout", "user", sess.user)
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, InboxPath, http.StatusSeeOther)
}

// hasSessionCookie reports whether a token request comes from the inbox
// page: it carries the session cookie or the CSRF header. Such a request
// is never answered with a Basic challenge, which would make the browser
// prompt for a password.
func (s *Server) hasSessionCookie(r *http.Request) bool {
	return s.cookieValue(r, sessionCookieName) != "" || r.Header.Get(csrfHeader) != ""
}

// sessionToken issues the Ably JWT of the session's user to the inbox
// page (its ably-js authCallback). The request must carry the session's
// CSRF token in the X-CSRF-Token header.
func (s *Server) sessionToken(w http.ResponseWriter, r *http.Request, log *slog.Logger) {
	id := s.cookieValue(r, sessionCookieName)
	now := s.now()
	sess, ok := s.sessions.get(id, now)
	// The token ends with the session at the latest: a page whose session
	// ended (SessionTTL after the login) is not kept live by a token
	// issued in its last minutes. A session with less than a token's
	// shortest lifetime left is over.
	ttl := min(s.cfg.TokenTTL, sess.expires.Sub(now))
	if !ok || ttl < MinTokenTTL {
		http.Error(w, "session ended: sign in again", http.StatusUnauthorized)
		return
	}
	if !tokensEqual(r.Header.Get(csrfHeader), sess.csrf) {
		log.Warn("token refused: missing or wrong CSRF header", "user", sess.user)
		s.forbidden(w)
		return
	}
	user, found, err := s.sessionUser(id, sess)
	if err != nil {
		s.unavailable(w, log, err)
		return
	}
	if !found {
		log.Warn("session ended: user removed or password changed", "user", sess.user)
		http.Error(w, "session ended: sign in again", http.StatusUnauthorized)
		return
	}
	s.issueToken(w, log, user, now, ttl)
}

// currentSession returns the request's live session and its user as the
// users file has them now.
func (s *Server) currentSession(r *http.Request) (session, User, bool) {
	id := s.cookieValue(r, sessionCookieName)
	sess, ok := s.sessions.get(id, s.now())
	if !ok {
		return session{}, User{}, false
	}
	user, found, err := s.sessionUser(id, sess)
	if err != nil || !found {
		return session{}, User{}, false
	}
	return sess, user, true
}

// sessionUser looks the session's user up in the users file. A user who
// was removed, or whose password changed since the login, ends the
// session (found false).
func (s *Server) sessionUser(id string, sess session) (User, bool, error) {
	user, _, found, err := s.users.lookup(sess.user)
	if err != nil {
		return User{}, false, err
	}
	if !found || user.PasswordHash != sess.hash {
		s.sessions.end(id)
		return User{}, false, nil
	}
	return user, true, nil
}

// handleAsset serves one built file of the page.
func (s *Server) handleAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := s.pages.assets[r.PathValue("file")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	s.setPageHeaders(w)
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", a.etag)
	if r.Header.Get("If-None-Match") == a.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body)
}

// roles is the role hierarchy the page shows (lowest first). It is for
// display only: the workflow checks every decision against its own policy.
func (s *Server) roles() []string {
	if len(s.cfg.Roles) == 0 {
		return workflows.DefaultRoles
	}
	return s.cfg.Roles
}
