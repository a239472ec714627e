package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A history that exists replays the code that recorded it: the recorder
// refuses to write over it unless told to.
func TestValidateRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	cli := filepath.Join(dir, "temporal")
	if err := os.WriteFile(cli, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "replay")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "v1-approve.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := config{TemporalCLI: cli, OutDir: out, Prefix: "v1-", Timeout: time.Minute}
	for _, tt := range []struct {
		name    string
		mutate  func(*config)
		wantErr string
	}{
		{"all scenarios, one exists", func(*config) {}, "v1-approve.json exists"},
		{"only that scenario", func(c *config) { c.Only = []string{"approve"} }, "v1-approve.json exists"},
		{"only others", func(c *config) { c.Only = []string{"reject", "expire"} }, ""},
		{"a new prefix", func(c *config) { c.Prefix = "v2-" }, ""},
		{"overwrite", func(c *config) { c.Overwrite = true }, ""},
		{"no prefix", func(c *config) { c.Prefix = "" }, "-prefix is required: the newest histories are v1-*.json; a change of the workflow's commands records under -prefix v2-"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// The superseded scenario's rejection is published before alice's approval
// however long the signals between them take to send (with a loaded
// Temporal, one can take seconds): both are stamped from when the first
// decision was sent, not each from when it was sent.
func TestSupersededStampsDoNotHangOnSendTimes(t *testing.T) {
	var sc scenario
	for _, s := range scenarios() {
		if s.name == "superseded" {
			sc = s
		}
	}
	if sc.name == "" {
		t.Fatal("no superseded scenario")
	}
	first := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	approval, ok0 := sc.stamp(0, first)
	rejection, ok1 := sc.stamp(1, first)
	if !ok0 || !ok1 {
		t.Fatalf("decisions 0 and 1 stamped: %v, %v; want both", ok0, ok1)
	}
	if !rejection.Before(approval) {
		t.Errorf("rejection published at %s, approval at %s: want the rejection first", rejection, approval)
	}
}
