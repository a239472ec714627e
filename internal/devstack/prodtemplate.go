package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"text/template"
)

// renderDockerize renders a config template the way the temporalio/server
// image's entrypoint does with dockerize: .Env is the environment, and the
// functions are dockerize's (default, lower, upper, split, trim, replace,
// contains). So the no-Docker stack runs the very template compose mounts
// (deploy/temporal/config_template.yaml).
func renderDockerize(name string, tmpl []byte, env map[string]string) ([]byte, error) {
	t, err := template.New(name).Funcs(dockerizeFuncs).Parse(string(tmpl))
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, struct{ Env map[string]string }{env}); err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	return out.Bytes(), nil
}

var dockerizeFuncs = template.FuncMap{
	"default":  dockerizeDefault,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"split":    strings.Split,
	"trim":     strings.TrimSpace,
	"replace":  strings.Replace,
	"contains": func(m map[string]string, k string) bool { _, ok := m[k]; return ok },
}

// dockerizeDefault is dockerize's default: the first argument unless it is
// missing (an unset variable), else the second. A variable set to "" is
// kept, as dockerize keeps it.
func dockerizeDefault(args ...any) (string, error) {
	if len(args) == 0 {
		return "", errors.New("default called with no values")
	}
	if args[0] != nil {
		s, ok := args[0].(string)
		if !ok {
			return "", fmt.Errorf("default: %v is not a string", args[0])
		}
		return s, nil
	}
	if len(args) < 2 {
		return "", errors.New("default called with no default value")
	}
	s, ok := args[1].(string)
	if !ok {
		return "", errors.New("default: the default is not a string (quote it)")
	}
	return s, nil
}
