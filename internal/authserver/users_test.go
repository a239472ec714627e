package authserver

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/workflows"
)

func readUsersT(t *testing.T, path string) map[string]User {
	t.Helper()
	users, err := ReadUsersFile(path, Rules{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatalf("ReadUsersFile: %v", err)
	}
	return users
}

func checkFileSafe(t *testing.T, path string, passwords ...string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range passwords {
		if bytes.Contains(data, []byte(pw)) {
			t.Errorf("users file contains the plain-text password %q", pw)
		}
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestAddUpdateDeleteUser(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "users.json")
	opts := []UserOption{WithCost(bcrypt.MinCost)}

	if err := AddUser(path, "alice", "publisher", "first-password", nil, opts...); err != nil {
		t.Fatalf("AddUser: %v", err)
	}
	checkFileSafe(t, path, "first-password")
	u := readUsersT(t, path)["alice"]
	if u.Role != "publisher" {
		t.Errorf("role = %q, want publisher", u.Role)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("first-password")); err != nil {
		t.Errorf("hash does not verify the password: %v", err)
	}
	if cost, _ := bcrypt.Cost([]byte(u.PasswordHash)); cost != bcrypt.MinCost {
		t.Errorf("cost = %d, want %d", cost, bcrypt.MinCost)
	}

	// Update: new role and password; the old password no longer verifies.
	if err := AddUser(path, "alice", "admin", "second-password", nil, opts...); err != nil {
		t.Fatalf("AddUser update: %v", err)
	}
	if err := AddUser(path, "bob", "editor", "bobs-password", nil, opts...); err != nil {
		t.Fatalf("AddUser bob: %v", err)
	}
	checkFileSafe(t, path, "first-password", "second-password", "bobs-password")
	users := readUsersT(t, path)
	if len(users) != 2 {
		t.Fatalf("users = %v, want alice and bob", users)
	}
	u = users["alice"]
	if u.Role != "admin" {
		t.Errorf("role after update = %q, want admin", u.Role)
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("first-password")) == nil {
		t.Errorf("old password still verifies after update")
	}
	if err := bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("second-password")); err != nil {
		t.Errorf("new password does not verify: %v", err)
	}

	if err := DeleteUser(path, "alice", nil, opts...); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	checkFileSafe(t, path)
	if users := readUsersT(t, path); len(users) != 1 || users["bob"].Name != "bob" {
		t.Errorf("after delete users = %v, want only bob", users)
	}
	if err := DeleteUser(path, "alice", nil, opts...); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("deleting a missing user: err = %v, want not found", err)
	}
}

func TestAddUserDefaultCost(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := AddUser(path, "alice", "publisher", "a-long-password", nil); err != nil {
		t.Fatal(err)
	}
	users, err := ReadUsersFile(path, Rules{})
	if err != nil {
		t.Fatal(err)
	}
	if cost, _ := bcrypt.Cost([]byte(users["alice"].PasswordHash)); cost < 10 {
		t.Errorf("default cost = %d, want >= 10", cost)
	}
}

