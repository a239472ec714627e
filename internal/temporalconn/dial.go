// Package temporalconn owns how the project's long-running programs (the
// worker and the bridge) reach Temporal at start: they wait for a server
// that is not up yet, as they would for one that restarts while they run,
// and give up at once on an answer that waiting cannot change (credentials
// refused, a namespace that does not exist or lacks the workflow's search
// attributes), rather than run and look healthy while every run fails.
package temporalconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"google.golang.org/grpc/codes"

	"github.com/hitl/durable-approvals/workflows"
)

// ErrRefused marks a dial that the server answered with a refusal that
// retrying cannot mend: the credentials (API key, client certificate) or
// the request were rejected.
var ErrRefused = errors.New("refused")

// Dial connects to Temporal and checks that opts.Namespace exists and has
// the workflow's search attributes (workflows.SearchAttributes), retrying
// with capped exponential backoff while the server is unreachable or
// unavailable, until it answers or ctx is done. A refusal
// (unauthenticated, permission denied, invalid argument) is returned at
// once, wrapping ErrRefused, and so is a namespace that does not exist or
// lacks a search attribute (ErrNamespace). opts must be complete (see
// config.TemporalOptions, which fills the defaults); a nil opts.Logger
// logs to log, and a nil log to slog.Default.
func Dial(ctx context.Context, opts client.Options, log *slog.Logger) (client.Client, error) {
	return dial(ctx, opts, log, namespaceGrace)
}

// namespaceGrace is how long a namespace that looks missing or without its
// search attributes is asked again before Dial gives up: a namespace or
// attributes created just before (compose's setup, then the workers) take
// a few seconds to reach every frontend.
const namespaceGrace = 30 * time.Second

func dial(ctx context.Context, opts client.Options, log *slog.Logger, grace time.Duration) (client.Client, error) {
	start := time.Now()
	if log == nil {
		log = slog.Default()
	}
	if opts.Logger == nil {
		opts.Logger = tlog.NewStructuredLogger(log.With("component", "temporal"))
	}
	var c client.Client
	for attempt := 0; ; attempt++ {
		var err error
		if c == nil {
			c, err = client.DialContext(ctx, opts)
		}
		if err == nil {
			err = CheckNamespace(ctx, c, opts.Namespace)
			if err == nil {
				if attempt > 0 {
					log.Info("temporal reachable", "address", opts.HostPort, "namespace", opts.Namespace, "attempts", attempt+1)
				}
				return c, nil
			}
		}
		fail := func(err error) (client.Client, error) {
			if c != nil {
				c.Close()
			}
			return nil, fmt.Errorf("temporal at %s: %w", opts.HostPort, err)
		}
		notReady := errors.Is(err, ErrNamespace) // it wraps the server's InvalidArgument too
		switch {
		case ctx.Err() != nil:
			// Stopped during a call rather than between two: the call's
			// error need not say so (gRPC's deadline status does not
			// wrap the context's error), as the wait's below does.
			return fail(fmt.Errorf("%w (last error: %w)", ctx.Err(), err))
		case notReady && time.Since(start) >= grace:
			return fail(err)
		case !notReady && refused(err):
			return fail(fmt.Errorf("%w: %w", ErrRefused, err))
		}
		d := Backoff{}.Delay(attempt)
		if notReady {
			log.Warn("temporal namespace not usable yet, asking again", "address", opts.HostPort, "namespace", opts.Namespace, "err", err, "in", d)
		} else {
			log.Warn("temporal unreachable, retrying", "address", opts.HostPort, "namespace", opts.Namespace, "err", err, "in", d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fail(fmt.Errorf("%w (last error: %w)", ctx.Err(), err))
		case <-t.C:
		}
	}
}

// ErrNamespace marks a namespace that does not exist, or lacks a search
// attribute the workflow upserts: every run would fail.
var ErrNamespace = errors.New("namespace not usable")

// WaitNamespace asks CheckNamespace again, with Backoff's delays, while it
// answers ErrNamespace (a namespace or search attributes that this
// frontend may not know yet: just made, or the server just restarted),
// until it answers otherwise or ctx is done. It returns the last answer,
// wrapped in ctx's error if that came first.
func WaitNamespace(ctx context.Context, c client.Client, namespace string) error {
	for attempt := 0; ; attempt++ {
		err := CheckNamespace(ctx, c, namespace)
		if !errors.Is(err, ErrNamespace) {
			return err
		}
		t := time.NewTimer(Backoff{}.Delay(attempt))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last answer: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// CheckNamespace asks the namespace's visibility for a query over every
// search attribute of the workflow: the server refuses a query that names
// an attribute it does not know, and a namespace it does not have (both
// wrap ErrNamespace). It needs no more than the visibility reads the
// bridge makes anyway.
func CheckNamespace(ctx context.Context, c client.Client, namespace string) error {
	var terms []string
	for _, k := range workflows.SearchAttributes() {
		switch k.GetValueType() {
		case enumspb.INDEXED_VALUE_TYPE_INT:
			terms = append(terms, k.GetName()+" > 0")
		default:
			terms = append(terms, k.GetName()+" = '-'")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := c.CountWorkflow(cctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: namespace, Query: strings.Join(terms, " AND ")})
	if err == nil {
		return nil
	}
	var notFound *serviceerror.NamespaceNotFound
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: namespace %q does not exist (TEMPORAL_NAMESPACE): %w", ErrNamespace, namespace, err)
	case serviceerror.ToStatus(err).Code() == codes.InvalidArgument:
		return fmt.Errorf("%w: namespace %q lacks the workflow's search attributes %s; register them with `temporal operator search-attribute create --namespace %s --name NAME --type TYPE` for each (Temporal said: %w)",
			ErrNamespace, namespace, strings.Join(workflows.SearchAttributeSpecs(), ", "), namespace, err)
	}
	return err
}

// refused reports whether err is the server's refusal rather than its
// absence: waiting for it would only repeat the same answer.
func refused(err error) bool {
	switch serviceerror.ToStatus(err).Code() {
	case codes.Unauthenticated, codes.PermissionDenied, codes.InvalidArgument:
		return true
	}
	return false
}
