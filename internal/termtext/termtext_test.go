package termtext

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestLineAndBlock(t *testing.T) {
	tests := []struct{ in, line, block string }{
		{in: "looks good", line: "looks good", block: "looks good"},
		{in: "héllo, 世界", line: "héllo, 世界", block: "héllo, 世界"},
		{in: "bad\x1b[31mRED\x1b[0m idea", line: `"bad\x1b[31mRED\x1b[0m idea"`, block: `"bad\x1b[31mRED\x1b[0m idea"`},
		{in: "two\nlines", line: `"two\nlines"`, block: "two\nlines"},
		{in: "fake\rline", line: `"fake\rline"`, block: `"fake\rline"`},
		{in: "tab\there", line: `"tab\there"`, block: "tab\there"},
		{in: "name\tcount\nposts\t3", line: `"name\tcount\nposts\t3"`, block: "name\tcount\nposts\t3"},
		{in: "8-bit CSI \x9b31m", line: `"8-bit CSI \x9b31m"`, block: `"8-bit CSI \x9b31m"`},
		{in: "C1 as UTF-8 \u009b31m", line: `"C1 as UTF-8 \u009b31m"`, block: `"C1 as UTF-8 \u009b31m"`},
		{in: "evil\u202etxt.exe", line: `"evil\u202etxt.exe"`, block: `"evil\u202etxt.exe"`},
		// Spaces other than ASCII's look like one on a screen: in quoted
		// text they are escaped, so the reader sees where they are (a
		// red-team probe found a no-break space printed raw).
		{in: "Hello\u00a0Wörld", line: `"Hello\u00a0Wörld"`, block: `"Hello\u00a0Wörld"`},
		{in: "em\u2003space, ideographic\u3000space", line: `"em\u2003space, ideographic\u3000space"`, block: `"em\u2003space, ideographic\u3000space"`},
		{in: "zero\u200bwidth", line: `"zero\u200bwidth"`, block: `"zero\u200bwidth"`},
		// Printable to Go (marks and letters), yet shown as nothing:
		// variation selectors (a run of the supplement's can carry any
		// bytes unseen), the Hangul fillers and the combining grapheme
		// joiner. The web inbox marks them; so does the terminal.
		{in: "Hello\U000e0100\U000e0101", line: `"Hello\U000e0100\U000e0101"`, block: `"Hello\U000e0100\U000e0101"`},
		{in: "x\ufe0fy", line: `"x\ufe0fy"`, block: `"x\ufe0fy"`},
		{in: "admin\u3164", line: `"admin\u3164"`, block: `"admin\u3164"`},
		{in: "\u115f\u1160\uffa0", line: `"\u115f\u1160\uffa0"`, block: `"\u115f\u1160\uffa0"`},
		{in: "ta\u034fg", line: `"ta\u034fg"`, block: `"ta\u034fg"`},
		{in: "ok\u180bok", line: `"ok\u180bok"`, block: `"ok\u180bok"`},
		{in: "two\nlines\ufe0f", line: `"two\nlines\ufe0f"`, block: `"two\nlines\ufe0f"`},
		// The presentation selectors after a symbol or a keycap's base
		// show (as an emoji, or as text): a model's answer full of "⚠️"
		// was printed quoted on one line. After anything else, or twice
		// in a row, they are as invisible as any other.
		{in: "\u26a0\ufe0f Published.\nSee \u2764\ufe0f", line: `"⚠\ufe0f Published.\nSee ❤\ufe0f"`, block: "\u26a0\ufe0f Published.\nSee \u2764\ufe0f"},
		{in: "1\ufe0f\u20e3 \u2122\ufe0e", line: "1\ufe0f\u20e3 \u2122\ufe0e", block: "1\ufe0f\u20e3 \u2122\ufe0e"},
		{in: "\u2764\ufe0f\ufe0f", line: `"❤\ufe0f\ufe0f"`, block: `"❤\ufe0f\ufe0f"`},
		{in: "\u2764\ufe01", line: `"❤\ufe01"`, block: `"❤\ufe01"`},
		{in: "\u2764\U000e0100", line: `"❤\U000e0100"`, block: `"❤\U000e0100"`},
		// Combining marks: as many as a script stacks are printed as
		// they are; past MaxMarks in a row ("Zalgo" text, drawn over the
		// lines around it) the text is quoted and the rest escaped.
		{in: "Tiếng Việt, שָׁלוֹם, བཀྲ་ཤིས", line: "Tiếng Việt, שָׁלוֹם, བཀྲ་ཤིས", block: "Tiếng Việt, שָׁלוֹם, བཀྲ་ཤིས"},
		{in: "x" + strings.Repeat("\u0301", MaxMarks), line: "x" + strings.Repeat("\u0301", MaxMarks), block: "x" + strings.Repeat("\u0301", MaxMarks)},
		{in: "x" + strings.Repeat("\u0301", MaxMarks+2) + "y\u0301", line: `"x` + strings.Repeat("\u0301", MaxMarks) + `\u0301\u0301y` + "\u0301\"", block: `"x` + strings.Repeat("\u0301", MaxMarks) + `\u0301\u0301y` + "\u0301\""},
		{in: "Ok" + strings.Repeat("\u0336", 8) + "\n", line: `"Ok` + strings.Repeat("\u0336", MaxMarks) + `\u0336\u0336\u0336\n"`, block: `"Ok` + strings.Repeat("\u0336", MaxMarks) + `\u0336\u0336\u0336\n"`},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.line {
			t.Errorf("Line(%q) = %s, want %s", tt.in, got, tt.line)
		}
		if got := Block(tt.in); got != tt.block {
			t.Errorf("Block(%q) = %s, want %s", tt.in, got, tt.block)
		}
	}
}

