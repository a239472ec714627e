package composetest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

const root = "../.."

// testEnv is the environment compose interpolates in the tests: the
// required secrets with sentinel values, and nothing from the real
// environment or a developer's .env.
func testEnv() map[string]string {
	return map[string]string{
		"ABLY_API_KEY":      "app.key:ably-sentinel",
		"OPENAI_API_KEY":    "sk-openai-sentinel",
		"POSTGRES_PASSWORD": "pg-sentinel",
		// A valid key pair is not needed to load the file, only values.
		"HITL_DECISION_SIGNING_KEY": "k1:signing-sentinel",
		"HITL_DECISION_VERIFY_KEYS": "k1:verify-sentinel",
	}
}

func loadProject(t *testing.T, env map[string]string, interpolate bool) (*types.Project, error) {
	t.Helper()
	var list []string
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(list),
		cli.WithInterpolation(interpolate),
		cli.WithName("hitl-test"),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func mustLoad(t *testing.T) *types.Project {
	t.Helper()
	p, err := loadProject(t, testEnv(), true)
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return p
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, name string) (string, bool) {
	v, ok := s.Environment[name]
	if !ok || v == nil {
		return "", false
	}
	return *v, true
}

// Services of the stack. One-shot jobs run to completion; the rest run
// until stopped and need a health check.
var (
	longRunning = []string{"postgresql", "temporal", "temporal-ui", "worker", "bridge", "authserver"}
	oneShot     = []string{"temporal-schema", "temporal-setup"}
)

func TestComposeServices(t *testing.T) {
	p := mustLoad(t)
	want := append(slices.Clone(longRunning), oneShot...)
	got := p.ServiceNames()
	for _, name := range want {
		if !slices.Contains(got, name) {
			t.Errorf("service %s missing (have %v)", name, got)
		}
	}
	for _, name := range oneShot {
		if s := service(t, p, name); s.Restart != "no" {
			t.Errorf("one-shot %s: restart %q, want \"no\"", name, s.Restart)
		}
	}
}

// Docker keeps a container's log for ever unless told: every service's is
// rotated.
func TestComposeRotatesLogs(t *testing.T) {
	p := mustLoad(t)
	for _, s := range p.Services {
		l := s.Logging
		if l == nil || l.Driver != "json-file" || l.Options["max-size"] == "" || l.Options["max-file"] == "" {
			t.Errorf("service %s: logging %+v, want json-file with max-size and max-file", s.Name, l)
		}
	}
}

func TestComposeRequiresSecrets(t *testing.T) {
	for _, name := range []string{"ABLY_API_KEY", "OPENAI_API_KEY", "POSTGRES_PASSWORD", "HITL_DECISION_SIGNING_KEY", "HITL_DECISION_VERIFY_KEYS"} {
		t.Run(name, func(t *testing.T) {
			e := testEnv()
			delete(e, name)
			_, err := loadProject(t, e, true)
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("load without %s: err = %v, want one naming it", name, err)
			}
		})
	}
}

// TestComposeHasNoSecrets loads the file without interpolation: every
// secret-like variable must come from the environment.
func TestComposeHasNoSecrets(t *testing.T) {
	p, err := loadProject(t, testEnv(), false)
	if err != nil {
		t.Fatal(err)
	}
	secret := regexp.MustCompile(`KEY|PASSWORD|PWD|SECRET|TOKEN`)
	n := 0
	for _, s := range p.Services {
		for name, v := range s.Environment {
			if !secret.MatchString(name) || strings.HasSuffix(name, "_TTL") {
				continue
			}
			n++
			if v == nil || !strings.HasPrefix(*v, "${") {
				t.Errorf("%s: %s is not taken from the environment", s.Name, name)
			}
		}
	}
	if n < 5 {
		t.Errorf("found only %d secret variables; the check is not looking at the file", n)
	}
}

