package activities

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hitl/durable-approvals/internal/ledger"
)

// RunKnown reports whether Temporal still knows the workflow run of id
// (open, or closed and within the namespace's retention): while it does,
// a retry, a replay or a reset may run its tool calls again.
type RunKnown func(ctx context.Context, workflowID string) (bool, error)

// Prune removes the ledger entries, and the delete_post tombstones, of tool
// calls written before before whose runs Temporal no longer knows: no
// attempt of those calls can come again, so nothing needs their results.
// It goes on from the cursor after and examines at most max old entries
// (ledger.Prune says how). An entry's key is the call's IdempotencyKey;
// every workflow id it may be the key of is asked (keyWorkflowIDs: keys
// written before the "v2:" form joined ids that may hold ':'), and the
// entry stays while any of them is known. A tombstone goes before
// its entry, so that a crash between the two leaves the entry, which the
// next pass removes.
func (b *Blog) Prune(ctx context.Context, before time.Time, after string, max int, known RunKnown) (ledger.PruneResult, error) {
	return b.ledger.Prune(ctx, before, after, max, func(ctx context.Context, tool, key string) (bool, error) {
		g, err := keyGone(ctx, key, known)
		if err != nil || !g || tool != ToolDeletePost {
			return g, err
		}
		tomb := filepath.Join(b.dir, deletedDirName, keyHash(key)+".md")
		if err := os.Remove(tomb); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("blog: prune: %w", err)
		}
		return true, nil
	})
}

// keyGone reports whether no run a ledger key may belong to is known.
func keyGone(ctx context.Context, key string, known RunKnown) (bool, error) {
	ids := keyWorkflowIDs(key)
	for _, id := range ids {
		if k, err := known(ctx, id); err != nil || k {
			return false, err
		}
	}
	return len(ids) > 0, nil
}
