package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// pinnedTool is a program the production topology builds from the Go module
// proxy at the version tools.env pins; scripts/install-tools.sh builds the
// same ones under the same names.
type pinnedTool struct {
	Name       string // file name in .bin
	Module     string // main module, as the binary's build info names it
	Package    string // the main package to go install
	VersionKey string // its pin in tools.env
}

// The production topology's pinned tools.
var (
	toolTemporalServer = pinnedTool{"temporal-server", "go.temporal.io/server", "go.temporal.io/server/cmd/server", "TEMPORAL_SERVER_VERSION"}
	toolTemporalSQL    = pinnedTool{"temporal-sql-tool", "go.temporal.io/server", "go.temporal.io/server/cmd/tools/sql", "TEMPORAL_SERVER_VERSION"}
	toolTemporalUI     = pinnedTool{"temporal-ui-server", "github.com/temporalio/ui-server/v2", "github.com/temporalio/ui-server/v2/cmd/server", "TEMPORAL_UI_SERVER_VERSION"}
	toolTemporalCLI    = pinnedTool{"temporal", temporalCLIModule, temporalCLIPackage, temporalVersionKey}
)

// pinnedToolVersion reads t's version from root/tools.env.
func pinnedToolVersion(root string, t pinnedTool) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, toolsEnvFile))
	if err != nil {
		return "", fmt.Errorf("%s pin: %w", t.Name, err)
	}
	v, err := pinnedVersion(data, t.VersionKey)
	if err != nil {
		return "", fmt.Errorf("%s pin in %s: %w", t.Name, toolsEnvFile, err)
	}
	return v, nil
}

// ensurePinnedTool returns binDir/t.Name, building it with go install at
// the pinned version when it is missing or was built from another version
// (read from the binary's build info). It never downloads a binary.
func ensurePinnedTool(ctx context.Context, root, binDir string, t pinnedTool, log io.Writer) (string, error) {
	version, err := pinnedToolVersion(root, t)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(binDir, t.Name)
	if mod, v, err := binaryVersion(bin); err == nil && mod == t.Module && v == version {
		return bin, nil
	}
	fmt.Fprintf(log, "building %s %s into %s with go install (first run only; takes minutes)...\n", t.Name, version, binDir)
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(binDir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "go", "install", t.Package+"@"+version)
	cmd.Dir = root
	cmd.Env = mergeEnv(os.Environ(), []EnvVar{{"GOBIN", tmp}, {"GOFLAGS", "-buildvcs=false"}})
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go install %s@%s: %w", t.Package, version, err)
	}
	if err := os.Rename(filepath.Join(tmp, path.Base(t.Package)), bin); err != nil {
		return "", err
	}
	if mod, v, err := binaryVersion(bin); err != nil || mod != t.Module || v != version {
		return "", fmt.Errorf("go install built %s, but it is not %s %s", bin, t.Module, version)
	}
	return bin, nil
}

// moduleDir returns the directory of module@version in the module cache,
// downloading it from the proxy if needed (the Temporal server's schema
// and the UI server's config template are read from there: the very files
// of the pinned release).
func moduleDir(ctx context.Context, root, module, version string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", module+"@"+version)
	cmd.Dir = root
	out, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &info); jerr != nil && err == nil {
		err = jerr
	}
	if err != nil || info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s@%s: %v %s", module, version, err, info.Error)
	}
	return info.Dir, nil
}
