package devstack

import (
	"bytes"
	"crypto/rand"
	"io"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/config"
)

// TestEnvReadsTheStackRecord: env prints the ports and namespace the stack
// of its work directory recorded, without being given them again; flags
// given win, and a difference is said.
func TestEnvReadsTheStackRecord(t *testing.T) {
	work := t.TempDir()
	c := testConfig(t, config.Env{})
	c.Work = work
	c.Ports = Ports{Temporal: 27233, UI: 27833, Ably: 27090, Auth: 27001, Model: 27095}
	c.Namespace = "team"
	c.Channel = "ai:team"
	if _, _, err := loadOrCreateSecrets(c.StateDir(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	env := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := Run(t.Context(), "env", append([]string{"-work", work}, args...), config.Env{}, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("env %v: %v", args, err)
		}
		return out.String(), errOut.String()
	}

	// No record (a stack from before): the flags' settings, defaults here.
	if out, _ := env(); !strings.Contains(out, "TEMPORAL_ADDRESS=127.0.0.1:7233") {
		t.Fatalf("env without a record:\n%s", out)
	}
	if err := writeStackRecord(c); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		want     []string
		wantNote bool
	}{
		{"no flags: the record", nil, []string{"TEMPORAL_ADDRESS=127.0.0.1:27233", "TEMPORAL_NAMESPACE=team", "ABLY_ENDPOINT=127.0.0.1:27090", "AUTH_URL=http://127.0.0.1:27001", "ABLY_CHANNEL=ai:team"}, false},
		{"the same flags, but not the channel", []string{"-temporal-port", "27233", "-ui-port", "27833", "-ably-port", "27090", "-auth-port", "27001", "-model-port", "27095", "-namespace", "team"}, []string{"TEMPORAL_ADDRESS=127.0.0.1:27233"}, true},
		{"other flags win, with a note", []string{"-temporal-port", "17233"}, []string{"TEMPORAL_ADDRESS=127.0.0.1:17233", "ABLY_ENDPOINT=127.0.0.1:8090"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, note := env(tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("env output lacks %s:\n%s", w, out)
				}
			}
			if got := strings.Contains(note, "last ran with -temporal-port 27233 -ui-port 27833 -ably-port 27090 -auth-port 27001 -model-port 27095 -namespace team and channel ai:team"); got != tc.wantNote {
				t.Errorf("note = %q, want one: %v", note, tc.wantNote)
			}
		})
	}
}

// TestEnvRefusesABadRecord: a record whose ports are out of range is an
// error naming the file, not settings nobody can use.
func TestEnvRefusesABadRecord(t *testing.T) {
	work := t.TempDir()
	c := testConfig(t, config.Env{})
	c.Work = work
	c.Ports.Temporal = 70000
	if _, _, err := loadOrCreateSecrets(c.StateDir(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := writeStackRecord(c); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), StackFile) || !strings.Contains(err.Error(), "temporal-port") {
		t.Fatalf("env on a bad record: %v, want an error naming %s and the port", err, StackFile)
	}
}
