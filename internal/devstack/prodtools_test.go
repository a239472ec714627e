package devstack

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hitl/durable-approvals/config"
	"github.com/hitl/durable-approvals/internal/testutil"
)

// fakeGo puts a go command first on PATH that records its arguments, GOBIN
// and GOFLAGS in the returned file, prints out and exits with code: a
// test of what would be built never builds, nor reaches the network.
func fakeGo(t *testing.T, out string, code int) string {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "calls")
	script := "#!/bin/sh\necho \"$* GOBIN=$GOBIN GOFLAGS=$GOFLAGS\" >> " + rec + "\nprintf '%s' '" + out + "'\nexit " + strconv.Itoa(code) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return rec
}

func goCalls(t *testing.T, rec string) string {
	t.Helper()
	data, err := os.ReadFile(rec)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(data)
}

// realTool is the repository's .bin/name when it is at the version
// tools.env pins for key, else the test is skipped.
func realTool(t *testing.T, name, module, key string) string {
	t.Helper()
	root := testutil.ModuleRoot(t)
	path := filepath.Join(root, ".bin", name)
	v, err := pinnedToolVersion(root, pinnedTool{Name: name, VersionKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if mod, got, err := binaryVersion(path); err != nil || mod != module || got != v {
		t.Skipf("%s is not %s %s (%s %s, %v)", path, module, v, mod, got, err)
	}
	return path
}

// TestEnsurePinnedTool: a binary of the pinned module and version is used
// as it is; one of another module or version is built again, with go
// install at the pinned version into a directory of the bin directory, and
// a failed build is an error naming the package.
func TestEnsurePinnedTool(t *testing.T) {
	server := realTool(t, toolTemporalServer.Name, toolTemporalServer.Module, toolTemporalServer.VersionKey)
	cli := realTool(t, toolTemporalCLI.Name, toolTemporalCLI.Module, toolTemporalCLI.VersionKey)
	_, serverV, _ := binaryVersion(server)
	_, cliV, _ := binaryVersion(cli)
	for _, tt := range []struct {
		name, pin, target string
		wantBuild         bool
	}{
		{"the pinned binary", serverV, server, false},
		{"another version", "v1.0.0", server, true},
		{"another module, the pinned version", cliV, cli, true},
		{"none", serverV, "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := fakeGo(t, "", 1)
			root := fakeRoot(t)
			if err := os.WriteFile(filepath.Join(root, toolsEnvFile), []byte(toolTemporalServer.VersionKey+"="+tt.pin+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			binDir := t.TempDir()
			bin := filepath.Join(binDir, toolTemporalServer.Name)
			if tt.target != "" {
				if err := os.Symlink(tt.target, bin); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			got, err := ensurePinnedTool(t.Context(), root, binDir, toolTemporalServer, &log)
			calls := goCalls(t, rec)
			if !tt.wantBuild {
				if err != nil || got != bin || calls != "" || log.Len() != 0 {
					t.Errorf("ensurePinnedTool = %q, %v; go run %q, said %q; want %s as it is", got, err, calls, log.String(), bin)
				}
				return
			}
			want := "install go.temporal.io/server/cmd/server@" + tt.pin + " GOBIN=" + filepath.Join(binDir, ".build-")
			if err == nil || !strings.Contains(err.Error(), "go install go.temporal.io/server/cmd/server@"+tt.pin) ||
				!strings.HasPrefix(calls, want) || !strings.HasSuffix(calls, " GOFLAGS=-buildvcs=false\n") {
				t.Errorf("ensurePinnedTool = %q, %v; go run %q; want a go install of the pinned version, failed", got, err, calls)
			}
			if entries, _ := os.ReadDir(binDir); len(entries) > 1 || len(entries) == 1 && entries[0].Name() != toolTemporalServer.Name {
				t.Errorf("bin directory after a failed build: %v", entries)
			}
		})
	}
}

// TestEnsureTemporalCLIPinned: without --temporal-cli the repository's
// .bin/temporal is used when it is the pinned version, and built with go
// install into .bin otherwise; a missing pin is said.
func TestEnsureTemporalCLIPinned(t *testing.T) {
	cli := realTool(t, toolTemporalCLI.Name, toolTemporalCLI.Module, toolTemporalCLI.VersionKey)
	_, pin, _ := binaryVersion(cli)
	server := realTool(t, toolTemporalServer.Name, toolTemporalServer.Module, toolTemporalServer.VersionKey)
	_, serverV, _ := binaryVersion(server)
	const install = "install github.com/temporalio/cli/cmd/temporal@"
	for _, tt := range []struct {
		name, toolsEnv, wantErr, wantCall string
		goExit                            int    // of go install
		target                            string // .bin/temporal links to it ("": the CLI)
	}{
		{"the pinned version", "TEMPORAL_CLI_VERSION=" + pin + "\n", "", "", 1, ""},
		{"another version", "TEMPORAL_CLI_VERSION=v1.0.0\n", "go " + install + "v1.0.0", install + "v1.0.0", 1, ""},
		{"another module, the pinned version", "TEMPORAL_CLI_VERSION=" + serverV + "\n", "go " + install + serverV, install + serverV, 1, server},
		{"no pin", "STATICCHECK_VERSION=v0.8.2\n", "temporal CLI pin in tools.env: TEMPORAL_CLI_VERSION not set", "", 1, ""},
		{"a build that leaves another version", "TEMPORAL_CLI_VERSION=v1.0.0\n", "but it is not github.com/temporalio/cli v1.0.0", install + "v1.0.0", 0, ""},
		{"no tools.env", "", "temporal CLI pin: open", "", 1, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := fakeGo(t, "", tt.goExit)
			c := testConfig(t, config.Env{})
			c.Work = t.TempDir() // the CLI is the repository's still
			if tt.toolsEnv != "" {
				if err := os.WriteFile(filepath.Join(c.Root, toolsEnvFile), []byte(tt.toolsEnv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.MkdirAll(c.ToolsBinDir(), 0o755); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(c.ToolsBinDir(), "temporal")
			target := cli
			if tt.target != "" {
				target = tt.target
			}
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			got, err := ensureTemporalCLI(t.Context(), c, &log)
			calls := goCalls(t, rec)
			if tt.wantErr == "" {
				if err != nil || got != path || calls != "" {
					t.Errorf("ensureTemporalCLI = %q, %v; go run %q; want %s as it is", got, err, calls, path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ensureTemporalCLI = %q, %v; want %q", got, err, tt.wantErr)
			}
			if tt.wantCall == "" {
				if calls != "" {
					t.Errorf("go run %q, want no build", calls)
				}
			} else if want := tt.wantCall + " GOBIN=" + c.ToolsBinDir() + " GOFLAGS=-buildvcs=false\n"; calls != want {
				t.Errorf("go run %q, want %q", calls, want)
			}
		})
	}
}

// TestModuleDir: the module's directory from go mod download, or an error
// with go's.
func TestModuleDir(t *testing.T) {
	for _, tt := range []struct {
		name, out string
		code      int
		want      string // "": an error
	}{
		{"downloaded", `{"Path":"go.temporal.io/server","Version":"v1.29.1","Dir":"/mod/server@v1.29.1"}`, 0, "/mod/server@v1.29.1"},
		{"go's error", `{"Path":"go.temporal.io/server","Version":"v9.9.9","Error":"unknown revision v9.9.9"}`, 1, ""},
		{"no directory", `{"Path":"go.temporal.io/server"}`, 0, ""},
		{"not JSON", `oops`, 0, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := fakeGo(t, tt.out, tt.code)
			got, err := moduleDir(t.Context(), t.TempDir(), "go.temporal.io/server", "v1.29.1")
			if calls := goCalls(t, rec); !strings.HasPrefix(calls, "mod download -json go.temporal.io/server@v1.29.1 ") {
				t.Errorf("go run %q", calls)
			}
			if tt.want != "" {
				if err != nil || got != tt.want {
					t.Errorf("moduleDir = %q, %v; want %s", got, err, tt.want)
				}
			} else if err == nil || !strings.Contains(err.Error(), "go mod download go.temporal.io/server@v1.29.1") {
				t.Errorf("moduleDir = %q, %v; want an error", got, err)
			}
		})
	}
}

// TestBuildMains: one go build per main, in name order, each into the bin
// directory under its name, run in the repository; a failed build stops
// there and names the package.
func TestBuildMains(t *testing.T) {
	mains := map[string]string{"hitl-worker": "./worker", "hitl-approver": "./approver"}
	t.Run("built", func(t *testing.T) {
		rec := fakeGo(t, "", 0)
		binDir := filepath.Join(t.TempDir(), "bin")
		got, err := buildMains(t.Context(), t.TempDir(), binDir, mains, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		want := "build -o " + filepath.Join(binDir, "hitl-approver") + " ./approver GOBIN= GOFLAGS=" + os.Getenv("GOFLAGS") + "\n" +
			"build -o " + filepath.Join(binDir, "hitl-worker") + " ./worker GOBIN= GOFLAGS=" + os.Getenv("GOFLAGS") + "\n"
		if calls := goCalls(t, rec); calls != want {
			t.Errorf("go run\n%s\nwant\n%s", calls, want)
		}
		if got["hitl-worker"] != filepath.Join(binDir, "hitl-worker") || got["hitl-approver"] != filepath.Join(binDir, "hitl-approver") || len(got) != 2 {
			t.Errorf("buildMains = %v", got)
		}
	})
	t.Run("failed", func(t *testing.T) {
		rec := fakeGo(t, "", 1)
		got, err := buildMains(t.Context(), t.TempDir(), t.TempDir(), mains, io.Discard)
		if err == nil || got != nil || !strings.HasPrefix(err.Error(), "go build ./approver: exit status 1") {
			t.Errorf("buildMains = %v, %v; want the approver's build failed", got, err)
		}
		if calls := goCalls(t, rec); strings.Count(calls, "\n") != 1 {
			t.Errorf("go run %q, want one build", calls)
		}
	})
}
