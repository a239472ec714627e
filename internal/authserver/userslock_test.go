package authserver

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestUserCommandsAtOnceLoseNoChange runs useradd and userdel at the same
// time on one users file, as two administrators (or a script) may: each
// reads the file, changes it and writes it whole, so without a lock a
// command that read the file before another wrote it puts back what the
// other changed: a removed user (or the old role of a demoted one) comes
// back while userdel said it was done.
func TestUserCommandsAtOnceLoseNoChange(t *testing.T) {
	const cost = 6 // a hash takes a few ms, as useradd's real one takes tens
	opts := []UserOption{WithCost(cost)}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "users.json")
		if err := AddUser(path, "mallory", "admin", "mallory-password-1", nil, opts...); err != nil {
			t.Fatal(err)
		}
		const adds = 8
		var wg sync.WaitGroup
		errs := make(chan error, adds+1)
		for i := range adds {
			wg.Go(func() {
				errs <- AddUser(path, fmt.Sprintf("user%d", i), "editor", fmt.Sprintf("password-of-user-%d", i), nil, opts...)
			})
		}
		wg.Go(func() { errs <- DeleteUser(path, "mallory", nil, opts...) })
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		users, err := ReadUsersFile(path, Rules{Cost: cost})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := users["mallory"]; ok {
			t.Errorf("round %d: mallory is in the users file after userdel said it removed her", round)
		}
		for i := range adds {
			if _, ok := users[fmt.Sprintf("user%d", i)]; !ok {
				t.Errorf("round %d: user%d is missing after useradd said it saved them", round, i)
			}
		}
	}
}
