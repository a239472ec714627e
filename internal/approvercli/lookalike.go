package approvercli

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/hitl/durable-approvals/internal/termtext"
)

// lookalikeScripts are the scripts whose letters look alike (Latin a,
// Cyrillic а, Greek α, Armenian օ, Cherokee Ꭺ): a word that mixes two of
// them is how a lookalike key or link is made ("pаypal.com" with a
// Cyrillic а). Mixing with other scripts (Han with Latin: "iPhone用") is
// common and not flagged. Not caught: a word all of one script that looks
// like another ("раураӏ", all Cyrillic), and letters of no script
// (mathematical 𝐚) or of Latin's own compatibility forms (fullwidth ａ).
// The web inbox checks the same scripts, in the same order, which also
// breaks ties (text.js, mixedScriptWords).
var lookalikeScripts = []struct {
	name  string
	table *unicode.RangeTable
}{
	{"Latin", unicode.Latin},
	{"Cyrillic", unicode.Cyrillic},
	{"Greek", unicode.Greek},
	{"Armenian", unicode.Armenian},
	{"Cherokee", unicode.Cherokee},
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

// mixedScriptWords returns the distinct words (runs of letters, marks and
// digits) of s that mix lookalike scripts, in order of appearance. When s
// is JSON, the words of its keys and string values count too, decoded: a
// \u0430 escape is a Cyrillic а.
func mixedScriptWords(s string) []mixedWord {
	var out []mixedWord
	seen := map[string]bool{}
	notWord := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsNumber(r) }
	words := strings.FieldsFunc(s, notWord)
	for _, text := range jsonStrings(s) {
		words = append(words, strings.FieldsFunc(text, notWord)...)
	}
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

// jsonStrings returns the keys and string values of the JSON text s,
// decoded, or nothing when s is not JSON.
func jsonStrings(s string) []string {
	dec := json.NewDecoder(strings.NewReader(s))
	var out []string
	for {
		tok, err := dec.Token()
		if err != nil {
			return out // io.EOF at the end; what came before a syntax error counts
		}
		if str, ok := tok.(string); ok {
			out = append(out, str)
		}
	}
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
