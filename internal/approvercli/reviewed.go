package approvercli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hitl/durable-approvals/internal/termtext"
	"github.com/hitl/durable-approvals/workflows"
)

// An approval from the command line names the arguments the approver
// reviewed: `approver list` and the watch screen show the start of each
// request's digest ("Digest: sha256:<16 hex>…"), and `approver approve
// --digest` gives it back. Without it, an approval is refused once the
// arguments were edited since the agent published them, since the
// approver may have read the earlier ones.

// MinDigestPrefix is the fewest hex digits --digest takes: all that list
// shows. 64 bits cannot be matched by grinding edited arguments until their
// digest starts like the reviewed one; 32 could, in minutes.
const MinDigestPrefix = 16

// digestPrefix returns the lower-case hex digits of a --digest value: the
// start of an arguments digest, with or without "sha256:", as list shows
// it (a trailing "…" is dropped).
func digestPrefix(s string) (string, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimSuffix(s, "…"), "...")
	hex := strings.TrimPrefix(strings.ToLower(s), workflows.ArgumentsDigestPrefix)
	if len(hex) < MinDigestPrefix || len(hex) > 64 {
		return "", fmt.Errorf("digest %q: want the Digest `approver list` shows, at least %d hex digits", s, MinDigestPrefix)
	}
	for i := 0; i < len(hex); i++ {
		if c := hex[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("digest %q: not hex", s)
		}
	}
	return hex, nil
}

// errNoDigest is a --digest for a request that names no digest.
var errNoDigest = errors.New("the request names no argumentsDigest to compare --digest with")

// argumentsEdited reports whether r's arguments are not the ones the agent
// first published: an approver edited them, or (defensively) the digest
// differs from the oldest revision this CLI saw.
func argumentsEdited(r Request) bool {
	return r.EditedBy != nil || r.ArgumentsDigest != r.FirstDigest
}

// reviewRefusal says why an approval of r is not sent, for want of proof
// that the approver reviewed r's arguments, or "". digest is the --digest
// value (checked by DecideArgs.Validate); editing says the approval carries
// arguments of its own (--edit shows the pending ones, --arguments
// replaces them), which bind the digest of what they edit.
func reviewRefusal(r Request, digest string, editing bool) string {
	if digest != "" {
		hex, err := digestPrefix(digest)
		switch {
		case err != nil:
			return err.Error()
		case r.ArgumentsDigest == "":
			return errNoDigest.Error()
		case !strings.HasPrefix(r.ArgumentsDigest, workflows.ArgumentsDigestPrefix+hex):
			return fmt.Sprintf("the pending arguments of %s are not the ones you reviewed (--digest %s): review them again with `approver list`", termtext.Line(r.ToolCallID), termtext.Line(digest))
		}
		return ""
	}
	if editing || !argumentsEdited(r) {
		return ""
	}
	by := "someone"
	if e := r.EditedBy; e != nil {
		by = fmt.Sprintf("%s (%s)", termtext.Line(e.ClientID), termtext.Line(e.Role))
	}
	return fmt.Sprintf("the arguments of %s were edited by %s after the agent published them: review them with `approver list`, then approve with --digest and the Digest shown there", termtext.Line(r.ToolCallID), by)
}

// validateDigest checks a's --digest, as far as it can without the
// request.
func validateDigest(a DecideArgs) error {
	if a.Digest == "" {
		return nil
	}
	switch {
	case a.Decision != workflows.DecisionApproved:
		return errors.New("--digest names the arguments an approval approves: not for a rejection")
	case a.Force:
		return errors.New("--digest needs the pending request to compare with: not with --force")
	}
	if _, err := digestPrefix(a.Digest); err != nil {
		return fmt.Errorf("--digest: %w", err)
	}
	return nil
}
