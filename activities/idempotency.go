package activities

import (
	"strconv"
	"strings"
)

// idempotencyKeyV2 starts the keys of calls whose workflow id or call id
// holds ':'.
const idempotencyKeyV2 = "v2:"

// IdempotencyKey is the key of a tool call's side effect: the blog tools'
// ledger entry, a delete_post tombstone's name, the owner of a post in its
// front matter and the webhook's Idempotency-Key header. Different
// (workflowID, callID) pairs always give different keys.
//
// When neither id holds ':', it is "workflowID:callID", as it has always
// been, so the keys of runs that started before this rule (a run may wait
// a month, across deploys) still find their ledger entries and send the
// CMS the same header. Such a key holds exactly one ':', and the ':' tells
// the ids apart. Otherwise a bare join would be ambiguous (workflow "wf:a"
// with call "b" and workflow "wf" with call "a:b" would both be
// "wf:a:b"), so the key is "v2:<bytes in workflowID>:workflowID:callID":
// the decimal length says where the workflow id ends, and the key holds at
// least three ':', so it can equal no key of the first form.
func IdempotencyKey(workflowID, callID string) string {
	if !strings.Contains(workflowID, ":") && !strings.Contains(callID, ":") {
		return workflowID + ":" + callID
	}
	return idempotencyKeyV2 + strconv.Itoa(len(workflowID)) + ":" + workflowID + ":" + callID
}

// IdempotencyKey returns the key of the call's side effect (see the
// function IdempotencyKey).
func (c ToolCall) IdempotencyKey() string { return IdempotencyKey(c.WorkflowID, c.CallID) }

// keyWorkflowIDs returns every workflow id key may be the IdempotencyKey
// of, for a pruner that must keep an entry while any of them is known: the
// part before each ':' that has something on both sides (the keys written
// before the "v2:" form joined both ids with ':' whatever they held), and,
// for a key of the "v2:" form, its workflow id.
func keyWorkflowIDs(key string) []string {
	var ids []string
	for i := 1; i < len(key)-1; i++ {
		if key[i] == ':' {
			ids = append(ids, key[:i])
		}
	}
	if rest, ok := strings.CutPrefix(key, idempotencyKeyV2); ok {
		n, tail, _ := strings.Cut(rest, ":")
		if l, err := strconv.Atoi(n); err == nil && l >= 0 && l < len(tail) && tail[l] == ':' {
			ids = append(ids, tail[:l])
		}
	}
	return ids
}
