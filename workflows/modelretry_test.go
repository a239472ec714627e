package workflows

import (
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
)

// The model's provider goes down right after a human approved a call and
// its tool ran: the run tries the model's next turn again over the
// worker's window (ModelRetry, recorded at its start), and completes if
// the provider is back within it.
func TestModelOutageAfterApproval(t *testing.T) {
	def := DefaultModelRetry()
	short := ModelRetry{For: 2 * time.Minute}
	unavailable := errors.New("openai: 503 Service Unavailable (retryable): The server is overloaded")
	tests := []struct {
		name  string
		retry *ModelRetry // the worker's, recorded at the run's start
		down  time.Duration
		err   error // the model's error while it is down
		// wantErr, if set, is the run's failure; else the run completes.
		wantErr string
		// attempts bounds the model calls of turn 2.
		minAttempts, maxAttempts int
	}{
		{"back within the window", &def, 20 * time.Minute, unavailable, "", 20, 30},
		// The run's failure says that Temporal gave up, and why: not the
		// last attempt's "(retryable)".
		{"down past a configured window", &short, 20 * time.Minute, unavailable, "model call, turn 2: openai: 503 Service Unavailable: The server is overloaded; gave up after 7 attempts (HITL_MODEL_RETRY_FOR 2m0s when the run started)", 7, 7},
		// Runs recorded before the worker decided it keep their 5 attempts.
		{"run recorded without a retry", nil, 20 * time.Minute, unavailable, "model call, turn 2: openai: 503 Service Unavailable: The server is overloaded; gave up after 5 attempts", 5, 5},
		// Out of bounds (never from a worker of ours): the retry of before.
		{"retry out of bounds", &ModelRetry{For: MaxModelRetryFor + time.Hour}, 20 * time.Minute, unavailable, "model call, turn 2: openai: 503 Service Unavailable: The server is overloaded; gave up after 5 attempts", 5, 5},
		{"refused for good", &def, 20 * time.Minute, temporal.NewNonRetryableApplicationError("openai: 401 Unauthorized: check OPENAI_API_KEY", ErrTypeModel, nil), "model call, turn 2: openai: 401 Unauthorized: check OPENAI_API_KEY", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.env.SetTestTimeout(time.Minute)
			h.modelRetry = tt.retry
			h.decide(time.Minute, approve("call_1", "alice", "publisher", "m1"))
			scripted := script(calls(publishCall("call_1")), answer("published"))
			var downSince time.Time
			h.model = func(req ModelRequest) (ModelResponse, error) {
				if req.Turn == 2 {
					now := h.env.Now()
					if downSince.IsZero() {
						downSince = now
					}
					if now.Sub(downSince) < tt.down {
						return ModelResponse{}, tt.err
					}
				}
				return scripted(req)
			}

			res, err := h.runErr(AgentInput{Policy: testPolicy(t)})

			if len(h.tools()) != 1 {
				t.Fatalf("the tool ran %d times, want once before the model's outage", len(h.tools()))
			}
			turn2 := 0
			for _, r := range h.models() {
				if r.Turn == 2 {
					turn2++
				}
			}
			if turn2 < tt.minAttempts || turn2 > tt.maxAttempts {
				t.Errorf("model calls of turn 2 = %d, want %d to %d", turn2, tt.minAttempts, tt.maxAttempts)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("run failed: %v", err)
				}
				if res.Answer != "published" {
					t.Errorf("answer = %q, want the model's once it is back", res.Answer)
				}
				return
			}
			// The run's failure, as the Web UI and starter --wait show it.
			var failure *temporal.ApplicationError
			if !errors.As(err, &failure) || failure.Message() != tt.wantErr {
				t.Fatalf("run error = %v, want the failure %q", err, tt.wantErr)
			}
		})
	}
}

