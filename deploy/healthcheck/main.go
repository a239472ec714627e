// Command healthcheck is the container health probe of the project's
// distroless images, which have no shell, curl or wget:
//
//	healthcheck http://127.0.0.1:8081/healthz
//
// It GETs the URL once and exits 0 on a 2xx answer within the timeout, 1
// otherwise, printing one line on failure. Only loopback URLs are accepted:
// a probe checks its own container.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	// Parse errors are returned and printed once, by main, after the
	// usage.
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(usage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("-timeout %s: want a positive duration", *timeout)
	}
	target, err := checkURL(fs.Arg(0))
	if err != nil {
		return err
	}
	return probe(ctx, target, *timeout)
}

const usage = "usage: healthcheck [-timeout 3s] http://127.0.0.1:PORT/PATH"

// checkURL accepts only http URLs on loopback addresses.
func checkURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("%q: want http://127.0.0.1:PORT/PATH", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", fmt.Errorf("%q: only loopback hosts are probed", raw)
	}
	return u.String(), nil
}

// noRedirects answers a redirect with the redirect itself: the probe GETs
// its URL once, and a 3xx is not healthy. Following one would also take
// the probe off loopback, wherever the Location points.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func probe(ctx context.Context, target string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", target, resp.Status)
	}
	return nil
}
