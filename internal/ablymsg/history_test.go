package ablymsg

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"

	"github.com/hitl/durable-approvals/internal/ablylocal"
	"github.com/hitl/durable-approvals/internal/ablylocal/ablytest"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// HistoryUntilAttach against the local Ably server: Keep is asked as pages
// arrive and only kept messages come back, oldest first; MaxMessages
// counts every message read, kept or not.
func TestHistoryUntilAttach(t *testing.T) {
	opts, rest := historyClients(t)
	const channel = "history-test"
	// 30 messages, oldest first: every third is "keep-<i>", the others are
	// large junk.
	var want []string
	junk := strings.Repeat("x", 32<<10)
	for i := range 30 {
		m := &ably.Message{Name: fmt.Sprintf("junk-%d", i), Data: junk}
		if i%3 == 0 {
			m = &ably.Message{Name: fmt.Sprintf("keep-%d", i), Data: "small"}
			want = append(want, m.Name)
		}
		if err := rest.Channels.Get(channel).Publish(t.Context(), m.Name, m.Data); err != nil {
			t.Fatal(err)
		}
	}
	rt, err := ably.NewRealtime(append(opts, ably.WithAutoConnect(false))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	rt.Connect()
	ch := rt.Channels.Get(channel)
	if err := ch.Attach(t.Context()); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 5*time.Second, "the channel attached", func() bool { return ch.State() == ably.ChannelStateAttached })

	keep := func(m *ably.Message) bool { return strings.HasPrefix(m.Name, "keep-") }
	tests := []struct {
		name         string
		r            HistoryRange
		want         []string
		wantComplete bool
	}{
		{"all, kept only", HistoryRange{PageSize: 7, MaxMessages: 1000, Keep: keep}, want, true},
		// The newest 10 messages are 20..29; of them 21, 24, 27 are kept.
		{"cut after 10 read", HistoryRange{PageSize: 4, MaxMessages: 10, Keep: keep}, []string{"keep-21", "keep-24", "keep-27"}, false},
		{"exactly all read", HistoryRange{PageSize: 10, MaxMessages: 30, Keep: keep}, want, true},
		{"no filter", HistoryRange{PageSize: 100, MaxMessages: 2}, []string{"junk-28", "junk-29"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, complete, err := HistoryUntilAttach(t.Context(), ch, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range msgs {
				got = append(got, m.Name)
			}
			if !slices.Equal(got, tt.want) || complete != tt.wantComplete {
				t.Errorf("got %q complete=%v, want %q complete=%v", got, complete, tt.want, tt.wantComplete)
			}
		})
	}
}

// HistorySince reads up to the newest message, past the attach point,
// where HistoryUntilAttach stops at it.
func TestHistorySince(t *testing.T) {
	opts, rest := historyClients(t)
	const channel = "history-since-test"
	publish := func(name string) {
		t.Helper()
		if err := rest.Channels.Get(channel).Publish(t.Context(), name, "d"); err != nil {
			t.Fatal(err)
		}
	}
	publish("before-attach")
	ch := attachedChannel(t, opts, channel)
	publish("after-attach-1")
	publish("after-attach-2")
	names := func(msgs []*ably.Message) []string {
		var out []string
		for _, m := range msgs {
			out = append(out, m.Name)
		}
		return out
	}
	r := HistoryRange{PageSize: 2, MaxMessages: 100}
	msgs, complete, err := HistorySince(t.Context(), ch, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"before-attach", "after-attach-1", "after-attach-2"}; !slices.Equal(names(msgs), want) || !complete {
		t.Errorf("HistorySince = %q complete=%v, want %q complete=true", names(msgs), complete, want)
	}
	fwd := HistoryRange{PageSize: 2, MaxMessages: 2, Forwards: true}
	msgs, complete, err = HistorySince(t.Context(), ch, fwd)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"before-attach", "after-attach-1"}; !slices.Equal(names(msgs), want) || complete {
		t.Errorf("HistorySince forwards, 2 at most = %q complete=%v, want %q complete=false (the newest cut off)", names(msgs), complete, want)
	}
	msgs, _, err = HistoryUntilAttach(t.Context(), ch, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"before-attach"}; !slices.Equal(names(msgs), want) {
		t.Errorf("HistoryUntilAttach = %q, want %q", names(msgs), want)
	}
}

