package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RunKnown reports whether Temporal still knows the workflow run of id
// (open, or closed and within the namespace's retention): while it does,
// a retry, a replay or a reset may run its tool calls again.
type RunKnown func(ctx context.Context, workflowID string) (bool, error)

// Prune removes the ledger entries, and the delete_post tombstones, of tool
// calls written before before whose runs Temporal no longer knows: no
// attempt of those calls can come again, so nothing needs their results.
// It goes on from the cursor after, examines at most max old entries and
// returns how many it removed and the cursor of the next call ("" at the
// end: start again). An entry's key is the call's IdempotencyKey,
// "<workflow id>:<call id>"; both may hold ':', so every split is asked
// and the entry stays while any of them is known.
func (b *Blog) Prune(ctx context.Context, before time.Time, after string, max int, known RunKnown) (removed int, next string, err error) {
	pruned, next, err := b.ledger.Prune(ctx, before, after, max, func(ctx context.Context, _, key string) (bool, error) {
		return keyGone(ctx, key, known)
	})
	for _, p := range pruned {
		if p.Tool != ToolDeletePost {
			continue
		}
		tomb := filepath.Join(b.dir, deletedDirName, keyHash(p.Key)+".md")
		if rerr := os.Remove(tomb); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("blog: prune: %w", rerr)
		}
	}
	return len(pruned), next, err
}

// keyGone reports whether no run a ledger key may belong to is known.
func keyGone(ctx context.Context, key string, known RunKnown) (bool, error) {
	asked := false
	for i := strings.IndexByte(key, ':'); i >= 0; {
		if id := key[:i]; id != "" && i < len(key)-1 {
			asked = true
			k, err := known(ctx, id)
			if err != nil || k {
				return false, err
			}
		}
		j := strings.IndexByte(key[i+1:], ':')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return asked, nil
}
