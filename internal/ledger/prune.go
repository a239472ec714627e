package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Pruned is an entry Prune removed.
type Pruned struct{ Tool, Key string }

// Prune removes entries written before before whose key gone reports as
// gone for good: nothing can run its side effect again (for a key of a
// workflow run, the run is no longer known to Temporal: no retry, replay or
// reset can reach it). It examines the entries in name order, starting
// after the name after (empty: from the first), at most max of those written
// before before, and returns the entries it removed and where the next call
// goes on ("" once it reached the end). A file modified since before is
// not read (entries are written once); a file that is not an entry is left
// alone. Entries of one key are never removed while Once runs for it in
// this process; gone must answer false whenever it is not sure.
func (l *Ledger) Prune(ctx context.Context, before time.Time, after string, max int,
	gone func(ctx context.Context, tool, key string) (bool, error)) (removed []Pruned, next string, err error) {
	names, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, after, fmt.Errorf("ledger: %w", err)
	}
	examined := 0
	for _, de := range names {
		name := de.Name()
		if name <= after || !strings.HasSuffix(name, ".json") || !de.Type().IsRegular() {
			continue
		}
		// An entry is written once: a file changed since before holds
		// none older, and is not read.
		if info, err := de.Info(); err != nil || !info.ModTime().Before(before) {
			continue
		}
		if examined == max {
			return removed, next, nil
		}
		examined++
		next = name
		if err := ctx.Err(); err != nil {
			return removed, next, err
		}
		e, ok := readEntry(filepath.Join(l.dir, name))
		if !ok || !e.At.Before(before) || name != hash(e.Tool+"\x00"+e.Key)+".json" {
			continue
		}
		g, err := gone(ctx, e.Tool, e.Key)
		if err != nil {
			return removed, next, fmt.Errorf("ledger: is %s %q gone: %w", e.Tool, e.Key, err)
		}
		if !g {
			continue
		}
		ok, err = l.remove(ctx, e)
		if err != nil {
			return removed, next, err
		}
		if ok {
			removed = append(removed, Pruned{Tool: e.Tool, Key: e.Key})
		}
	}
	return removed, "", nil
}

// remove deletes e's file under its key's lock; false if it was gone.
func (l *Ledger) remove(ctx context.Context, e entry) (bool, error) {
	unlock, err := l.keys.lock(ctx, e.Tool+"\x00"+e.Key)
	if err != nil {
		return false, err
	}
	defer unlock()
	err = os.Remove(filepath.Join(l.dir, hash(e.Tool+"\x00"+e.Key)+".json"))
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
