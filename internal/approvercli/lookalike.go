package approvercli

import (
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/hitl/durable-approvals/internal/termtext"
)

// lookalikeScripts are the scripts whose letters look alike (Latin a,
// Cyrillic а, Greek α): a word that mixes two of them is how a lookalike
// key or link is made ("pаypal.com" with a Cyrillic а). Mixing with other
// scripts (Han with Latin: "iPhone用") is common and not flagged. The web
// inbox checks the same scripts (text.js, mixedScriptWords).
var lookalikeScripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin},
	{"Cyrillic", unicode.Cyrillic},
	{"Greek", unicode.Greek},
}

// scriptOf is the lookalike script of r, or "".
func scriptOf(r rune) string {
	for _, s := range lookalikeScripts {
		if unicode.Is(s.table, r) {
			return s.name
		}
	}
	return ""
}

// mixedWord is a word whose letters come from more than one lookalike
// script, and its letters not of its most frequent one ("а U+0430
// Cyrillic").
type mixedWord struct {
	word    string
	letters []string
}

// mixedScriptWords returns the distinct words of s (runs of letters, marks
// and digits) that mix lookalike scripts, in order of appearance.
func mixedScriptWords(s string) []mixedWord {
	var out []mixedWord
	seen := map[string]bool{}
	words := strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsNumber(r) })
	for _, w := range words {
		if seen[w] {
			continue
		}
		seen[w] = true
		counts := map[string]int{}
		for _, r := range w {
			if sc := scriptOf(r); sc != "" {
				counts[sc]++
			}
		}
		if len(counts) < 2 {
			continue
		}
		main := ""
		for _, s := range lookalikeScripts { // ties go to the first listed, as in the inbox
			if counts[s.name] > counts[main] {
				main = s.name
			}
		}
		var letters []string
		for _, r := range w {
			if sc := scriptOf(r); sc != "" && sc != main {
				l := fmt.Sprintf("%c U+%04X %s", r, r, sc)
				if !slices.Contains(letters, l) {
					letters = append(letters, l)
				}
			}
		}
		out = append(out, mixedWord{word: w, letters: letters})
	}
	return out
}

// lookalikeWarning is the warning printed under arguments that hold words
// mixing lookalike scripts, or "".
func lookalikeWarning(args string) string {
	mixed := mixedScriptWords(args)
	if len(mixed) == 0 {
		return ""
	}
	var parts []string
	for _, m := range mixed[:min(len(mixed), 5)] {
		parts = append(parts, fmt.Sprintf("%s (%s)", termtext.Line(m.word), strings.Join(m.letters[:min(len(m.letters), 3)], ", ")))
	}
	more := ""
	if len(mixed) > 5 {
		more = fmt.Sprintf(" and %d more", len(mixed)-5)
	}
	return fmt.Sprintf("Warning:       some words mix letters of scripts that look alike: %s%s. Such a word can pass for another name, key or web address.",
		strings.Join(parts, "; "), more)
}
