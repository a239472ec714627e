package approvercli

import (
	"fmt"
	"strings"
	"testing"
)

// The warning names at most five words and says how many more there are,
// so that arguments full of them cannot fill the screen.
func TestLookalikeWarningBounded(t *testing.T) {
	var words []string
	for i := range 7 {
		words = append(words, fmt.Sprintf("p\u0430y%d", i))
	}
	warn := lookalikeWarning(`{"t":"` + strings.Join(words, " ") + `"}`)
	if n := strings.Count(warn, "U+0430"); n != 5 {
		t.Errorf("warning names %d words, want 5:\n%s", n, warn)
	}
	if !strings.Contains(warn, " and 2 more.") {
		t.Errorf("warning does not say how many more:\n%s", warn)
	}
}
