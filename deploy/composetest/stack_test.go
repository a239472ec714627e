package composetest

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/hitl/durable-approvals/internal/devstack"
)

// The tests below keep docker-compose.yml true to the production stack
// that `devstack prod` runs and e2e/prod tests: drift in either fails here.

// TestComposeMatchesProdStack: compose declares every service of the
// tested stack, each with exactly the variables the stack gives it, and the
// one-shot jobs run the very scripts the stack runs.
func TestComposeMatchesProdStack(t *testing.T) {
	p := mustLoad(t)
	services := devstack.ProdServices()
	if len(services) < 8 {
		t.Fatalf("devstack.ProdServices lists %d services; expected the whole topology", len(services))
	}
	for _, want := range services {
		t.Run(want.Name, func(t *testing.T) {
			s := service(t, p, want.Name)
			var got []string
			for name := range s.Environment {
				got = append(got, name)
			}
			slices.Sort(got)
			for _, name := range want.Env {
				if !slices.Contains(got, name) {
					t.Errorf("compose does not set %s, which the tested stack gives %s", name, want.Name)
				}
			}
			for _, name := range got {
				if !slices.Contains(want.Env, name) {
					t.Errorf("compose sets %s, which the tested stack does not give %s", name, want.Name)
				}
			}
			if want.Script == "" {
				return
			}
			if len(s.Entrypoint) != 2 || s.Entrypoint[1] != "/scripts/"+filepath.Base(want.Script) {
				t.Errorf("entrypoint %q, want [/bin/sh /scripts/%s] (the stack runs %s)", s.Entrypoint, filepath.Base(want.Script), want.Script)
			}
			if !mounts(s, filepath.Dir(want.Script), "/scripts") {
				t.Errorf("%s is not mounted at /scripts", filepath.Dir(want.Script))
			}
		})
	}
}

// TestComposeServerConfig: the Temporal server renders the template the
// stack renders, with the same dynamic config.
func TestComposeServerConfig(t *testing.T) {
	s := service(t, mustLoad(t), "temporal")
	if !mounts(s, devstack.ProdServerTemplate, "/etc/temporal/config/config_template.yaml") {
		t.Errorf("temporal does not mount %s as the image's config template", devstack.ProdServerTemplate)
	}
	path, _ := env(s, "DYNAMIC_CONFIG_FILE_PATH")
	if !mounts(s, devstack.ProdDynamicConfig, filepath.Join("/etc/temporal", path)) {
		t.Errorf("temporal does not mount %s at its DYNAMIC_CONFIG_FILE_PATH %q", devstack.ProdDynamicConfig, path)
	}
	if v, _ := env(s, "DB"); v != "postgres12" {
		t.Errorf("DB = %q, want postgres12 (the plugin the tested stack uses)", v)
	}
}

// TestComposeImagesMatchPins: the images carry the versions the tested
// stack builds (tools.env) and the PostgreSQL major it runs.
func TestComposeImagesMatchPins(t *testing.T) {
	p := mustLoad(t)
	pins := readPins(t)
	server := strings.TrimPrefix(pins["TEMPORAL_SERVER_VERSION"], "v")
	ui := strings.TrimPrefix(pins["TEMPORAL_UI_SERVER_VERSION"], "v")
	cli := strings.TrimPrefix(pins["TEMPORAL_CLI_VERSION"], "v")
	if server == "" || ui == "" || cli == "" {
		t.Fatalf("tools.env lacks a pin: %v", pins)
	}
	if got := imageTag(service(t, p, "temporal").Image); got != server {
		t.Errorf("temporal image tag %q, want the pinned server %s", got, server)
	}
	if got := imageTag(service(t, p, "temporal-ui").Image); got != ui {
		t.Errorf("temporal-ui image tag %q, want the pinned UI server %s", got, ui)
	}
	for _, job := range oneShot {
		tag := imageTag(service(t, p, job).Image)
		if !strings.HasPrefix(tag, server+"-") {
			t.Errorf("%s image tag %q is not of server %s (its SQL tool and schema)", job, tag, server)
		}
		// The admin-tools image's CLI (runs create-namespace.sh) matches the
		// pinned CLI in major and minor; its patch release may lag.
		_, imageCLI, ok := strings.Cut(tag, "-cli-")
		if !ok || majorMinor(imageCLI) != majorMinor(cli) {
			t.Errorf("%s image tag %q: CLI %q, want %s.x like the pinned %s", job, tag, imageCLI, majorMinor(cli), cli)
		}
	}
	pg := imageTag(service(t, p, "postgresql").Image)
	if major, _, _ := strings.Cut(pg, "."); major != strconv.Itoa(devstack.PostgresMajor) {
		t.Errorf("postgresql image tag %q, want PostgreSQL %d, the major the tested stack runs", pg, devstack.PostgresMajor)
	}
}

