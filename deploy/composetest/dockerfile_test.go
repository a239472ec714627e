package composetest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, COPY, ...
	Args string
}

// stage is one FROM and the instructions after it.
type stage struct {
	Name  string
	Base  string // the FROM image, ARGs resolved
	Instr []instruction
}

// parseDockerfile reads the instructions we check: global ARG defaults
// resolve ${NAME} in FROM lines.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			cur.WriteString(strings.TrimSuffix(line, `\`) + " ")
			continue
		}
		cur.WriteString(line)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	var stages []stage
	for _, l := range lines {
		cmd, rest, _ := strings.Cut(l, " ")
		in := instruction{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(rest)}
		switch {
		case in.Cmd == "ARG" && len(stages) == 0:
			k, v, _ := strings.Cut(in.Args, "=")
			args[k] = v
		case in.Cmd == "FROM":
			f := strings.Fields(in.Args)
			s := stage{Base: os.Expand(f[0], func(k string) string { return args[k] })}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.Name = f[2]
			}
			stages = append(stages, s)
		case len(stages) > 0:
			stages[len(stages)-1].Instr = append(stages[len(stages)-1].Instr, in)
		}
	}
	return stages
}

func findStage(stages []stage, name string) (stage, bool) {
	i := slices.IndexFunc(stages, func(s stage) bool { return s.Name == name })
	if i < 0 {
		return stage{}, false
	}
	return stages[i], true
}

func (s stage) has(cmd, substr string) bool {
	return slices.ContainsFunc(s.Instr, func(in instruction) bool { return in.Cmd == cmd && strings.Contains(in.Args, substr) })
}

// composeMains maps each compose build target to the main package its
// binary comes from and the arguments it must start with.
var composeMains = map[string]struct{ pkg, binary, entry string }{
	"worker":     {"./worker", "worker", `"/usr/local/bin/worker"`},
	"bridge":     {"./approver", "approver", `"/usr/local/bin/approver", "bridge"`},
	"authserver": {"./authserver", "authserver", `"/usr/local/bin/authserver"`},
}

func TestDockerfileBuildsComposeMains(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	build, ok := findStage(stages, "build")
	if !ok {
		t.Fatal("no build stage")
	}
	var goBuild string
	for _, in := range build.Instr {
		if in.Cmd == "RUN" && strings.Contains(in.Args, "go build") {
			goBuild = in.Args
		}
	}
	if goBuild == "" {
		t.Fatal("the build stage runs no go build")
	}
	p := mustLoad(t)
	targets := 0
	for _, s := range p.Services {
		if s.Build == nil {
			continue
		}
		targets++
		want, ok := composeMains[s.Build.Target]
		if !ok {
			t.Errorf("%s: build target %q is not one of the project's servers", s.Name, s.Build.Target)
			continue
		}
		if !slices.Contains(strings.Fields(goBuild), want.pkg) {
			t.Errorf("the build stage does not build %s (for %s): %s", want.pkg, s.Name, goBuild)
		}
		st, ok := findStage(stages, s.Build.Target)
		if !ok {
			t.Errorf("%s: no Dockerfile stage %q", s.Name, s.Build.Target)
			continue
		}
		if !st.has("COPY", "/out/"+want.binary+" ") {
			t.Errorf("stage %s does not copy /out/%s", st.Name, want.binary)
		}
		if !st.has("ENTRYPOINT", "["+want.entry) {
			t.Errorf("stage %s: ENTRYPOINT does not start with %s", st.Name, want.entry)
		}
		if st.Base != "runtime" {
			t.Errorf("stage %s is based on %s, want the runtime stage", st.Name, st.Base)
		}
		if main, err := os.ReadFile(filepath.Join(root, want.pkg, "main.go")); err != nil || !strings.Contains(string(main), "package main") {
			t.Errorf("%s has no main package (%v)", want.pkg, err)
		}
	}
	if targets != len(composeMains) {
		t.Errorf("compose builds %d services, want %d", targets, len(composeMains))
	}
	if !slices.Contains(strings.Fields(goBuild), "./deploy/healthcheck") {
		t.Error("the build stage does not build the health probe")
	}
	rt, ok := findStage(stages, "runtime")
	if !ok || !rt.has("COPY", "/out/healthcheck") || !rt.has("USER", "65532") {
		t.Error("the runtime stage must hold the probe and run as nonroot 65532")
	}
}

