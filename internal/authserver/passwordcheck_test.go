package authserver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/hitl/durable-approvals/internal/testutil"
)

// compared records the bcrypt comparisons of a server, through its own
// compare seam.
type compared struct {
	mu     sync.Mutex
	hashes [][]byte
}

func recordComparisons(s *Server) *compared {
	c := &compared{}
	compare := s.compare
	s.compare = func(hash, pw []byte) error {
		c.mu.Lock()
		c.hashes = append(c.hashes, hash)
		c.mu.Unlock()
		return compare(hash, pw)
	}
	return c
}

func (c *compared) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.hashes
	c.hashes = nil
	return h
}

// TestLoginComparesOneHashPerCost: with hashes of several bcrypt costs in
// the users file, every login, of a known user at any cost, of an unknown
// or invalid name, right or wrong, compares one hash at each of the file's
// costs in ascending order, and only a known user's own hash can let it in.
// So the work, and with it the time, does not depend on whether the user
// exists. (The mechanism is checked, not the wall clock: a timing
// assertion would be flaky on shared CPUs.)
func TestLoginComparesOneHashPerCost(t *testing.T) {
	s, _, path := newTestServer(t, nil) // the test users at bcrypt.MinCost
	writeHashedUser(t, path, "mid", "mid-password", bcrypt.MinCost+1)
	writeHashedUser(t, path, "slow", "slow-password", bcrypt.MinCost+2)
	users, err := ReadUsersFile(path, Rules{Cost: bcrypt.MinCost})
	if err != nil {
		t.Fatal(err)
	}
	wantCosts := []int{bcrypt.MinCost, bcrypt.MinCost + 1, bcrypt.MinCost + 2}
	rec := recordComparisons(s)
	h := s.Handler()
	tests := []struct {
		name, user, password string
		wantCode             int
	}{
		{"unknown name", "nobody", "wrong-password", http.StatusUnauthorized},
		{"invalid name", "No Such!", "wrong-password", http.StatusUnauthorized},
		{"lowest cost, wrong password", "alice", "wrong-password", http.StatusUnauthorized},
		{"middle cost, wrong password", "mid", "wrong-password", http.StatusUnauthorized},
		{"highest cost, wrong password", "slow", "wrong-password", http.StatusUnauthorized},
		{"lowest cost, password too long", "alice", "alice-password" + strings.Repeat("x", MaxPasswordLen), http.StatusUnauthorized},
		{"lowest cost, right password", "alice", "alice-password", http.StatusOK},
		{"middle cost, right password", "mid", "mid-password", http.StatusOK},
		{"highest cost, right password", "slow", "slow-password", http.StatusOK},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			remote := fmt.Sprintf("192.0.2.%d:1", 10+i)
			if got := doToken(t, h, http.MethodGet, remote, basic(tt.user, tt.password)).Code; got != tt.wantCode {
				t.Errorf("status = %d, want %d", got, tt.wantCode)
			}
			hashes := rec.take()
			costs := make([]int, len(hashes))
			for j, hash := range hashes {
				costs[j], _ = bcrypt.Cost(hash)
			}
			if !slices.Equal(costs, wantCosts) {
				t.Errorf("compared hashes of costs %v, want %v", costs, wantCosts)
			}
			var own []string
			for _, hash := range hashes {
				for _, u := range users {
					if u.PasswordHash == string(hash) {
						own = append(own, u.Name)
					}
				}
			}
			wantOwn := []string{tt.user}
			if _, known := users[tt.user]; !known {
				wantOwn = nil
			}
			if !slices.Equal(own, wantOwn) {
				t.Errorf("compared the hashes of users %v, want %v (the rest dummies)", own, wantOwn)
			}
		})
	}
}

// TestMixedCostsWarn: loading a users file whose hashes have several costs
// logs a warning with how many are below the highest; one cost logs none.
func TestMixedCostsWarn(t *testing.T) {
	var logs testutil.SyncBuffer
	s, _, path := newTestServer(t, func(c *Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	// warnings makes the server re-read a changed file (a login does) and
	// returns the mixed-cost warnings logged so far.
	warnings := func() []map[string]any {
		t.Helper()
		doToken(t, s.Handler(), http.MethodGet, "192.0.2.1:1", basic("nobody", "x"))
		var out []map[string]any
		for line := range strings.Lines(logs.String()) {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			if msg, _ := m["msg"].(string); strings.Contains(msg, "mixes bcrypt costs") {
				out = append(out, m)
			}
		}
		return out
	}
	if got := warnings(); len(got) != 0 {
		t.Errorf("one cost: warnings %v, want none", got)
	}
	writeHashedUser(t, path, "slow", "slow-password", bcrypt.MinCost+2)
	got := warnings()
	if len(got) != 1 {
		t.Fatalf("mixed costs: %d warnings, want 1", len(got))
	}
	if below, want := got[0]["belowHighestCost"], float64(len(testUsers)); below != want {
		t.Errorf("belowHighestCost = %v, want %v", below, want)
	}
	if highest, want := got[0]["highestCost"], float64(bcrypt.MinCost+2); highest != want {
		t.Errorf("highestCost = %v, want %v", highest, want)
	}
}
