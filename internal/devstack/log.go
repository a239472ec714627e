package devstack

import (
	"io"
	"log/slog"
)

// discardLogger silences the Temporal SDK's own logs in the devstack's
// client.
func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
