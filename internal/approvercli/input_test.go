package approvercli

import (
	"io"
	"strings"
	"testing"
	"time"
)

// A line is stamped when its newline arrives: lines that arrive together
// share a stamp, and a line finished by a later write carries that write's
// time.
func TestReadLinesStampsArrival(t *testing.T) {
	inR, inW := io.Pipe()
	t.Cleanup(func() { inW.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	lines := readLines(inR, done)

	before := time.Now()
	io.WriteString(inW, "y\ny\npart")
	first, second := <-lines, <-lines
	if first.text != "y" || second.text != "y" || first.at.Before(before) || !first.at.Equal(second.at) {
		t.Fatalf("lines %+v, %+v: want two y stamped together after %v", first, second, before)
	}
	later := time.Now()
	io.WriteString(inW, "ial\n")
	third := <-lines
	if third.text != "partial" || third.at.Before(later) {
		t.Fatalf("line %+v: want %q stamped after %v, when its newline arrived", third, "partial", later)
	}
	inW.Close()
	if l, ok := <-lines; ok {
		t.Fatalf("line %+v after EOF", l)
	}
}

// A line that finds the buffer full is dropped rather than held: the
// reader never waits for the screen, so it stays in Read, and a line typed
// later is stamped when it arrives.
func TestReadLinesDropsWhenFull(t *testing.T) {
	inR, inW := io.Pipe()
	t.Cleanup(func() { inW.Close() })
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	lines := readLines(inR, done)

	// The screen is busy: nobody takes lines. Each write completes only
	// once the reader is back in Read, so by the end of the third one it
	// has handled every line before "x": the y beyond the buffer and z.
	write := func(text string) {
		t.Helper()
		wrote := make(chan struct{})
		go func() {
			io.WriteString(inW, text)
			close(wrote)
		}()
		select {
		case <-wrote:
		case <-time.After(10 * time.Second):
			t.Fatalf("writing %q: the reader did not come back to Read: it waits for the screen", text)
		}
	}
	write(strings.Repeat("y\n", lineBuffer+5))
	write("z\n")
	write("x\n")
	for i := range lineBuffer {
		if l := <-lines; l.text != "y" {
			t.Fatalf("line %d = %+v, want y", i, l)
		}
	}
	later := time.Now()
	write("w\n")
	l := <-lines
	if l.text == "x" { // handled before or after the screen took the y lines
		l = <-lines
	}
	if l.text != "w" || l.at.Before(later) {
		t.Fatalf("line %+v after the buffered ones: want w, stamped after %v (the y beyond the buffer and z dropped)", l, later)
	}
}
