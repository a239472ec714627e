package authserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/atomicfile"
	"github.com/hitl/durable-approvals/internal/strictjson"
	"github.com/hitl/durable-approvals/workflows"
)

// User is one approver in the users file. PasswordHash is a bcrypt hash;
// the plain-text password is never stored.
type User struct {
	Name         string `json:"name"`
	Role         string `json:"role"`
	PasswordHash string `json:"passwordHash"`
}

// usersDoc is the users file: {"users":[...]}.
type usersDoc struct {
	Users []User `json:"users"`
}

// Limits of the users file and of credentials.
const (
	// MaxUsersFileSize bounds the users file that is read.
	MaxUsersFileSize = 1 << 20
	// MaxNameLen bounds a user name.
	MaxNameLen = 64
	// MinPasswordLen is the shortest new password useradd accepts, in
	// characters. Passwords already in the users file are not re-checked.
	MinPasswordLen = 12
	// MaxPasswordLen is bcrypt's limit: it ignores bytes beyond 72, so
	// longer passwords are refused rather than silently truncated.
	MaxPasswordLen = 72
	// DefaultCost is the bcrypt cost of new hashes and the lowest cost a
	// users file may contain.
	DefaultCost = 10
	// MaxCost is the highest bcrypt cost accepted: the server hashes a
	// dummy password at each of the file's costs (when the file changes),
	// and a login costs one comparison at each of them (passwordCheck).
	MaxCost = 15
)

// DefaultReservedNames are the default Ably clientIds of the trusted
// programs (the agent and the bridge), and the ones they had before those
// took a ':' that no user name can hold. No approver may take them, or the
// approver could publish as the agent. They are always reserved; configured
// clientIds (HITL_AGENT_CLIENT_ID, HITL_BRIDGE_CLIENT_ID) add to them.
var DefaultReservedNames = []string{workflows.DefaultAgentClientID, workflows.DefaultBridgeClientID, legacyAgentClientID, legacyBridgeClientID}

// The trusted clientIds' defaults before they took a ':'.
const (
	legacyAgentClientID  = "hitl-agent"
	legacyBridgeClientID = "hitl-bridge"
)

// Rules are what a users file must satisfy.
type Rules struct {
	// Roles is the role hierarchy; a user's role must be one of them.
	// Empty means workflows.DefaultRoles.
	Roles []string
	// Reserved lists names no user may have: the trusted programs' Ably
	// clientIds. DefaultReservedNames are reserved in any case; Reserved
	// adds to them. "*" is always refused.
	Reserved []string
	// keepReserved accepts reserved names in the file, so that DeleteUser
	// can remove one that became reserved after it was added.
	keepReserved bool
	// Cost is the bcrypt cost of new hashes and the lowest cost accepted
	// in the file. Zero means DefaultCost; tests use bcrypt.MinCost.
	Cost int
}

func (r Rules) roles() []string {
	if len(r.Roles) == 0 {
		return workflows.DefaultRoles
	}
	return r.Roles
}

// reserved returns DefaultReservedNames and r.Reserved.
func (r Rules) reserved() []string {
	out := slices.Clone(DefaultReservedNames)
	for _, name := range r.Reserved {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

func (r Rules) cost() int {
	if r.Cost == 0 {
		return DefaultCost
	}
	return r.Cost
}

func (r Rules) validate() error {
	if c := r.cost(); c < bcrypt.MinCost || c > MaxCost {
		return fmt.Errorf("bcrypt cost %d out of range [%d, %d]", c, bcrypt.MinCost, MaxCost)
	}
	seen := map[string]bool{}
	for _, role := range r.roles() {
		if role == "" || seen[role] || role == workflows.ApprovalNone {
			return fmt.Errorf("bad role hierarchy %q: empty, duplicate or reserved role", r.roles())
		}
		seen[role] = true
	}
	return nil
}

// ValidateName checks a user name: 1 to MaxNameLen characters of
// [a-z0-9._-], not "*" and not one of reserved.
func ValidateName(name string, reserved []string) error {
	if name == "" || len(name) > MaxNameLen {
		return fmt.Errorf("user name %q: want 1 to %d characters", name, MaxNameLen)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("user name %q: only a-z, 0-9, '.', '_' and '-' are allowed", name)
		}
	}
	if slices.Contains(reserved, name) {
		return fmt.Errorf("user name %q is reserved: it is the Ably clientId of a trusted program (the agent or the bridge), and an approver with it could publish as that program", name)
	}
	return nil
}

// ValidatePassword checks user name's new password: at least
// MinPasswordLen characters, and minBesidesName once every copy of the
// user name is taken out of it; at most MaxPasswordLen bytes; at least
// minDistinctRunes different characters, not only white space; and not one
// of the embedded common passwords (commonpasswords.txt), ignoring case. Only new passwords
// are checked; the users file holds hashes, which cannot be.
func ValidatePassword(name, password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return fmt.Errorf("password too short: want at least %d characters", MinPasswordLen)
	case len(password) > MaxPasswordLen:
		return fmt.Errorf("password too long: bcrypt uses at most %d bytes", MaxPasswordLen)
	case strings.TrimSpace(password) == "":
		return errors.New("password is only white space: choose another")
	case distinctRunes(password) < minDistinctRunes:
		return fmt.Errorf("password repeats too few characters: want at least %d different ones", minDistinctRunes)
	case name != "" && utf8.RuneCountInString(strings.ReplaceAll(strings.ToLower(password), strings.ToLower(name), "")) < minBesidesName:
		return fmt.Errorf("password is mostly the user name: want at least %d characters besides it", minBesidesName)
	case isCommonPassword(password):
		return errors.New("password is one of the most common passwords: choose another")
	}
	return nil
}