func TestAddUserRejects(t *testing.T) {
	tests := []struct {
		name, user, role, password string
		roles                      []string
		opts                       []UserOption
		wantErr                    string
	}{
		{"empty name", "", "publisher", "long-password-1", nil, nil, "1 to 64"},
		{"long name", strings.Repeat("a", 65), "publisher", "long-password-1", nil, nil, "1 to 64"},
		{"upper case", "Alice", "publisher", "long-password-1", nil, nil, "only a-z"},
		{"space", "al ice", "publisher", "long-password-1", nil, nil, "only a-z"},
		{"colon", "al:ice", "publisher", "long-password-1", nil, nil, "only a-z"},
		{"wildcard", "*", "publisher", "long-password-1", nil, nil, "only a-z"},
		{"agent clientId", "hitl-agent", "publisher", "long-password-1", nil, nil, "reserved"},
		{"bridge clientId", "hitl-bridge", "publisher", "long-password-1", nil, nil, "reserved"},
		{"custom reserved", "ops-bot", "publisher", "long-password-1", nil, []UserOption{WithReserved([]string{"ops-bot"})}, "reserved"},
		{"unknown role", "alice", "superuser", "long-password-1", nil, nil, "not in the role hierarchy"},
		{"none is no role", "alice", "none", "long-password-1", nil, nil, "not in the role hierarchy"},
		{"role outside custom hierarchy", "alice", "admin", "long-password-1", []string{"viewer", "approver"}, nil, "not in the role hierarchy"},
		{"short password", "alice", "publisher", "short", nil, nil, "too short"},
		{"password over 72 bytes", "alice", "publisher", strings.Repeat("p", 73), nil, nil, "too long"},
		{"cost too low", "alice", "publisher", "long-password-1", nil, []UserOption{WithCost(3)}, "cost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "users.json")
			opts := append([]UserOption{WithCost(bcrypt.MinCost)}, tt.opts...)
			err := AddUser(path, tt.user, tt.role, tt.password, tt.roles, opts...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AddUser error = %v, want it to contain %q", err, tt.wantErr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("users file created despite the error")
			}
		})
	}
}

func TestAddUserCustomRoles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	roles := []string{"viewer", "approver"}
	if err := AddUser(path, "alice", "approver", "long-password-1", roles, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadUsersFile(path, Rules{Roles: roles, Cost: bcrypt.MinCost}); err != nil {
		t.Errorf("custom roles: %v", err)
	}
}

func TestAddUserKeepsBrokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	broken := []byte(`{"users":[{"name":"alice","role":"publisher","password":"plain"}]}`)
	if err := os.WriteFile(path, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(path, "bob", "admin", "long-password-1", nil, WithCost(bcrypt.MinCost)); err == nil {
		t.Fatalf("AddUser over a broken file succeeded")
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, broken) {
		t.Errorf("broken file was rewritten: %s", got)
	}
}

func TestAddUserTightensMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(path, []byte(`{"users":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := AddUser(path, "bob", "admin", "long-password-1", nil, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	checkFileSafe(t, path, "long-password-1")
}

func TestParseUsers(t *testing.T) {
	h4, _ := bcrypt.GenerateFromPassword([]byte("password1"), bcrypt.MinCost)
	hash := string(h4)
	doc := func(users ...string) []byte { return []byte(`{"users":[` + strings.Join(users, ",") + `]}`) }
	user := func(name, role, h string) string {
		b, _ := json.Marshal(User{Name: name, Role: role, PasswordHash: h})
		return string(b)
	}
	tests := []struct {
		name    string
		data    []byte
		rules   Rules
		want    int
		wantErr string
	}{
		{"empty list", doc(), Rules{Cost: bcrypt.MinCost}, 0, ""},
		{"two users", doc(user("a", "editor", hash), user("b", "admin", hash)), Rules{Cost: bcrypt.MinCost}, 2, ""},
		{"not json", []byte("users: []"), Rules{Cost: bcrypt.MinCost}, 0, "users file"},
		{"unknown field", []byte(`{"users":[],"extra":1}`), Rules{Cost: bcrypt.MinCost}, 0, "unknown field"},
		{"plain password field", []byte(`{"users":[{"name":"a","role":"editor","password":"x"}]}`), Rules{Cost: bcrypt.MinCost}, 0, "unknown field"},
		{"trailing data", append(doc(), []byte(` {}`)...), Rules{Cost: bcrypt.MinCost}, 0, "trailing data"},
		{"duplicate", doc(user("a", "editor", hash), user("a", "admin", hash)), Rules{Cost: bcrypt.MinCost}, 0, "duplicate"},
		// A reviewer reads editor; encoding/json alone takes the last.
		{"role written twice", doc(`{"name":"a","role":"editor","role":"admin","passwordHash":"` + hash + `"}`), Rules{Cost: bcrypt.MinCost}, 0, `users[0]: duplicate key "role"`},
		{"role in another case", doc(`{"name":"a","role":"editor","Role":"admin","passwordHash":"` + hash + `"}`), Rules{Cost: bcrypt.MinCost}, 0, `differ only in case`},
		{"reserved name", doc(user("hitl-bridge", "admin", hash)), Rules{Cost: bcrypt.MinCost}, 0, "reserved"},
		{"wildcard name", doc(user("*", "admin", hash)), Rules{Cost: bcrypt.MinCost}, 0, "only a-z"},
		{"unknown role", doc(user("a", "root", hash)), Rules{Cost: bcrypt.MinCost}, 0, "role hierarchy"},
		{"not a hash", doc(user("a", "editor", "password1")), Rules{Cost: bcrypt.MinCost}, 0, "not a bcrypt hash"},
		{"corrupt hash", doc(user("a", "editor", "$2a$xx"+hash[6:])), Rules{Cost: bcrypt.MinCost}, 0, "not a bcrypt hash"},
		{"hash with trailing text", doc(user("a", "editor", hash+"x")), Rules{Cost: bcrypt.MinCost}, 0, "not a bcrypt hash"},
		{"hash of another version", doc(user("a", "editor", "$1"+hash[2:])), Rules{Cost: bcrypt.MinCost}, 0, "not a bcrypt hash"},
		{"cost below minimum", doc(user("a", "editor", hash)), Rules{}, 0, "below the minimum 10"},
		{"too large", append(doc(), bytes.Repeat([]byte(" "), MaxUsersFileSize)...), Rules{Cost: bcrypt.MinCost}, 0, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			users, err := ParseUsers(tt.data, tt.rules)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseUsers: %v", err)
			}
			if len(users) != tt.want {
				t.Errorf("got %d users, want %d", len(users), tt.want)
			}
		})
	}
}

// New passwords need MinPasswordLen characters and must not be one of the
// embedded common passwords, whatever their case (issue 9). The rule is
// for new passwords only: see TestShortPasswordInUsersFileStillLogsIn.
func TestValidatePasswordRules(t *testing.T) {
	tests := []struct {
		name, password, wantErr string
	}{
		{"12 characters", "tangerine-42", ""},
		{"11 characters", "tangerine-4", "too short"},
		{"8 characters, the old minimum", "password", "too short"},
		{"12 bytes but 6 characters", "ääääää", "too short"},
		{"12 characters of 2 bytes", "äöüßéèäöüßéè", ""},
		{"72 bytes", strings.Repeat("pqrst", MaxPasswordLen/5) + "pq", ""},
		{"73 bytes", strings.Repeat("pqrst", MaxPasswordLen/5) + "pqr", "too long"},
		{"only spaces", strings.Repeat(" ", 12), "only white space"},
		{"spaces and tabs", "      \t\t\t\t\t\t", "only white space"},
		{"one character", strings.Repeat("a", 12), "too few characters"},
		{"two characters", "abababababab", "too few characters"},
		{"four characters", "abcdabcdabcd", "too few characters"},
		{"five characters", "abcdeabcdeab", ""},
		{"the user name thrice", "alicealicealice", "mostly the user name"},
		{"the user name, other case", "ALICEalice12", "mostly the user name"},
		{"the user name in upper case", "ALICEALICE12", "mostly the user name"},
		{"the user name and 7 more", "alice1234567", "mostly the user name"},
		{"the user name and 8 more", "alice-password", ""},
		{"common", "password1234", "common"},
		{"common, other case", "PassWord1234", "common"},
		{"common keyboard walk", "1qaz2wsx3edc", "common"},
		{"common, upper case", "QWERTY123456", "common"},
		{"last entry of the list", lastCommonPassword(t), "common"},
		{"common with a suffix is not on the list", "password1234!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidatePassword("alice", tt.password)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidatePassword(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ValidatePassword(%q) = %v, want an error containing %q", tt.password, err, tt.wantErr)
			}
			// AddUser refuses it too, and writes nothing.
			path := filepath.Join(t.TempDir(), "users.json")
			if err := AddUser(path, "alice", "publisher", tt.password, nil, WithCost(bcrypt.MinCost)); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("AddUser with %q = %v, want an error containing %q", tt.password, err, tt.wantErr)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Errorf("users file written despite the refused password")
			}
		})
	}
}

// lastCommonPassword returns the last entry of the embedded list, so the
// test notices a list that is cut short when it is read.
func lastCommonPassword(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("commonpasswords.txt")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	last := lines[len(lines)-1]
	if len(last) < MinPasswordLen || strings.HasPrefix(last, "#") {
		t.Fatalf("last line %q is not a password of at least %d characters", last, MinPasswordLen)
	}
	return strings.ToUpper(last)
}

// The embedded list is what its header says: a few hundred lower-case
// passwords, each long enough that the length rule alone would let it
// through.
func TestCommonPasswordsList(t *testing.T) {
	list := commonPasswords()
	if n := len(list); n < 200 || n > 1000 {
		t.Fatalf("%d common passwords, want 200 to 1000", n)
	}
	for pw := range list {
		if pw != strings.ToLower(pw) || utf8.RuneCountInString(pw) < MinPasswordLen || len(pw) > MaxPasswordLen {
			t.Errorf("entry %q: want lower case, %d to %d bytes", pw, MinPasswordLen, MaxPasswordLen)
		}
	}
}

// Configured trusted clientIds add to the defaults: a custom list never
// frees hitl-agent or hitl-bridge for an approver (issue 9, attack 9).
func TestReservedNamesAddToDefaults(t *testing.T) {
	custom := []string{"my-agent"}
	for _, name := range []string{"my-agent", "hitl-agent", "hitl-bridge"} {
		path := filepath.Join(t.TempDir(), "users.json")
		err := AddUser(path, name, "publisher", "long-password-1", nil, WithCost(bcrypt.MinCost), WithReserved(custom))
		if err == nil || !strings.Contains(err.Error(), "reserved") {
			t.Errorf("AddUser %s with reserved %q: %v, want reserved", name, custom, err)
		}
	}
	// A users file holding a default trusted clientId is refused by a
	// server configured with a custom agent clientId.
	path := filepath.Join(t.TempDir(), "users.json")
	h, err := bcrypt.GenerateFromPassword([]byte("long-password-1"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeUsers(path, map[string]User{"hitl-bridge": {Name: "hitl-bridge", Role: "admin", PasswordHash: string(h)}}); err != nil {
		t.Fatal(err)
	}
	_, err = New(Config{UsersFile: path, AblyKey: testKey, BcryptCost: bcrypt.MinCost, Reserved: custom})
	if err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("New with hitl-bridge in the users file and Reserved %q: %v, want reserved", custom, err)
	}
	// The default trusted clientIds hold a ':', which no user name can.
	for _, name := range []string{workflows.DefaultAgentClientID, workflows.DefaultBridgeClientID} {
		err := AddUser(filepath.Join(t.TempDir(), "users.json"), name, "publisher", "long-password-1", nil, WithCost(bcrypt.MinCost))
		if err == nil || !strings.Contains(err.Error(), "only a-z") {
			t.Errorf("AddUser %s: %v, want refused for its characters", name, err)
		}
	}
}

// A user whose name became reserved after it was added (a trusted clientId
// configured since) can still be removed: the server refuses the file
// until it is.
func TestDeleteUserRemovesANameReservedSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	if err := AddUser(path, "my-agent", "publisher", "long-password-1", nil, WithCost(bcrypt.MinCost)); err != nil {
		t.Fatal(err)
	}
	reserved := WithReserved([]string{"my-agent"})
	if _, err := ReadUsersFile(path, Rules{Reserved: []string{"my-agent"}, Cost: bcrypt.MinCost}); err == nil {
		t.Fatal("a users file with a reserved name was accepted")
	}
	if err := DeleteUser(path, "my-agent", nil, WithCost(bcrypt.MinCost), reserved); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	users, err := ReadUsersFile(path, Rules{Reserved: []string{"my-agent"}, Cost: bcrypt.MinCost})
	if err != nil || len(users) != 0 {
		t.Fatalf("after DeleteUser: %v, %v; want no users", users, err)
	}
}
