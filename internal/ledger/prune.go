package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Pruned is an entry Prune removed.
type Pruned struct{ Tool, Key string }

// PruneResult is what one Prune call did.
type PruneResult struct {
	Removed []Pruned
	// Next is where the next call goes on ("" once this one reached the
	// end: start again).
	Next string
	// Skipped counts the entries whose gone failed (they stay; the next
	// pass asks again), and LastSkip is the last such error.
	Skipped  int
	LastSkip error
}

// maxFailuresInARow stops a Prune whose gone fails this many times in a
// row (Temporal out of reach) rather than ask about every entry.
const maxFailuresInARow = 3

// Prune removes entries written before before whose key gone reports as
// gone for good: nothing can run its side effect again (for a key of a
// workflow run, the run is no longer known to Temporal: no retry, replay
// or reset can reach it). gone must answer false whenever it is not sure;
// it is asked under the key's lock, so it may remove what belongs to the
// entry (a tombstone) before the entry goes.
//
// It examines the entries written before before in name order, starting
// after the name after (empty: from the first), at most max of them. The
// directory is read in chunks and only the names of files modified before
// before are held (entries are written once, so a newer file holds none).
// A file that is not an entry is left alone. An entry whose gone fails is
// skipped and counted; maxFailuresInARow failures in a row stop the call
// with the last error, and Next is then after (the pass is tried again).
func (l *Ledger) Prune(ctx context.Context, before time.Time, after string, max int,
	gone func(ctx context.Context, tool, key string) (bool, error)) (PruneResult, error) {
	names, err := l.oldNames(before, after)
	if err != nil {
		return PruneResult{Next: after}, err
	}
	var res PruneResult
	inARow := 0
	for i, name := range names {
		if i == max {
			return res, nil
		}
		res.Next = name
		if err := ctx.Err(); err != nil {
			return res, err
		}
		path := filepath.Join(l.dir, name)
		e, ok := readEntry(path)
		if !ok || !e.At.Before(before) || path != l.path(e.Tool, e.Key) {
			continue
		}
		removed, err := l.pruneOne(ctx, e, gone)
		if err != nil {
			res.Skipped++
			res.LastSkip = fmt.Errorf("ledger: is %s %q gone: %w", e.Tool, e.Key, err)
			if inARow++; inARow == maxFailuresInARow {
				res.Next = after
				return res, res.LastSkip
			}
			continue
		}
		inARow = 0
		if removed {
			res.Removed = append(res.Removed, Pruned{Tool: e.Tool, Key: e.Key})
		}
	}
	res.Next = ""
	return res, nil
}

// oldNames returns, sorted, the names after after of the regular *.json
// files in the directory modified before before.
func (l *Ledger) oldNames(before time.Time, after string) ([]string, error) {
	d, err := os.Open(l.dir)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	defer d.Close()
	var names []string
	for {
		chunk, err := d.ReadDir(1024)
		for _, de := range chunk {
			name := de.Name()
			if name <= after || !strings.HasSuffix(name, ".json") || !de.Type().IsRegular() {
				continue
			}
			if info, err := de.Info(); err == nil && info.ModTime().Before(before) {
				names = append(names, name)
			}
		}
		if errors.Is(err, io.EOF) || len(chunk) == 0 {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	slices.Sort(names)
	return names, nil
}

// pruneOne asks gone about e under its key's lock and removes its file if
// gone; false if it is not gone, or another process removed it first.
func (l *Ledger) pruneOne(ctx context.Context, e entry, gone func(ctx context.Context, tool, key string) (bool, error)) (bool, error) {
	unlock, err := l.keys.lock(ctx, e.Tool+"\x00"+e.Key)
	if err != nil {
		return false, err
	}
	defer unlock()
	if g, err := gone(ctx, e.Tool, e.Key); err != nil || !g {
		return false, err
	}
	err = os.Remove(l.path(e.Tool, e.Key))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // another worker sharing the directory pruned it
	}
	if err != nil {
		return false, fmt.Errorf("ledger: %w", err)
	}
	return true, nil
}

// readEntry reads the entry at path; ok is false if it is not one.
func readEntry(path string) (entry, bool) {
	data, err := os.ReadFile(path)
	if err != nil {
		return entry{}, false
	}
	var e entry
	if json.Unmarshal(data, &e) != nil || e.Key == "" || e.At.IsZero() {
		return entry{}, false
	}
	return e, true
}