// minBesidesName is the fewest characters a new password has besides the
// user name ("bobbobbobbob" and "alice1234567" are refused).
const minBesidesName = 8

// minDistinctRunes is the fewest different characters a new password has
// ("aaaaaaaaaaaa" and "abababababab" are refused).
const minDistinctRunes = 5

func distinctRunes(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

func (r Rules) checkUser(u User) error {
	if err := ValidateName(u.Name, nil); err != nil {
		return err
	}
	if !r.keepReserved {
		if err := ValidateName(u.Name, r.reserved()); err != nil {
			return fmt.Errorf("%w; remove it with `authserver userdel -name %s`", err, u.Name)
		}
	}
	if !slices.Contains(r.roles(), u.Role) {
		return fmt.Errorf("user %q: role %q is not in the role hierarchy %q", u.Name, u.Role, r.roles())
	}
	if len(u.PasswordHash) != 60 || !strings.HasPrefix(u.PasswordHash, "$2") {
		return fmt.Errorf("user %q: passwordHash is not a bcrypt hash", u.Name)
	}
	cost, err := bcrypt.Cost([]byte(u.PasswordHash))
	if err != nil {
		return fmt.Errorf("user %q: passwordHash is not a bcrypt hash: %w", u.Name, err)
	}
	if cost < r.cost() {
		return fmt.Errorf("user %q: bcrypt cost %d is below the minimum %d", u.Name, cost, r.cost())
	}
	if cost > MaxCost {
		return fmt.Errorf("user %q: bcrypt cost %d is above the maximum %d", u.Name, cost, MaxCost)
	}
	return nil
}

// ParseUsers decodes a users file strictly (unknown fields, a key written
// twice or in another case, and trailing data are errors: see strictjson) and checks every user against rules. Names must be
// unique. It returns the users by name.
func ParseUsers(data []byte, rules Rules) (map[string]User, error) {
	if len(data) > MaxUsersFileSize {
		return nil, fmt.Errorf("users file larger than %d bytes", MaxUsersFileSize)
	}
	var doc usersDoc
	if err := strictjson.Decode(data, &doc); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	users := make(map[string]User, len(doc.Users))
	var errs []error
	for i, u := range doc.Users {
		if err := rules.checkUser(u); err != nil {
			errs = append(errs, fmt.Errorf("users[%d]: %w", i, err))
			continue
		}
		if _, dup := users[u.Name]; dup {
			errs = append(errs, fmt.Errorf("users[%d]: duplicate user %q", i, u.Name))
			continue
		}
		users[u.Name] = u
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	return users, nil
}

// MarshalUsers encodes users as a users file, sorted by name.
func MarshalUsers(users map[string]User) ([]byte, error) {
	doc := usersDoc{Users: make([]User, 0, len(users))}
	for _, u := range users {
		doc.Users = append(doc.Users, u)
	}
	slices.SortFunc(doc.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode users file: %w", err)
	}
	return append(b, '\n'), nil
}

// ReadUsersFile reads and parses the users file at path.
func ReadUsersFile(path string, rules Rules) (map[string]User, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	users, err := ParseUsers(data, rules)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return users, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxUsersFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read users file %s: %w", path, err)
	}
	return data, nil
}

// UserOption adjusts AddUser and DeleteUser.
type UserOption func(*Rules)

// WithCost sets the bcrypt cost of the new hash (and the lowest cost
// accepted in the existing file). Tests use bcrypt.MinCost.
func WithCost(cost int) UserOption { return func(r *Rules) { r.Cost = cost } }

// WithReserved reserves names (the configured trusted clientIds) in
// addition to DefaultReservedNames.
func WithReserved(names []string) UserOption { return func(r *Rules) { r.Reserved = names } }

// AddUser adds the user to the users file at path, or updates the role and
// password of an existing one. roles is the role hierarchy (empty means
// workflows.DefaultRoles). The file is created if missing, written 0600
// through a temporary file and a rename, and holds only the bcrypt hash.
// An existing file that does not parse is left untouched. The change is
// made under the file's lock (updateUsers), so commands run at once do not
// undo each other's changes.
func AddUser(path, name, role, password string, roles []string, opts ...UserOption) error {
	rules, err := checkNewUser(name, role, roles, opts)
	if err != nil {
		return err
	}
	if err := ValidatePassword(name, password); err != nil {
		return err
	}
	// Hashed before the file is locked and read: the hash takes the time.
	hash, err := bcrypt.GenerateFromPassword([]byte(password), rules.cost())
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	return updateUsers(path, rules, func(users map[string]User) error {
		users[name] = User{Name: name, Role: role, PasswordHash: string(hash)}
		return nil
	})
}

// CheckNewUser checks what AddUser checks before the password: the role
// hierarchy roles, the user name (ValidateName, with the reserved names
// of opts) and the role. A command checks it before it asks for the
// password.
func CheckNewUser(name, role string, roles []string, opts ...UserOption) error {
	_, err := checkNewUser(name, role, roles, opts)
	return err
}

func checkNewUser(name, role string, roles []string, opts []UserOption) (Rules, error) {
	rules := Rules{Roles: roles}
	for _, o := range opts {
		o(&rules)
	}
	if err := rules.validate(); err != nil {
		return Rules{}, err
	}
	if err := ValidateName(name, rules.reserved()); err != nil {
		return Rules{}, err
	}
	if !slices.Contains(rules.roles(), role) {
		return Rules{}, fmt.Errorf("role %q is not in the role hierarchy %q", role, rules.roles())
	}
	return rules, nil
}

// DeleteUser removes the user from the users file at path. It fails if the
// user does not exist. It can remove a user whose name has become reserved
// (a trusted clientId configured after the user was added), which the
// server refuses to serve.
func DeleteUser(path, name string, roles []string, opts ...UserOption) error {
	rules := Rules{Roles: roles}
	for _, o := range opts {
		o(&rules)
	}
	if err := rules.validate(); err != nil {
		return err
	}
	rules.keepReserved = true
	return updateUsers(path, rules, func(users map[string]User) error {
		if _, ok := users[name]; !ok {
			return fmt.Errorf("user %q not found in %s", name, path)
		}
		delete(users, name)
		return nil
	})
}

// updateUsers reads the users file at path (none: no users), applies
// change and writes the result, holding the file's lock (path + ".lock")
// from the read to the write: two commands at once (useradd and userdel
// from two administrators, a provisioning script) each see the other's
// change instead of writing back the file as it was before it, which put
// back a user userdel had removed, or the old role and password of one
// useradd had changed.
func updateUsers(path string, rules Rules, change func(map[string]User) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create users file directory: %w", err)
	}
	release, err := lockUsersFile(path + ".lock")
	if err != nil {
		return err
	}
	defer release()
	users, err := readForUpdate(path, rules)
	if err != nil {
		return err
	}
	if err := change(users); err != nil {
		return err
	}
	return writeUsers(path, users)
}

func readForUpdate(path string, rules Rules) (map[string]User, error) {
	users, err := ReadUsersFile(path, rules)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]User{}, nil
	}
	return users, err
}

func writeUsers(path string, users map[string]User) error {
	data, err := MarshalUsers(users)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}

// writeFileAtomic writes the users file with mode 0600, atomically,
// creating its directory (0700) if needed.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create users file directory: %w", err)
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write users file: %w", err)
	}
	return nil
}
