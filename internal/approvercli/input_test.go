package approvercli

import (
	"io"
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
