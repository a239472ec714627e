package spareport

import (
	"net"
	"strconv"
	"testing"
)

func TestPickGivesDistinctBindablePortsInRange(t *testing.T) {
	r := BelowEphemeral()
	if r.Low <= 1024 || r.High < r.Low+1000 {
		t.Fatalf("BelowEphemeral = %d-%d, want at least 1000 unprivileged ports", r.Low, r.High)
	}
	ports, err := Pick("127.0.0.1", 20, r)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p < r.Low || p > r.High {
			t.Errorf("port %d outside %d-%d", p, r.Low, r.High)
		}
		if seen[p] {
			t.Errorf("port %d picked twice", p)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			t.Errorf("port %d is not free after Pick: %v", p, err)
			continue
		}
		ln.Close()
	}
}

func TestPickRefusesImpossibleRequests(t *testing.T) {
	for _, tt := range []struct {
		name string
		n    int
		r    Range
	}{
		{"more ports than the range has", 3, Range{30000, 30001}},
		{"range beyond 65535", 1, Range{65000, 70000}},
		{"port zero", 1, Range{0, 10}},
		{"negative count", -1, DefaultRange},
	} {
		if _, err := Pick("127.0.0.1", tt.n, tt.r); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}

func TestPickSkipsATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	// A range whose only port is taken: Pick must say it found none,
	// never return the taken one.
	ports, err := Pick("127.0.0.1", 1, Range{taken, taken})
	if err == nil {
		t.Fatalf("picked %v from a range whose only port is taken", ports)
	}
}