func TestCell(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "-",
		" \n\t ":                "-",
		"not\n this\tweek":      "not this week",
		"bad\x1b[31mRED\x1b[0m": `"bad\x1b[31mRED\x1b[0m"`,
		"fine":                  "fine",
	} {
		if got := Cell(in); got != want {
			t.Errorf("Cell(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestError(t *testing.T) {
	for in, want := range map[string]string{
		"login refused":               "login refused",
		"two\nlines":                  "two; lines",
		"pending in wf-1, wf-\x1b[2J": `"pending in wf-1, wf-\x1b[2J"`,
	} {
		if got := Error(errors.New(in)); got != want {
			t.Errorf("Error(%q) = %s, want %s", in, got, want)
		}
	}
}

// FuzzText: whatever others wrote, what reaches the terminal holds no
// rune that is not printable (Block keeps newlines and tabs), no byte that
// is not UTF-8, and is the text itself or its Go-quoted form.
func FuzzText(f *testing.F) {
	for _, s := range []string{"looks good", "Ok\u0336\u0336\u0336\u0336\u0336\u0336\u0336", "bad\x1b[31mRED", "two\nlines", "8-bit \x9b31m", "evil\u202etxt", "no\u00a0break", "\xff", "", "\u26a0\ufe0f\ufe0f", "1\ufe0f\u20e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, tt := range []struct {
			name string
			fn   func(string) string
			keep func(rune) bool // runes besides the printable ones it may print as they are
		}{
			{"Line", Line, func(rune) bool { return false }},
			{"Block", Block, func(r rune) bool { return r == '\n' || r == '\t' }},
			{"Cell", Cell, func(rune) bool { return false }},
		} {
			got := tt.fn(s)
			if !utf8.ValidString(got) {
				t.Fatalf("%s(%q) = %q: not UTF-8", tt.name, s, got)
			}
			prev := rune(-1)
			var run marks
			for _, r := range got {
				if run.next(r) {
					t.Fatalf("%s(%q) = %q holds more than %d combining marks in a row", tt.name, s, got, MaxMarks)
				}
				// A presentation selector shows after a symbol or a
				// keycap's base, and only there.
				selector := (r == 0xfe0e || r == 0xfe0f) && (unicode.In(prev, unicode.So, unicode.Sm) || strings.ContainsRune("#*0123456789", prev))
				if (!unicode.IsPrint(r) || Invisible(r)) && !tt.keep(r) && !selector {
					t.Fatalf("%s(%q) = %q holds %U", tt.name, s, got, r)
				}
				prev = r
			}
			// The quoted form is strconv.Quote's, with Invisible
			// characters escaped too: it unquotes to the text.
			if unq, err := strconv.Unquote(got); tt.name != "Cell" && got != s && (err != nil || unq != s) {
				t.Fatalf("%s(%q) = %q: neither the text nor its quoted form", tt.name, s, got)
			}
			if tt.name != "Cell" && got != s && !strings.ContainsFunc(s, Invisible) && !strings.ContainsFunc(s, unicode.IsMark) && got != strconv.Quote(s) {
				t.Fatalf("%s(%q) = %q: not strconv.Quote's form", tt.name, s, got)
			}
		}
	})
}
