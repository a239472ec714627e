// Package termtext owns how the project's command-line programs print text
// that others wrote (an approver's reason, a requester's name, tool
// arguments, the model's answer) on a terminal: control characters
// (escape sequences, carriage returns) and Unicode format characters (bidi
// overrides) could fake screen lines or drive the terminal, so text that
// holds any is printed Go-quoted instead.
package termtext

import (
	"strconv"
	"strings"
	"unicode"
)

// Line returns s unchanged if it is printable single-line text, else its
// Go-quoted form (a newline or a tab counts as not printable).
func Line(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.QuoteToGraphic(s)
		}
	}
	return s
}

// Block is Line for multi-line text: newlines are kept, anything else that
// is not printable gets the whole text quoted.
func Block(s string) string {
	for _, r := range s {
		if r != '\n' && !unicode.IsPrint(r) {
			return strconv.QuoteToGraphic(s)
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