func TestComposeWiring(t *testing.T) {
	p := mustLoad(t)
	e := testEnv()
	for _, name := range []string{"worker", "bridge"} {
		s := service(t, p, name)
		if v, _ := env(s, "TEMPORAL_ADDRESS"); v != "temporal:7233" {
			t.Errorf("%s: TEMPORAL_ADDRESS = %q, want temporal:7233", name, v)
		}
		if v, _ := env(s, "TEMPORAL_NAMESPACE"); v != "default" {
			t.Errorf("%s: TEMPORAL_NAMESPACE = %q", name, v)
		}
	}
	for _, name := range []string{"worker", "bridge", "authserver"} {
		if v, _ := env(service(t, p, name), "ABLY_API_KEY"); v != e["ABLY_API_KEY"] {
			t.Errorf("%s: ABLY_API_KEY = %q, want the .env value", name, v)
		}
	}
	// The auth server listens on 0.0.0.0 in its container; it refuses
	// plain HTTP off loopback unless told, so compose must say so (or give
	// it a certificate).
	as := service(t, p, "authserver")
	plain, _ := env(as, "AUTH_INSECURE_ALLOW_PLAINTEXT")
	cert, _ := env(as, "AUTH_TLS_CERT")
	if plain != "true" && cert == "" {
		t.Errorf("authserver: neither AUTH_INSECURE_ALLOW_PLAINTEXT=true nor AUTH_TLS_CERT: serve would refuse to start")
	}
	w := service(t, p, "worker")
	if v, _ := env(w, "OPENAI_API_KEY"); v != e["OPENAI_API_KEY"] {
		t.Errorf("worker: OPENAI_API_KEY = %q", v)
	}
	if v, _ := env(w, "HITL_POLICY_FILE"); v != "/etc/hitl/policy.json" {
		t.Errorf("worker: HITL_POLICY_FILE = %q", v)
	}
	for _, name := range []string{"temporal"} {
		if v, _ := env(service(t, p, name), "POSTGRES_PWD"); v != e["POSTGRES_PASSWORD"] {
			t.Errorf("%s: POSTGRES_PWD not the .env password", name)
		}
	}
	if v, _ := env(service(t, p, "temporal-schema"), "SQL_PASSWORD"); v != e["POSTGRES_PASSWORD"] {
		t.Error("temporal-schema: SQL_PASSWORD not the .env password")
	}
	if v, _ := env(service(t, p, "temporal"), "DB"); v != "postgres12" {
		t.Errorf("temporal: DB = %q, want postgres12", v)
	}

	// Published ports, loopback only.
	ports := map[string]uint32{"temporal": 7233, "temporal-ui": 8080, "authserver": 3001}
	for name, port := range ports {
		s := service(t, p, name)
		i := slices.IndexFunc(s.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == port })
		if i < 0 {
			t.Errorf("%s: port %d not published (ports %+v)", name, port, s.Ports)
			continue
		}
		if pc := s.Ports[i]; pc.Published != strings.TrimSpace(pc.Published) || pc.HostIP != "127.0.0.1" {
			t.Errorf("%s: port %d published on %q, want 127.0.0.1", name, port, pc.HostIP)
		}
	}
	for _, name := range []string{"worker", "bridge", "postgresql"} {
		if s := service(t, p, name); len(s.Ports) > 0 {
			t.Errorf("%s publishes ports %+v; it should not", name, s.Ports)
		}
	}

	// Start order.
	deps := []struct{ service, on, condition string }{
		{"temporal-schema", "postgresql", types.ServiceConditionHealthy},
		{"temporal", "temporal-schema", types.ServiceConditionCompletedSuccessfully},
		{"temporal-setup", "temporal", types.ServiceConditionHealthy},
		{"temporal-ui", "temporal", types.ServiceConditionHealthy},
		{"worker", "temporal", types.ServiceConditionHealthy},
		{"worker", "temporal-setup", types.ServiceConditionCompletedSuccessfully},
		{"bridge", "temporal", types.ServiceConditionHealthy},
		{"bridge", "temporal-setup", types.ServiceConditionCompletedSuccessfully},
	}
	for _, d := range deps {
		dep, ok := service(t, p, d.service).DependsOn[d.on]
		if !ok {
			t.Errorf("%s does not depend on %s", d.service, d.on)
			continue
		}
		if dep.Condition != d.condition {
			t.Errorf("%s depends on %s with %q, want %q", d.service, d.on, dep.Condition, d.condition)
		}
	}
}

func TestComposeSetupScripts(t *testing.T) {
	p := mustLoad(t)
	for _, name := range oneShot {
		s := service(t, p, name)
		if len(s.Entrypoint) != 2 || !strings.HasPrefix(s.Entrypoint[1], "/scripts/") {
			t.Fatalf("%s: entrypoint %q, want [/bin/sh /scripts/...]", name, s.Entrypoint)
		}
		script := filepath.Join(root, "deploy", "temporal", strings.TrimPrefix(s.Entrypoint[1], "/scripts/"))
		data, err := os.ReadFile(script)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.HasPrefix(string(data), "#!/bin/sh\n") || !strings.Contains(string(data), "set -eu") {
			t.Errorf("%s: %s is not a strict sh script", name, script)
		}
	}
	// That create-namespace.sh registers the workflow's search attributes
	// is checked in the main module (deploy/setup_test.go), against
	// workflows.SearchAttributes.
}

