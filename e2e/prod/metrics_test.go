package prod

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads a /metrics endpoint in the Prometheus text format.
func (h *harness) scrape(url string) map[string]*dto.MetricFamily {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("scrape %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		h.t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

// metrics scrapes the operations endpoint of a part (worker-1, bridge-2,
// authserver).
func (h *harness) metrics(part string) map[string]*dto.MetricFamily {
	h.t.Helper()
	return h.scrape(h.st.OpsURL(part) + "/metrics")
}

// sum adds the values of the series of family name whose labels include
// every pair of match ("k=v"). A missing family sums to 0.
func sum(fams map[string]*dto.MetricFamily, name string, match ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for _, kv := range match {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			total += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			total += m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// sumParts is sum over several parts' scrapes.
func (h *harness) sumParts(parts []string, name string, match ...string) float64 {
	h.t.Helper()
	total := 0.0
	for _, p := range parts {
		total += sum(h.metrics(p), name, match...)
	}
	return total
}

// span is one line of a trace file (OpenTelemetry's stdout exporter).
type span struct {
	Name        string
	SpanContext struct{ TraceID, SpanID string }
	Parent      struct{ TraceID, SpanID string }
	Attributes  []struct {
		Key   string
		Value struct{ Value any }
	}
	file string
}

func (s span) attr(key string) string {
	for _, a := range s.Attributes {
		if a.Key == key {
			return fmt.Sprint(a.Value.Value)
		}
	}
	return ""
}

// spans reads every span of the trace files whose name starts with
// prefix (worker-, bridge-).
func (h *harness) spans(prefix string) []span {
	h.t.Helper()
	files, err := filepath.Glob(filepath.Join(h.st.TraceDir(), prefix+"*.jsonl"))
	if err != nil {
		h.t.Fatal(err)
	}
	var out []span
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			h.t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			var s span
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				fh.Close()
				h.t.Fatalf("%s: %v", f, err)
			}
			s.file = filepath.Base(f)
			out = append(out, s)
		}
		fh.Close()
	}
	return out
}
