// Package termtext owns how the project's command-line programs print text
// that others wrote (an approver's reason, a requester's name, tool
// arguments, the model's answer) on a terminal: control characters
// (escape sequences, carriage returns) and Unicode format characters (bidi
// overrides) could fake screen lines or drive the terminal, so text that
// holds any is printed Go-quoted instead, and in quoted text every
// character that is not printable is escaped: spaces other than ASCII's
// (a no-break space) too, so that the reader sees where they are.
package termtext

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line returns s unchanged if it is printable single-line text, else its
// Go-quoted form (a newline or a tab counts as not printable, and so does
// a byte that is not UTF-8: a lone 0x9b is a C1 control to some terminals).
func Line(s string) string {
	return quoteUnless(s, func(r rune) bool { return unicode.IsPrint(r) })
}

// Block is Line for multi-line text: newlines and tabs are kept (code, a
// table in the model's answer), anything else that is not printable gets
// the whole text quoted.
func Block(s string) string {
	return quoteUnless(s, func(r rune) bool { return r == '\n' || r == '\t' || unicode.IsPrint(r) })
}

// quoteUnless returns s if it is valid UTF-8 and ok holds for each of its
// runes, else s Go-quoted.
func quoteUnless(s string, ok func(rune) bool) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !ok(r) {
			return strconv.Quote(s)
		}
	}
	return s
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