// imageTag returns the tag of an image reference ("" when it has none).
func imageTag(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	name := ref[strings.LastIndex(ref, "/")+1:]
	_, tag, _ := strings.Cut(name, ":")
	return tag
}

func TestImageTag(t *testing.T) {
	tests := map[string]string{
		"postgres:16.14-alpine3.23":                   "16.14-alpine3.23",
		"temporalio/server:1.29.1":                    "1.29.1",
		"localhost:5000/x/y:2":                        "2",
		"localhost:5000/x/y":                          "",
		"gcr.io/distroless/static:nonroot@sha256:abc": "nonroot",
		"busybox": "",
	}
	for ref, want := range tests {
		if got := imageTag(ref); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", ref, got, want)
		}
	}
}

// pinned reports why ref is not pinned to a version, or "".
func pinned(ref string) string {
	switch tag := imageTag(ref); {
	case tag == "":
		return "no tag"
	case tag == "latest" || tag == "stable" || tag == "edge":
		return "floating tag " + tag
	case !regexp.MustCompile(`\d`).MatchString(tag) && !strings.Contains(ref, "@sha256:"):
		return "tag without a version: " + tag
	}
	return ""
}

func TestComposeImagesPinned(t *testing.T) {
	p := mustLoad(t)
	for _, s := range p.Services {
		if s.Image == "" {
			t.Errorf("%s: no image", s.Name)
			continue
		}
		if why := pinned(s.Image); why != "" {
			t.Errorf("%s: image %s not pinned: %s", s.Name, s.Image, why)
		}
	}
}

func TestComposeHealthChecks(t *testing.T) {
	p := mustLoad(t)
	for _, name := range longRunning {
		hc := service(t, p, name).HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 2 || hc.Test[0] == "NONE" {
			t.Errorf("%s: no health check", name)
			continue
		}
		if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
			t.Errorf("%s: health check without interval, timeout or retries", name)
		}
	}
	// The project's distroless images probe with the bundled binary.
	for _, name := range []string{"worker", "bridge", "authserver"} {
		s := service(t, p, name)
		if s.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", name)
			continue
		}
		if test := s.HealthCheck.Test; len(test) < 3 || test[0] != "CMD" || test[1] != "/usr/local/bin/healthcheck" {
			t.Errorf("%s: health check %q does not use /usr/local/bin/healthcheck", name, test)
		}
	}
	// Each probes the operations endpoint it serves (plain HTTP on
	// loopback; the auth server's approvers' port may serve TLS).
	for _, name := range []string{"worker", "bridge", "authserver"} {
		s := service(t, p, name)
		addr, _ := env(s, "HITL_HEALTH_ADDR")
		if len(s.HealthCheck.Test) < 3 || addr == "" || s.HealthCheck.Test[2] != "http://"+addr+"/healthz" {
			t.Errorf("%s probes %q but serves its operations endpoint on %q", name, s.HealthCheck.Test, addr)
		}
	}
}

func TestEnvExampleListsRequiredVariables(t *testing.T) {
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join(root, ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	required := regexp.MustCompile(`\$\{([A-Z0-9_]+):\?`).FindAllStringSubmatch(string(compose), -1)
	if len(required) == 0 {
		t.Fatal("compose requires no variable; expected the secrets")
	}
	for _, m := range required {
		if !regexp.MustCompile(`(?m)^` + m[1] + `=`).Match(example) {
			t.Errorf(".env.example lacks %s=", m[1])
		}
	}
}

// Only the bridge holds the decision signing key; every worker holds the
// verify keys; the trusted clientIds hold a ':' that no user name can.
func TestComposeDecisionKeys(t *testing.T) {
	p := mustLoad(t)
	for _, s := range p.Services {
		_, signs := env(s, "HITL_DECISION_SIGNING_KEY")
		if signs != (s.Name == "bridge") {
			t.Errorf("%s: holds the signing key = %v, want %v", s.Name, signs, s.Name == "bridge")
		}
	}
	if v, ok := env(service(t, p, "worker"), "HITL_DECISION_VERIFY_KEYS"); !ok || v == "" {
		t.Error("the worker has no decision verify keys")
	}
	for svc, name := range map[string]string{"worker": "HITL_AGENT_CLIENT_ID", "bridge": "HITL_BRIDGE_CLIENT_ID"} {
		if v, _ := env(service(t, p, svc), name); !strings.Contains(v, ":") {
			t.Errorf("%s: %s = %q, want a trusted clientId with a ':'", svc, name, v)
		}
	}
}