func TestDockerfileBaseImagesPinned(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	earlier := map[string]bool{}
	for _, s := range stages {
		from := s.Base
		earlier[s.Name] = true
		if earlier[from] {
			continue // built on an earlier stage
		}
		if why := pinned(s.Base); why != "" {
			t.Errorf("FROM %s (stage %s): %s", s.Base, s.Name, why)
		}
		if s.Name == "runtime" && !regexp.MustCompile(`@sha256:[0-9a-f]{64}$`).MatchString(s.Base) {
			t.Errorf("runtime base %s is not pinned by digest", s.Base)
		}
	}
	if len(stages) != 5 {
		t.Errorf("found %d stages, want build, runtime and three targets", len(stages))
	}
}

// TestMainsBuild builds every main of the project, the way a user or the
// Dockerfile does.
func TestMainsBuild(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	out := t.TempDir()
	for _, pkg := range []string{"./worker", "./starter", "./approver", "./authserver", "./devstack", "./deploy/healthcheck"} {
		t.Run(strings.TrimPrefix(pkg, "./"), func(t *testing.T) {
			t.Parallel()
			bin := filepath.Join(out, filepath.Base(pkg))
			cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, pkg)
			cmd.Dir = root
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build %s: %v\n%s", pkg, err, msg)
			}
			if info, err := os.Stat(bin); err != nil || info.Mode()&0o111 == 0 {
				t.Fatalf("no executable %s: %v", bin, err)
			}
		})
	}
}

// Each image's HEALTHCHECK probes the operations endpoint its ENV sets
// (plain HTTP on loopback), not a port that may serve TLS.
func TestDockerfileHealthChecksProbeTheOpsEndpoint(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	for name := range composeMains {
		s, ok := findStage(stages, name)
		if !ok {
			t.Errorf("no %s stage", name)
			continue
		}
		var addr string
		for _, in := range s.Instr {
			if in.Cmd != "ENV" {
				continue
			}
			for _, f := range strings.Fields(in.Args) {
				if v, found := strings.CutPrefix(f, "HITL_HEALTH_ADDR="); found {
					addr = v
				}
			}
		}
		if addr == "" || !s.has("HEALTHCHECK", `"http://`+addr+`/healthz"`) {
			t.Errorf("%s: HEALTHCHECK does not probe its HITL_HEALTH_ADDR %q", name, addr)
		}
	}
}

// A service that mounts config/policy.json names it in HITL_POLICY_FILE
// (its compose environment or its image's ENV), not only in its command:
// `docker compose run --rm authserver useradd …`, as the compose file and
// deploy/README.md add approvers, replaces the command, and without the
// variable useradd checks roles against the default hierarchy, not the
// policy that serve loads. A role the policy no longer has is then
// accepted, and serve refuses the users file: every login fails.
func TestServicesNameTheirPolicyFile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(root, "Dockerfile"))
	policy, _ := filepath.Abs(filepath.Join(root, "config/policy.json"))
	p := mustLoad(t)
	checked := 0
	for _, s := range p.Services {
		var target string
		for _, v := range s.Volumes {
			if filepath.Clean(v.Source) == policy {
				target = v.Target
			}
		}
		if target == "" {
			continue
		}
		checked++
		if v, ok := env(s, "HITL_POLICY_FILE"); ok {
			if v != target {
				t.Errorf("%s: HITL_POLICY_FILE=%q, but the policy is mounted at %s", s.Name, v, target)
			}
			continue
		}
		if s.Build == nil {
			t.Errorf("%s mounts the policy at %s but does not set HITL_POLICY_FILE to it", s.Name, target)
			continue
		}
		st, ok := findStage(stages, s.Build.Target)
		if !ok {
			t.Errorf("%s: no Dockerfile stage %q", s.Name, s.Build.Target)
			continue
		}
		if !st.has("ENV", "HITL_POLICY_FILE="+target) {
			t.Errorf("%s mounts the policy at %s but neither its compose environment nor its image sets HITL_POLICY_FILE to it: a `docker compose run %s …` command checks roles against another policy than the service's", s.Name, target, s.Name)
		}
	}
	if checked < 2 {
		t.Errorf("%d services mount config/policy.json; want the worker and the auth server", checked)
	}
}
