package main

import (
	"io"
	"log/slog"
)

// discardLogger keeps the SDK's own logging off the starter's terminal;
// the starter reports through its return values.
func discardLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
