package ablylocal

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestTwoResumesOfOneKeyAtOnce: two clients resume one connection key at
// once (a client and a copy of its recovery key, RTN16, or a client that
// retried). The one that gets the connection first is issued a new key
// and the old one retired (RTN15e); the other, waiting for the connection
// while the first holds it, does not take it over once the first's
// transport ends: it finds the key retired and gets a new connection, with
// 80008 (resume.go). Each trial starts the two resumes together while the
// connection's first transport is still up; the second must then wait for
// the first resume's transport, which the test ends, in the trials where
// it looked the key up before the first retired it. Which trials those are
// is up to the scheduler, hence many trials (one in a few, measured).
func TestTwoResumesOfOneKeyAtOnce(t *testing.T) {
	fx := startServer(t, nil)
	type frame struct {
		ws  *websocket.Conn
		m   map[string]any
		err error
	}
	// resume dials with resume=key and reads the CONNECTED frame (or
	// whatever comes first that is not a heartbeat).
	resume := func(ctx context.Context, key string, out chan<- frame) {
		q := url.Values{"key": {testKey}, "resume": {key}, "format": {"json"}}
		ws, _, err := websocket.Dial(ctx, "ws://"+fx.srv.Addr()+"/?"+q.Encode(), nil)
		if err != nil {
			out <- frame{err: err}
			return
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				out <- frame{ws: ws, err: err}
				return
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				out <- frame{ws: ws, err: err}
				return
			}
			if action(m) != actionHeartbeat {
				out <- frame{ws: ws, m: m}
				return
			}
		}
	}
	const trials = 200
	for trial := range trials {
		c0 := dialRaw(t, fx, url.Values{"key": {testKey}})
		m := c0.next()
		id, _ := m["connectionId"].(string)
		details, _ := m["connectionDetails"].(map[string]any)
		key, _ := details["connectionKey"].(string)
		if id == "" || key == "" {
			t.Fatalf("connected = %v", m)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		t.Cleanup(cancel)
		frames := make(chan frame, 2)
		for range 2 {
			go resume(ctx, key, frames)
		}
		resumed, refused := 0, 0
		for range 2 {
			var f frame
			select {
			case f = <-frames:
			case <-ctx.Done():
				t.Fatalf("trial %d: no CONNECTED for both resumes", trial)
			}
			if f.ws != nil {
				t.Cleanup(func() { f.ws.CloseNow() })
			}
			if f.err != nil {
				t.Fatalf("trial %d: resume: %v", trial, f.err)
			}
			code, status := errCode(f.m)
			switch {
			case action(f.m) != actionConnected:
				t.Fatalf("trial %d: got %v, want CONNECTED", trial, f.m)
			case f.m["connectionId"] == id && f.m["error"] == nil:
				resumed++
				// Its transport ends (a dropped socket, not a CLOSE): a
				// resume still waiting for the connection may go on.
				f.ws.CloseNow()
			case f.m["connectionId"] != id && code == codeResumeExpired && status == 400:
				refused++
			default:
				t.Fatalf("trial %d: got %v, want the connection resumed, or a new one with %d/400", trial, f.m, codeResumeExpired)
			}
		}
		if resumed != 1 || refused != 1 {
			t.Fatalf("trial %d: %d resumes got the connection and %d were refused; want one and one", trial, resumed, refused)
		}
	}
}
