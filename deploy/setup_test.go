package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/workflows"
)

// root is the repository root, seen from this package.
const root = ".."

// TestSetupRegistersSearchAttributes: the namespace setup that compose runs
// registers every search attribute the workflow upserts, with its type.
func TestSetupRegistersSearchAttributes(t *testing.T) {
	setup, err := os.ReadFile(filepath.Join(root, "deploy", "temporal", "create-namespace.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range workflows.SearchAttributes() {
		want := k.GetName() + ":" + k.GetValueType().String()
		if !strings.Contains(string(setup), want) {
			t.Errorf("create-namespace.sh does not register %s", want)
		}
	}
}
