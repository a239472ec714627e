package main

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// TestLoadConfigAcceptsBounds: each bound README.md's configuration table
// gives is itself accepted, and reaches the configuration as set: 0 where a
// variable says 0 turns its work off, and each end of a range.
func TestLoadConfigAcceptsBounds(t *testing.T) {
	tests := []struct {
		name, value string
		got         func(Config) any
		want        any
	}{
		{"HITL_WORKFLOW_CACHE", "1", func(c Config) any { return c.WorkflowCache }, 1},
		{"HITL_WORKFLOW_CACHE", "1000000", func(c Config) any { return c.WorkflowCache }, 1_000_000},
		{"HITL_LEDGER_KEEP", "0", func(c Config) any { return c.LedgerKeep }, time.Duration(0)},
		{"HITL_LEDGER_KEEP", "24h", func(c Config) any { return c.LedgerKeep }, 24 * time.Hour},
		{"HITL_REANNOUNCE_EVERY", "0", func(c Config) any { return c.ReannounceEvery }, time.Duration(0)},
		{"HITL_REANNOUNCE_EVERY", "1m", func(c Config) any { return c.ReannounceEvery }, time.Minute},
		{"HITL_TOOL_ATTEMPTS", "1", func(c Config) any { return c.toolRetry().MaxAttempts }, int32(1)},
		{"HITL_TOOL_ATTEMPTS", "20", func(c Config) any { return c.toolRetry().MaxAttempts }, int32(20)},
		{"HITL_MODEL_RETRY_FOR", "1m", func(c Config) any { return c.modelRetry().For }, time.Minute},
		{"HITL_MODEL_RETRY_FOR", "24h", func(c Config) any { return c.modelRetry().For }, 24 * time.Hour},
		{"HITL_MODEL_TIMEOUT", "30s", func(c Config) any { return c.modelRetry().AttemptTimeout }, 30 * time.Second},
		{"HITL_MODEL_TIMEOUT", "30m", func(c Config) any { return c.modelRetry().AttemptTimeout }, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			env := baseEnv(t)
			env[tt.name] = tt.value
			c, err := loadConfig(nil, env, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if got := tt.got(c); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("%s=%s gives %v, want %v", tt.name, tt.value, got, tt.want)
			}
		})
	}
}
