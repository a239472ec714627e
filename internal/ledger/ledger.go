// Package ledger makes a side effect idempotent: it records, in a
// directory, the first successful result of each (tool, key) with the
// digest of its input, and returns it again to every later run with the
// same key and input (a run with other input is refused, ErrOtherInput),
// across restarts of the process, until Prune removes it (once nothing can
// run that key again).
// Tools key it on the workflow id and tool-call id, so a retried activity
// or a replayed workflow never repeats a publish or a delete.
package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hitl/durable-approvals/internal/atomicfile"
)

// Ledger is a directory of results, one JSON file per (tool, key).
type Ledger struct {
	dir  string
	now  func() time.Time
	keys keyLocks
}

// entry is one ledger file.
type entry struct {
	Key  string `json:"key"`
	Tool string `json:"tool"`
	// Input is the SHA-256 (hex) of the input the result is for; entries
	// written before it existed have none and answer every input.
	Input  string    `json:"input,omitempty"`
	Output string    `json:"output"`
	At     time.Time `json:"at"`
}

// ErrOtherInput is the error of Once when the key's recorded result is for
// another input: the key ran with other arguments (a run reset to before
// an edit, a reused workflow id whose model repeats call ids), and its
// side effect is not repeated for these, nor is its result passed off as
// theirs.
var ErrOtherInput = errors.New("this call already ran with other input")

// ErrRecordedOther is the error of Once when fn ran, but another process
// had meanwhile recorded the key's result for another input: both side
// effects happened, and the one recorded is the other's.
var ErrRecordedOther = errors.New("this call ran with this input, but a run of it with other input was recorded first")

// ErrNotRecorded is the error of Once when fn ran and succeeded but its
// result could not be written to the ledger (a full disk, a read-only file
// system): the side effect happened, and Once returns fn's result with this
// error, so that the caller does not report as failed what was done. A
// later run of the key finds no entry and runs fn again, as after a crash
// between fn and the ledger write.
var ErrNotRecorded = errors.New("the result was not recorded in the ledger")

// Open returns the ledger in dir, creating the directory if needed. now
// stamps the entries (nil: time.Now).
func Open(dir string, now func() time.Time) (*Ledger, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("ledger: create %s: %w", dir, err)
	}
	if now == nil {
		now = time.Now
	}
	return &Ledger{dir: dir, now: now}, nil
}

// Once runs fn at most once per (tool, key): the first successful result
// is stored (atomically), with the digest of input (what fn acts on, the
// call's arguments), and returned again on every later call with the same
// tool, key and input; a later call with another input gets ErrOtherInput
// and does not run fn. A crash between the side effect and the ledger write
// reruns fn, so fn itself must be safe to repeat. Runs with the same tool
// and key are serialised in this process; runs with other keys are not.
// Processes sharing dir (several workers) do not serialise at all: each
// (tool, key) has a file of its own, so runs of different keys never read
// or write each other's entry, but one key run on two processes at once
// may run fn on both, so fn must also be safe to run concurrently with
// itself. The entry is created only if absent, so the result recorded
// first is the one every run returns, also the run that lost the race.
// When fn succeeded but its result cannot be written, Once returns that
// result together with ErrNotRecorded.
func (l *Ledger) Once(ctx context.Context, tool, key, input string, fn func() (string, error)) (string, error) {
	id := tool + "\x00" + key
	unlock, err := l.keys.lock(ctx, id)
	if err != nil {
		return "", err
	}
	defer unlock()
	path := l.path(tool, key)
	digest := hash(input)
	if out, ok, err := read(path, key, digest); err != nil {
		return "", readError(tool, err)
	} else if ok {
		return out, nil
	}
	out, err := fn()
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(entry{Key: key, Tool: tool, Input: digest, Output: out, At: l.now().UTC()})
	if err != nil {
		return "", fmt.Errorf("%s: encode ledger: %w", tool, err)
	}
	err = atomicfile.WriteNew(path, data, 0o644)
	if errors.Is(err, fs.ErrExist) {
		// The same call on another process recorded its result first.
		first, ok, rerr := read(path, key, digest)
		switch {
		case errors.Is(rerr, ErrOtherInput):
			return "", fmt.Errorf("%s: %w (%w)", tool, ErrRecordedOther, rerr)
		case rerr != nil:
			return "", readError(tool, rerr)
		case ok:
			return first, nil
		}
		// A file that is not an entry of key: ours replaces it.
		err = atomicfile.WriteFile(path, data, 0o644)
	}
	if err != nil {
		return out, fmt.Errorf("%s: %w: %w", tool, ErrNotRecorded, err)
	}
	return out, nil
}

func readError(tool string, err error) error {
	if errors.Is(err, ErrOtherInput) {
		return fmt.Errorf("%s: %w", tool, err)
	}
	return fmt.Errorf("%s: read ledger: %w", tool, err)
}

// read returns the output recorded for key in the entry at path; ok is
// false if there is no entry, or the file is not an entry of key. An entry
// of key for another input than digest is ErrOtherInput.
func read(path, key, digest string) (out string, ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var e entry
	if err := json.Unmarshal(data, &e); err != nil || e.Key != key {
		return "", false, nil
	}
	if e.Input != "" && e.Input != digest {
		return "", false, fmt.Errorf("%w (recorded at %s)", ErrOtherInput, e.At.UTC().Format(time.RFC3339))
	}
	return e.Output, true, nil
}

// path is the file of the entry of (tool, key).
func (l *Ledger) path(tool, key string) string {
	return filepath.Join(l.dir, hash(tool+"\x00"+key)+".json")
}

// hash names a ledger file: SHA-256, hex.
func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
