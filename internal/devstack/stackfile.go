package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/atomicfile"
)

// StackFile is the file in the state directory where up (and demo) record
// the ports, namespace and channel the stack runs with, so that env prints
// a stack's settings without being given its flags (and ABLY_CHANNEL)
// again.
const StackFile = "stack.json"

// stackRecord is what StackFile holds.
type stackRecord struct {
	Ports     Ports  `json:"ports"`
	Namespace string `json:"namespace"`
	Channel   string `json:"channel"`
	// NotUp says that no up (or demo) of this work directory has come up
	// yet: the first one failed, or is still starting. env then refuses
	// (the stack's settings and passwords reach nothing), and the next up
	// that comes up shows the passwords, which a failed one never did.
	NotUp bool `json:"notUp,omitempty"`
}

func recordOf(c Config) stackRecord {
	return stackRecord{Ports: c.Ports, Namespace: c.Namespace, Channel: c.Channel}
}

// writeStackRecord records c's ports and namespace in its state
// directory, and whether the stack has not come up yet (NotUp).
func writeStackRecord(c Config, notUp bool) error {
	r := recordOf(c)
	r.NotUp = notUp
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(c.StateDir(), StackFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record the stack's ports: %w", err)
	}
	return nil
}

// readStackRecord reads the record of the stack in stateDir; ok is false
// when there is none (a stack started before up recorded one).
func readStackRecord(stateDir string) (r stackRecord, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(stateDir, StackFile))
	if errors.Is(err, fs.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("%s: %w", filepath.Join(stateDir, StackFile), err)
	}
	return r, true, nil
}

// applyStackRecord gives env the recorded ports and namespace of the stack
// in c's work directory unless the command line named a port or the
// namespace, and its recorded channel unless ABLY_CHANNEL is set; where
// what is given differs from the record, stderr says so (and what is
// given wins). The result is validated again.
func applyStackRecord(c *Config, stderr io.Writer) error {
	r, ok, err := readStackRecord(c.StateDir())
	if err != nil || !ok {
		return err
	}
	if r.NotUp {
		return fmt.Errorf("the dev stack of %s has not come up yet: its first `devstack up` failed or is still starting (its log: %s); env prints the settings of a stack that came up",
			c.StateDir(), filepath.Join(c.LogDir(), "devstack.log"))
	}
	if c.endpointsGiven {
		// The model's port is not among env's settings, and the command
		// up prints (portFlags) does not name it: it differs from the
		// record without reaching another stack.
		given, recorded := c.Ports, r.Ports
		given.Model, recorded.Model = 0, 0
		if given != recorded || r.Namespace != c.Namespace {
			p := r.Ports
			fmt.Fprintf(stderr, "note: the stack of this work directory last ran with -temporal-port %d -ui-port %d -ably-port %d -auth-port %d -model-port %d -namespace %s; these settings follow the flags given instead, and the defaults for the ports and namespace not given\n",
				p.Temporal, p.UI, p.Ably, p.Auth, p.Model, shellQuote(r.Namespace))
		}
	} else {
		c.Ports, c.Namespace = r.Ports, r.Namespace
	}
	// A record from before the channel was recorded has none.
	switch {
	case r.Channel == "" || r.Channel == c.Channel:
	case c.channelGiven:
		fmt.Fprintf(stderr, "note: the stack of this work directory last ran on channel %s; these settings follow %s=%s instead\n",
			shellQuote(r.Channel), config.EnvChannel, shellQuote(c.Channel))
	default:
		c.Channel = r.Channel
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(c.StateDir(), StackFile), err)
	}
	return nil
}
