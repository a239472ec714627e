package devstack

import "errors"

// ErrStateInUse is returned by Up and ProdUp when another devstack
// process holds the same work directory: two stacks on one directory would
// run two Temporal servers on one database (they join each other's
// cluster through it), or two PostgreSQL servers on one data directory,
// and write the same logs.
var ErrStateInUse = errors.New("work directory in use")

// stateLockFile is the file in the state directory that a running stack
// holds locked; it names the holder's pid.
const stateLockFile = "devstack.lock"
