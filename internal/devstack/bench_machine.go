package devstack

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"strings"
	"time"
)

// Machine says where a benchmark ran: absolute figures mean little without
// it.
type Machine struct {
	Date      time.Time `json:"date"`
	CPU       string    `json:"cpu"` // the model name of /proc/cpuinfo
	Cores     int       `json:"cores"`
	GoVersion string    `json:"goVersion"`
	OS        string    `json:"os"` // GOOS/GOARCH
	// LoadAvg is /proc/loadavg's 1-minute load when the benchmark started:
	// other work on the machine shows here.
	LoadAvg string `json:"loadAvg,omitempty"`
	// LoadAvgEnd is the same when it ended.
	LoadAvgEnd string `json:"loadAvgEnd,omitempty"`
}

// thisMachine describes the machine the benchmark runs on.
func thisMachine(now time.Time) Machine {
	m := Machine{Date: now.UTC(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH, CPU: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if model := cpuModel(data); model != "" {
			m.CPU = model
		}
	}
	m.LoadAvg = loadAvg()
	return m
}

// loadAvg is the 1-minute load average of /proc/loadavg, or "".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// cpuModel returns the first "model name" of a /proc/cpuinfo document.
func cpuModel(cpuinfo []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(cpuinfo))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}