// TestComposeAuthServerTrustsGateway: plain HTTP off loopback needs a
// trusted proxy, and compose's default is its network's pinned gateway,
// where connections to the published port come from.
func TestComposeAuthServerTrustsGateway(t *testing.T) {
	p := mustLoad(t)
	as := service(t, p, "authserver")
	if plain, _ := env(as, "AUTH_INSECURE_ALLOW_PLAINTEXT"); plain != "true" {
		t.Fatalf("AUTH_INSECURE_ALLOW_PLAINTEXT = %q: compose's default is plain HTTP behind the host's TLS proxy", plain)
	}
	nw, ok := p.Networks["default"]
	if !ok || len(nw.Ipam.Config) != 1 {
		t.Fatalf("the default network has no pinned address pool: %+v", nw)
	}
	subnet, err := netip.ParsePrefix(nw.Ipam.Config[0].Subnet)
	if err != nil {
		t.Fatalf("subnet: %v", err)
	}
	gw, err := netip.ParseAddr(nw.Ipam.Config[0].Gateway)
	if err != nil || !subnet.Contains(gw) {
		t.Fatalf("gateway %q not in subnet %s", nw.Ipam.Config[0].Gateway, subnet)
	}
	proxies, _ := env(as, "AUTH_TRUSTED_PROXIES")
	trusted := false
	for _, s := range strings.Split(proxies, ",") {
		if pfx, err := netip.ParsePrefix(strings.TrimSpace(s)); err == nil && pfx.Contains(gw) {
			trusted = true
		}
	}
	if !trusted {
		t.Errorf("AUTH_TRUSTED_PROXIES = %q does not hold the gateway %s: the auth server refuses to start", proxies, gw)
	}
	for _, name := range []string{"HITL_AGENT_CLIENT_ID", "HITL_BRIDGE_CLIENT_ID"} {
		w, _ := env(service(t, p, "worker"), "HITL_AGENT_CLIENT_ID")
		b, _ := env(service(t, p, "bridge"), "HITL_BRIDGE_CLIENT_ID")
		v, _ := env(as, name)
		if want := map[string]string{"HITL_AGENT_CLIENT_ID": w, "HITL_BRIDGE_CLIENT_ID": b}[name]; v == "" || v != want {
			t.Errorf("authserver %s = %q, want the trusted program's %q (reserved)", name, v, want)
		}
	}
}

// mounts reports whether s mounts the repository path src at target.
func mounts(s types.ServiceConfig, src, target string) bool {
	abs, _ := filepath.Abs(filepath.Join(root, src))
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return filepath.Clean(v.Source) == abs && v.Target == target
	})
}

// readPins reads KEY=VALUE lines of tools.env.
func readPins(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "tools.env"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pins := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			pins[k] = v
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pins
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// TestComposeRunsTwoWorkersAndBridges: compose runs as many workers and
// bridges as the tested stack (the README's production topology: at least
// two of each).
func TestComposeRunsTwoWorkersAndBridges(t *testing.T) {
	p := mustLoad(t)
	c := devstack.DefaultProdConfig(root)
	for name, want := range map[string]int{"worker": c.Workers, "bridge": c.Bridges} {
		s := service(t, p, name)
		if got := s.GetScale(); got != want || want < 2 {
			t.Errorf("%s: compose runs %d, the tested stack %d (want at least 2)", name, got, want)
		}
	}
}
