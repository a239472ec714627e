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

// A mark a terminal shows as nothing (a variation selector) inside a
// flagged word is shown escaped, as in the arguments above the warning.
func TestLookalikeWarningShowsInvisibleMarks(t *testing.T) {
	warn := lookalikeWarning("{\"t\":\"p\u0430\U000e0100y\"}")
	if strings.ContainsRune(warn, '\U000e0100') || !strings.Contains(warn, `\U000e0100`) {
		t.Errorf("warning does not escape the variation selector:\n%q", warn)
	}
}
