package ablylocal

import (
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ably/ably-go/ably"
)

// BenchmarkPublishToDeliver publishes at about 1000 msgs/s from one
// ably-go client to another over loopback and reports the latency from
// publish to delivery.
func BenchmarkPublishToDeliver(b *testing.B) {
	for _, f := range testFormats {
		b.Run(f.name, func(b *testing.B) {
			fx := startServer(b, nil)
			sub := fx.realtimeKey(b, f.binary, testKey)
			pub := fx.realtimeKey(b, f.binary, testKey)
			var mu sync.Mutex
			lat := make([]time.Duration, 0, b.N)
			done := make(chan struct{})
			var got atomic.Int64
			unsub, err := sub.Channels.Get("bench").SubscribeAll(testCtx(b), func(m *ably.Message) {
				sent, err := strconv.ParseInt(m.Name, 10, 64)
				if err != nil {
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(time.Unix(0, sent)))
				mu.Unlock()
				if got.Add(1) == int64(b.N) {
					close(done)
				}
			})
			if err != nil {
				b.Fatal(err)
			}
			defer unsub()
			ch := pub.Channels.Get("bench")
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				<-tick.C
				if err := ch.PublishAsync(strconv.FormatInt(time.Now().UnixNano(), 10), "x", nil); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				b.Fatalf("delivered %d of %d", got.Load(), b.N)
			}
			b.StopTimer()
			mu.Lock()
			defer mu.Unlock()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			pct := func(p float64) float64 {
				return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}

// BenchmarkFanout publishes as fast as one ably-go client can to ten
// subscribers and reports delivered messages per second.
func BenchmarkFanout(b *testing.B) {
	const subscribers = 10
	fx := startServer(b, nil)
	var delivered atomic.Int64
	want := int64(b.N) * subscribers
	done := make(chan struct{})
	for i := 0; i < subscribers; i++ {
		c := fx.realtimeKey(b, true, testKey)
		unsub, err := c.Channels.Get("fan").SubscribeAll(testCtx(b), func(*ably.Message) {
			if delivered.Add(1) == want {
				close(done)
			}
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(unsub)
	}
	pub := fx.realtimeKey(b, true, testKey).Channels.Get("fan")
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := pub.PublishAsync("m", "payload", nil); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		b.Fatalf("delivered %d of %d", delivered.Load(), want)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(want)/elapsed.Seconds(), "msgs/s")
}
