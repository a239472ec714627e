package approvercli

import (
	"bufio"
	"io"
	"time"
)

// inputLine is one line the approver typed and when its newline arrived,
// so that the screen can tell a line typed before a request was shown
// (a double Enter, a paste of "y\ny\n") from an answer to it.
type inputLine struct {
	text string
	at   time.Time // monotonic: compare only with time.Now
}

// lineBuffer is how many lines may wait for the screen. The reader never
// waits for the screen, so a line is stamped when it arrives, not when the
// screen gets round to it: a line that finds the buffer full is dropped.
// The buffer fills only while the screen is busy (sending a decision), and
// every line typed then was typed before the next request was shown, which
// the screen would ignore anyway.
const lineBuffer = 16

// readLines sends in's lines until EOF (then closes the channel) or done.
func readLines(in io.Reader, done <-chan struct{}) <-chan inputLine {
	lines := make(chan inputLine, lineBuffer)
	go func() {
		defer close(lines)
		sr := &stampedReader{r: in}
		sc := bufio.NewScanner(sr)
		sc.Buffer(make([]byte, 4096), 64<<10)
		for sc.Scan() {
			// The Scanner reads more only when it holds no complete line,
			// so the last Read is the one that brought this line's newline.
			select {
			case lines <- inputLine{text: sc.Text(), at: sr.last}:
			case <-done:
				return
			default:
				// Typed ahead while the screen was busy: see lineBuffer.
			}
		}
	}()
	return lines
}

// stampedReader records when the last Read that returned bytes returned.
// It is used by one goroutine only.
type stampedReader struct {
	r    io.Reader
	last time.Time
}

func (s *stampedReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.last = time.Now()
	}
	return n, err
}
