// Package spareport picks loopback TCP ports for servers that a test or a
// local stack starts later, by number, in another process.
//
// A port the kernel hands out for "127.0.0.1:0" comes from its ephemeral
// range, the same range it takes the source ports of outgoing connections
// from: between the pick and the server's bind, a connection of any
// process on the machine may take it, and the server then fails with
// "address already in use". Ports below that range are never taken that
// way, so Pick chooses among them.
package spareport

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// Range is where Pick looks: [Low, High].
type Range struct{ Low, High int }

// DefaultRange is used when the kernel's ephemeral range cannot be read:
// below Linux's default start of 32768.
var DefaultRange = Range{Low: 20000, High: 32767}

// BelowEphemeral returns the ports from 20000 up to just below the
// kernel's ephemeral range, as /proc/sys/net/ipv4/ip_local_port_range
// tells it (from half its start when it starts below 21000).
func BelowEphemeral() Range {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return DefaultRange
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return DefaultRange
	}
	low, err := strconv.Atoi(f[0])
	if err != nil || low <= 2048 {
		return DefaultRange
	}
	r := Range{Low: 20000, High: low - 1}
	if r.High-r.Low < 1000 {
		r.Low = max(1025, low/2)
	}
	return r
}

// maxTries bounds the attempts per port.
const maxTries = 500

// Pick returns n distinct ports of r on host that accepted a listener a
// moment ago. It holds each listener until all are picked.
func Pick(host string, n int, r Range) ([]int, error) {
	if n < 0 || r.Low < 1 || r.High > 65535 || r.High-r.Low+1 < n {
		return nil, fmt.Errorf("spareport: cannot pick %d ports in %d-%d", n, r.Low, r.High)
	}
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		port, ln, err := Listen(host, r)
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports = append(ports, port)
	}
	return ports, nil
}

// Listen binds a free port of r on host and returns it with its listener,
// for a caller that picks several ports and must hold each until all are
// picked.
func Listen(host string, r Range) (int, net.Listener, error) {
	var last error
	for range maxTries {
		port := r.Low + rand.IntN(r.High-r.Low+1)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return port, ln, nil
		}
		last = err
	}
	return 0, nil, errors.Join(fmt.Errorf("spareport: no free port in %d-%d after %d tries", r.Low, r.High, maxTries), last)
}
