package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// root is the repository root, seen from this package.
const root = ".."

// TestSetupRegistersSearchAttributes: the namespace setup that compose and
// `devstack prod` run registers exactly the search attributes the workflow
// upserts, each with its type: one missing would break routing, an extra
// one would be a leftover.
func TestSetupRegistersSearchAttributes(t *testing.T) {
	setup, err := os.ReadFile(filepath.Join(root, "deploy", "temporal", "create-namespace.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^for sa in ([^;]*); do$`).FindSubmatch(setup)
	if m == nil {
		t.Fatal(`create-namespace.sh has no "for sa in NAME:Type ...; do" line`)
	}
	got := strings.Fields(string(m[1]))
	var want []string
	for _, k := range workflows.SearchAttributes() {
		want = append(want, k.GetName()+":"+k.GetValueType().String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("create-namespace.sh registers %v, the workflow upserts %v", got, want)
	}
}
