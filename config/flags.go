package config

import (
	"flag"
	"fmt"
	"io"
)

// NewFlagSet is the flag set of a main's command name. Its parse errors
// are only returned, for the main to print once as its one error line
// (the flag package would print each one too, before the usage); on such
// an error, as on -h, it writes header (default "Usage of NAME:") and the
// flags with their defaults to stderr.
func NewFlagSet(name, header string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		if header == "" {
			header = "Usage of " + name + ":"
		}
		fmt.Fprintln(stderr, header)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}
