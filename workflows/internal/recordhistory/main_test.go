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
