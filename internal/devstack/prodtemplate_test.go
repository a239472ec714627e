package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderDockerize(t *testing.T) {
	tests := []struct {
		name string
		tmpl string
		env  map[string]string
		want string
	}{
		{"unset takes the default", `{{ default .Env.X "d" }}`, nil, "d"},
		{"set wins", `{{ default .Env.X "d" }}`, map[string]string{"X": "v"}, "v"},
		{"set to empty stays empty, as in dockerize", `[{{ default .Env.X "d" }}]`, map[string]string{"X": ""}, "[]"},
		{"pipeline into lower", `{{ default .Env.DB "Cassandra" | lower }}`, nil, "cassandra"},
		{"if on an unset variable", `{{ if .Env.X }}yes{{ else }}no{{ end }}`, nil, "no"},
		{"split and trim", `{{ range split .Env.L "," }}<{{ trim . }}>{{ end }}`, map[string]string{"L": "a, b"}, "<a><b>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderDockerize("t", []byte(tt.tmpl), tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRenderDockerizeRejects(t *testing.T) {
	for _, tmpl := range []string{`{{ default }}`, `{{ default .Env.X }}`, `{{ nosuchfunc 1 }}`} {
		if _, err := renderDockerize("t", []byte(tmpl), nil); err == nil {
			t.Errorf("%s rendered without error", tmpl)
		}
	}
}

// TestServerTemplateRendersForPostgres renders the config template compose
// mounts with the stack's variables: PostgreSQL for both stores, every
// service on the stack's ports, the dynamic config and metrics endpoint.
func TestServerTemplateRendersForPostgres(t *testing.T) {
	root, err := findRoot(mustAbs(t, "."))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := os.ReadFile(filepath.Join(root, ProdServerTemplate))
	if err != nil {
		t.Fatal(err)
	}
	st := &ProdStack{cfg: DefaultProdConfig(root), pgPassword: "pw-sentinel", tools: map[string]string{}}
	st.ports = prodPorts{Postgres: 15432, Frontend: 17233, FrontendHTTP: 17243, FrontendMembership: 26933,
		History: 17234, HistoryMembership: 26934, Matching: 17235, MatchingMembership: 26935,
		Worker: 17239, WorkerMembership: 26939, TemporalMetrics: 18000}
	out, err := renderDockerize(ProdServerTemplate, tmpl, envMap(st.temporalEnv()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(out)
	for _, want := range []string{
		`pluginName: "postgres12"`, `connectAddr: "127.0.0.1:15432"`, `password: "pw-sentinel"`,
		`databaseName: "temporal_visibility"`, `grpcPort: 17233`, `membershipPort: 26939`,
		`bindOnIP: "127.0.0.1"`, `listenAddress: "127.0.0.1:18000"`, filepath.Join(root, ProdDynamicConfig),
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("rendered config lacks %s", want)
		}
	}
	if strings.Contains(cfg, "cassandra:") || strings.Contains(cfg, "{{") {
		t.Error("rendered config has a Cassandra store or an unrendered action")
	}
}
