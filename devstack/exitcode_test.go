package main

import (
	"bytes"
	"errors"
	"os"
	"syscall"
	"testing"

	"github.com/hitl/durable-approvals/config"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		sig  os.Signal
		code int
		out  string
	}{
		{"success", nil, nil, 0, ""},
		{"success after Ctrl-C (up stopped in order)", nil, os.Interrupt, 0, ""},
		{"an error", errors.New("no dev stack state in /x"), nil, 1, "devstack: no dev stack state in /x\n"},
		{"bad input", config.Usage(errors.New("-temporal-port -5: want 1 to 65535")), nil, 2, "devstack: -temporal-port -5: want 1 to 65535\n"},
		{"Ctrl-C cut a build", errors.New("go build ./approver: signal: killed"), os.Interrupt, 130,
			"devstack: interrupted (interrupt); what it started is stopped: go build ./approver: signal: killed\n"},
		{"SIGTERM", errors.New("context canceled"), syscall.SIGTERM, 143,
			"devstack: interrupted (terminated); what it started is stopped: context canceled\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := exitCode(&out, tc.err, tc.sig); code != tc.code || out.String() != tc.out {
				t.Errorf("exitCode = %d, %q; want %d, %q", code, out.String(), tc.code, tc.out)
			}
		})
	}
}
