// Package termtext owns how the project's command-line programs print text
// that others wrote (an approver's reason, a requester's name, tool
// arguments, the model's answer) on a terminal: control characters
// (escape sequences, carriage returns) and Unicode format characters (bidi
// overrides) could fake screen lines or drive the terminal, so text that
// holds any is printed Go-quoted instead, and in quoted text every
// character that is not printable is escaped: spaces other than ASCII's
// (a no-break space) too, so that the reader sees where they are, and the
// characters Go counts as printable that show as nothing (Invisible).
package termtext

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s unchanged if it is printable single-line text, else its
// Go-quoted form (a newline or a tab counts as not printable, and so does
// a byte that is not UTF-8: a lone 0x9b is a C1 control to some terminals,
// and so does an Invisible character).
func Line(s string) string {
	return quoteUnless(s, shows)
}

// Block is Line for multi-line text: newlines and tabs are kept (code, a
// table in the model's answer), anything else that is not printable gets
// the whole text quoted.
func Block(s string) string {
	return quoteUnless(s, func(r rune) bool { return r == '\n' || r == '\t' || shows(r) })
}

// Invisible reports whether r is one of the characters that Go's
// unicode.IsPrint counts as printable (they are marks or letters) but
// that a terminal shows as nothing: the variation selectors (a run of
// U+E0100 to U+E01EF after a word can carry any bytes unseen) and the
// other default-ignorable code points (the Hangul fillers, the combining
// grapheme joiner). The web inbox marks them too (text.js, HIDDEN).
func Invisible(r rune) bool {
	return unicode.In(r, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point)
}

// shows reports whether r shows as itself on a screen.
func shows(r rune) bool { return unicode.IsPrint(r) && !Invisible(r) }

// MaxMarks is how many combining marks in a row a letter may carry and be
// printed as they are. Scripts that stack marks (Vietnamese, pointed
// Hebrew, Tibetan) need a few; "Zalgo" text piles up dozens, which
// terminals draw over the lines above and below. Text with a longer run is
// quoted, and the marks past MaxMarks are escaped. The web inbox draws as
// many (text.js, MAX_MARKS).
const MaxMarks = 5

// marks counts the combining marks in a row as a text is read rune by
// rune.
type marks int

// next reports whether r is a combining mark past MaxMarks in a row.
func (m *marks) next(r rune) bool {
	if !unicode.Is(unicode.M, r) {
		*m = 0
		return false
	}
	*m++
	return *m > MaxMarks
}

// presentation reports whether r, after prev, is the one variation
// selector that picks how the symbol prev is drawn: U+FE0E as text,
// U+FE0F as an emoji ("⚠️", "❤️", the keycap "1️⃣"), common in a model's
// answer. It shows, as that presentation, and is no Invisible character
// there; any other variation selector, or a second one in a row, is.
func presentation(prev, r rune) bool {
	return (r == '\ufe0e' || r == '\ufe0f') &&
		(unicode.In(prev, unicode.So, unicode.Sm) || prev == '#' || prev == '*' || '0' <= prev && prev <= '9')
}

// quoteUnless returns s if it is valid UTF-8 and ok holds for each of its
// runes (or the rune is a presentation selector), else quote(s).
func quoteUnless(s string, ok func(rune) bool) string {
	if !utf8.ValidString(s) {
		return quote(s)
	}
	prev := rune(-1)
	var run marks
	for _, r := range s {
		if run.next(r) || !ok(r) && !presentation(prev, r) {
			return quote(s)
		}
		prev = r
	}
	return s
}

// quote is s Go-quoted, with the Invisible characters and the combining
// marks past MaxMarks in a row, which strconv.Quote keeps as they are,
// escaped too: the result unquotes to s.
func quote(s string) string {
	q := strconv.Quote(s)
	var b strings.Builder
	var run marks
	for _, r := range q {
		switch past := run.next(r); {
		case !Invisible(r) && !past:
			b.WriteRune(r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// Cell is s as one cell of a table: its runs of white space (newlines and
// tabs included) collapsed to one space, "-" when that leaves nothing, and
// Go-quoted like Line when anything else in it is not printable.
func Cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "-"
	}
	return Line(s)
}

// Error is err's text as a program's last line on the terminal: its
// newlines joined with "; ", and quoted like Line if anything else in it
// is not printable (an error may quote what others published: a workflow
// id, a model endpoint's message).
func Error(err error) string {
	return Line(strings.ReplaceAll(err.Error(), "\n", "; "))
}