func TestModelRetryValidate(t *testing.T) {
	tests := []struct {
		retry ModelRetry
		ok    bool
	}{
		{DefaultModelRetry(), true},
		{ModelRetry{For: MinModelRetryFor}, true},
		{ModelRetry{For: MaxModelRetryFor}, true},
		{ModelRetry{For: MinModelRetryFor - time.Second}, false},
		{ModelRetry{For: MaxModelRetryFor + time.Second}, false},
		{ModelRetry{}, false},
		{ModelRetry{For: time.Hour, AttemptTimeout: MinModelAttemptTimeout}, true},
		{ModelRetry{For: time.Hour, AttemptTimeout: MaxModelAttemptTimeout}, true},
		{ModelRetry{For: time.Hour, AttemptTimeout: MinModelAttemptTimeout - time.Second}, false},
		{ModelRetry{For: time.Hour, AttemptTimeout: MaxModelAttemptTimeout + time.Second}, false},
	}
	for _, tt := range tests {
		if err := tt.retry.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v.Validate() = %v, want ok %v", tt.retry, err, tt.ok)
		}
	}
}

func TestModelAttemptsWithin(t *testing.T) {
	tests := []struct {
		window time.Duration
		want   int32
	}{
		{MinModelRetryFor, 6},        // 31 s of waits (1+2+4+8+16); 32 s more would pass it
		{DefaultModelRetryFor, 65},   // 63 s of doubling waits, then 58 of a minute
		{MaxModelRetryFor, 7 + 1438}, // 63 s, then (86400-63)/60 = 1438 waits of a minute
	}
	for _, tt := range tests {
		if got := modelAttemptsWithin(tt.window); got != tt.want {
			t.Errorf("modelAttemptsWithin(%s) = %d, want %d", tt.window, got, tt.want)
		}
	}
}

// A model call has no ScheduleToClose (nor ScheduleToStart) bound: one
// would count the time the call waits for a worker, and a run whose
// workers were all down for longer would fail once one is back. The
// window is counted in attempts.
func TestModelCallWaitsForAWorker(t *testing.T) {
	def, short, long := DefaultModelRetry(), ModelRetry{For: MinModelRetryFor}, ModelRetry{For: MaxModelRetryFor}
	for _, retry := range []*ModelRetry{nil, &def, &short, &long} {
		o := modelActivityOptions(1, retry)
		if o.ScheduleToCloseTimeout != 0 || o.ScheduleToStartTimeout != 0 {
			t.Errorf("retry %+v: ScheduleToClose %s, ScheduleToStart %s; want neither", retry, o.ScheduleToCloseTimeout, o.ScheduleToStartTimeout)
		}
		if o.StartToCloseTimeout != DefaultModelAttemptTimeout || o.RetryPolicy.MaximumAttempts < 1 {
			t.Errorf("retry %+v: StartToClose %s, %d attempts", retry, o.StartToCloseTimeout, o.RetryPolicy.MaximumAttempts)
		}
	}
}

// An attempt of a model call is bounded by the run's recorded
// AttemptTimeout (a reasoning model may think for longer than the
// default); a run recorded without it, or with one out of bounds (never
// from a worker of ours), gets the default.
func TestModelAttemptTimeout(t *testing.T) {
	tests := []struct {
		name  string
		retry *ModelRetry
		want  time.Duration
	}{
		{"none recorded", nil, DefaultModelAttemptTimeout},
		{"recorded before it", &ModelRetry{For: time.Hour}, DefaultModelAttemptTimeout},
		{"the worker's default", ptr(DefaultModelRetry()), DefaultModelAttemptTimeout},
		{"configured longer", &ModelRetry{For: time.Hour, AttemptTimeout: 10 * time.Minute}, 10 * time.Minute},
		{"configured shorter", &ModelRetry{For: time.Hour, AttemptTimeout: MinModelAttemptTimeout}, MinModelAttemptTimeout},
		{"out of bounds", &ModelRetry{For: time.Hour, AttemptTimeout: MaxModelAttemptTimeout + time.Second}, DefaultModelAttemptTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := modelActivityOptions(1, tt.retry).StartToCloseTimeout; got != tt.want {
				t.Errorf("StartToClose = %s, want %s", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