// historyClients starts a local Ably server and returns the options of a
// client with every right on it, and a REST client made with them.
func historyClients(t *testing.T) ([]ably.ClientOption, *ably.REST) {
	t.Helper()
	srv := ablytest.Start(t, ablylocal.Config{})
	opts, err := srv.Conn.TrustedOptions("publisher", "")
	if err != nil {
		t.Fatal(err)
	}
	rest, err := ably.NewREST(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return opts, rest
}

// attachedChannel is channel attached by a realtime client of opts.
func attachedChannel(t *testing.T, opts []ably.ClientOption, channel string) *ably.RealtimeChannel {
	t.Helper()
	rt, err := ably.NewRealtime(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	ch := rt.Channels.Get(channel)
	if err := ch.Attach(t.Context()); err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestHistoryReadFailures: a read that fails after its first page is an
// error, not the messages read so far as all there are (the bridge would
// take a partial catch-up as complete); HistoryUntilAttach refuses to read
// forwards.
func TestHistoryReadFailures(t *testing.T) {
	opts, rest := historyClients(t)
	const channel = "history-failure-test"
	for i := range 5 {
		if err := rest.Channels.Get(channel).Publish(t.Context(), fmt.Sprint("m-", i), "d"); err != nil {
			t.Fatal(err)
		}
	}
	ch := attachedChannel(t, opts, channel)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	// The first page's Keep ends the context: the second page fails.
	r := HistoryRange{PageSize: 2, MaxMessages: 100, Keep: func(*ably.Message) bool { cancel(); return true }}
	if msgs, complete, err := HistorySince(ctx, ch, r); err == nil {
		t.Errorf("HistorySince with its second page failed = %d messages, complete=%v, no error", len(msgs), complete)
	}
	if _, _, err := HistoryUntilAttach(t.Context(), ch, HistoryRange{PageSize: 2, MaxMessages: 100, Forwards: true}); err == nil {
		t.Error("HistoryUntilAttach forwards: no error")
	}
}

// TestHistorySinceStart: Since is the oldest publish time read.
func TestHistorySinceStart(t *testing.T) {
	opts, rest := historyClients(t)
	const channel = "history-start-test"
	if err := rest.Channels.Get(channel).Publish(t.Context(), "old", "d"); err != nil {
		t.Fatal(err)
	}
	ch := attachedChannel(t, opts, channel)
	all, _, err := HistorySince(t.Context(), ch, HistoryRange{PageSize: 10, MaxMessages: 10})
	if err != nil || len(all) != 1 {
		t.Fatalf("HistorySince = %d messages, %v", len(all), err)
	}
	// The next message is published in a later millisecond than the first.
	since := time.UnixMilli(all[0].Timestamp + 1)
	testutil.Eventually(t, 5*time.Second, "the clock past the first message", func() bool { return time.Now().After(since) })
	if err := rest.Channels.Get(channel).Publish(t.Context(), "new", "d"); err != nil {
		t.Fatal(err)
	}
	for _, forwards := range []bool{false, true} {
		msgs, complete, err := HistorySince(t.Context(), ch, HistoryRange{Since: since, PageSize: 10, MaxMessages: 10, Forwards: forwards})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range msgs {
			got = append(got, m.Name)
		}
		if !slices.Equal(got, []string{"new"}) || !complete {
			t.Errorf("HistorySince(since the second message, forwards %v) = %q complete=%v, want [new] complete=true", forwards, got, complete)
		}
	}
}
