package devstack

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// postsByRun counts the published posts (*.md) in dir by the workflow id
// in their front matter ("workflow_id: <JSON string>", written by the
// blog tool). A post without one counts under "".
func postsByRun(dir string) (map[string]int, error) {
	names, err := ListPosts(dir)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, name := range names {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read post: %w", err)
		}
		counts[postWorkflowID(data)]++
	}
	return counts, nil
}

// postWorkflowID returns the workflow_id of a post's front matter, or "".
func postWorkflowID(post []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(post))
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if i > 0 && line == "---" {
			return ""
		}
		if v, ok := strings.CutPrefix(line, "workflow_id: "); ok {
			var id string
			if json.Unmarshal([]byte(v), &id) != nil {
				return ""
			}
			return id
		}
	}
	return ""
}

// exactlyOnce reports how many of the runs want published exactly one
// post, and each run (or stray post) that did not.
func exactlyOnce(counts map[string]int, want []string) (ok int, problems []string) {
	wanted := make(map[string]bool, len(want))
	for _, id := range want {
		wanted[id] = true
		switch n := counts[id]; n {
		case 1:
			ok++
		case 0:
			problems = append(problems, fmt.Sprintf("run %s published no post", id))
		default:
			problems = append(problems, fmt.Sprintf("run %s published %d posts", id, n))
		}
	}
	for id, n := range counts {
		if !wanted[id] {
			problems = append(problems, fmt.Sprintf("%d post(s) of an unknown run %q", n, id))
		}
	}
	slices.Sort(problems)
	return ok, problems
}
