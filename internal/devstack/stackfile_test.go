package devstack

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
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
	env := func(e config.Env, args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := Run(t.Context(), "env", append([]string{"-work", work}, args...), e, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("env %v: %v", args, err)
		}
		return out.String(), errOut.String()
	}

	// No record (a stack from before): the flags' settings, defaults here.
	if out, _ := env(config.Env{}); !strings.Contains(out, "TEMPORAL_ADDRESS=127.0.0.1:7233") {
		t.Fatalf("env without a record:\n%s", out)
	}
	if err := writeStackRecord(c, false); err != nil {
		t.Fatal(err)
	}
	noWork := c
	noWork.Work = ""
	upFlags := strings.Fields(portFlags(noWork))
	same := []string{"-temporal-port", "27233", "-ui-port", "27833", "-ably-port", "27090", "-auth-port", "27001", "-model-port", "27095", "-namespace", "team"}
	tests := []struct {
		name     string
		env      config.Env
		args     []string
		want     []string
		wantNote string // "": none
	}{
		{"no flags: the record", nil, nil,
			[]string{"TEMPORAL_ADDRESS=127.0.0.1:27233", "TEMPORAL_NAMESPACE=team", "ABLY_ENDPOINT=127.0.0.1:27090", "AUTH_URL=http://127.0.0.1:27001", "ABLY_CHANNEL=ai:team"}, ""},
		{"the same flags: the record's channel too, no note", nil, same,
			[]string{"TEMPORAL_ADDRESS=127.0.0.1:27233", "ABLY_CHANNEL=ai:team"}, ""},
		// The command up prints (portFlags) names no -model-port, which
		// env does not print: it reaches the same stack, without a note.
		{"the flags up prints: no note", nil, upFlags,
			[]string{"TEMPORAL_ADDRESS=127.0.0.1:27233", "ABLY_ENDPOINT=127.0.0.1:27090", "ABLY_CHANNEL=ai:team"}, ""},
		{"other flags win, with a note", nil, []string{"-temporal-port", "17233"},
			[]string{"TEMPORAL_ADDRESS=127.0.0.1:17233", "ABLY_ENDPOINT=127.0.0.1:8090", "ABLY_CHANNEL=ai:team"},
			"last ran with -temporal-port 27233 -ui-port 27833 -ably-port 27090 -auth-port 27001 -model-port 27095 -namespace team; these settings follow the flags given instead, and the defaults for the ports and namespace not given"},
		// -namespace alone names a stack too: the defaults for the ports
		// not given, not the record's namespace.
		{"-namespace alone wins, with a note", nil, []string{"-namespace", "other"},
			[]string{"TEMPORAL_NAMESPACE=other", "TEMPORAL_ADDRESS=127.0.0.1:7233"}, "last ran with -temporal-port 27233"},
		{"the recorded ports and another namespace: a note", nil, append(slices.Clone(same[:len(same)-2]), "-namespace", "other"),
			[]string{"TEMPORAL_NAMESPACE=other", "TEMPORAL_ADDRESS=127.0.0.1:27233"}, "-namespace team; these settings follow the flags given instead"},
		{"ABLY_CHANNEL wins, with a note", config.Env{"ABLY_CHANNEL": "ai:mine"}, nil,
			[]string{"TEMPORAL_ADDRESS=127.0.0.1:27233", "ABLY_CHANNEL=ai:mine"}, "last ran on channel ai:team; these settings follow ABLY_CHANNEL=ai:mine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := config.Env{}
			for k, v := range tc.env {
				e[k] = v
			}
			out, note := env(e, tc.args...)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("env output lacks %s:\n%s", w, out)
				}
			}
			if tc.wantNote == "" && note != "" || !strings.Contains(note, tc.wantNote) {
				t.Errorf("note = %q, want %q", note, tc.wantNote)
			}
		})
	}

	// A record from before the channel was recorded: no false note.
	old := recordOf(c)
	old.Channel = ""
	b, _ := json.Marshal(old)
	if err := os.WriteFile(filepath.Join(c.StateDir(), StackFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, note := env(config.Env{}, same...); note != "" || !strings.Contains(out, "ABLY_CHANNEL=ai:big-bad-any") {
		t.Errorf("a record without a channel: note %q, output:\n%s", note, out)
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
	if err := writeStackRecord(c, false); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err := Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), StackFile) || !strings.Contains(err.Error(), "temporal-port") {
		t.Fatalf("env on a bad record: %v, want an error naming %s and the port", err, StackFile)
	}
}

// TestEnvRefusesABadRecordFile: a record env cannot read is an error naming
// the file, not the defaults of another stack printed as this one's.
func TestEnvRefusesABadRecordFile(t *testing.T) {
	for _, tt := range []struct {
		name, record string
		wantErr      []string
	}{
		{"not JSON", `{"ports":`, []string{StackFile, "unexpected end of JSON input"}},
		{"a port of the wrong type", `{"ports":{"Temporal":"x"}}`, []string{StackFile, "cannot unmarshal"}},
		{"a port out of range", `{"ports":{"Temporal":0,"UI":8233,"Ably":8090,"Auth":3001,"Model":8095},"namespace":"default"}`,
			[]string{StackFile, "--temporal-port 0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			work := t.TempDir()
			state := filepath.Join(work, "state")
			if _, _, err := loadOrCreateSecrets(state, rand.Reader); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(state, StackFile), []byte(tt.record), 0o600); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := Run(t.Context(), "env", []string{"-work", work}, config.Env{}, strings.NewReader(""), &out, io.Discard)
			for _, want := range tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("env on record %s: %v, want an error with %q", tt.record, err, want)
				}
			}
			if out.Len() != 0 {
				t.Errorf("env printed settings:\n%s", out.String())
			}
		})
	}
}
