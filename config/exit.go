package config

import "errors"

// Exit statuses of the mains, the same in each: ExitError for a failure,
// ExitUsage for bad input on the command line or in the environment (a
// flag, a variable, the policy file it names), which running again
// unchanged cannot fix. approver has kept these numbers from the start.
const (
	ExitError = 1
	ExitUsage = 2
)

// usageError marks bad input: ExitCode returns ExitUsage for it.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Usage marks err, when not nil, as bad input on the command line or in
// the environment.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err: err}
}

// ExitCode is a main's exit status for err: 0 for nil, ExitUsage for an
// error marked by Usage (anywhere in its chain), 128 and the signal's
// number for one that wraps an Interrupted (a command a signal cut short),
// ExitError otherwise.
func ExitCode(err error) int {
	var ue usageError
	var in Interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &in):
		return in.exitStatus()
	default:
		return ExitError
	}
}
