package approvercli

import (
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestMixedScriptWords(t *testing.T) {
	tests := []struct {
		in   string
		want []mixedWord
	}{
		{`{"url":"https://p` + "\u0430" + `ypal.com","title":"ok"}`, []mixedWord{{"p\u0430ypal", []string{"\u0430 U+0430 Cyrillic"}}}},
		{`{"titl` + "\u0435" + `":"x","title":"y"}`, []mixedWord{{"titl\u0435", []string{"\u0435 U+0435 Cyrillic"}}}},
		{"\u043f\u0440\u0438\u0432\u0435\u0442o \u043f\u0440\u0438\u0432\u0435\u0442o", []mixedWord{{"\u043f\u0440\u0438\u0432\u0435\u0442o", []string{"o U+006F Latin"}}}},
		// A \u escape in JSON is the letter it stands for.
		{`{"url":"https://p\u0430ypal.com"}`, []mixedWord{{"p\u0430ypal", []string{"\u0430 U+0430 Cyrillic"}}}},
		// Armenian and Cherokee letters look Latin too.
		{"g\u0585\u0585gle \u13aaPPLE", []mixedWord{{"g\u0585\u0585gle", []string{"\u0585 U+0585 Armenian"}}, {"\u13aaPPLE", []string{"\u13aa U+13AA Cherokee"}}}},
		// Greek letters look Latin too.
		{"\u03b1pple", []mixedWord{{"\u03b1pple", []string{"\u03b1 U+03B1 Greek"}}}},
		// A combining mark is part of its word: it does not split off the
		// letter after it.
		{"ab\u0301\u0441", []mixedWord{{"ab\u0301\u0441", []string{"\u0441 U+0441 Cyrillic"}}}},
		// A tie names the letters of the later script in the table, as the
		// inbox does.
		{"\u0430a", []mixedWord{{"\u0430a", []string{"\u0430 U+0430 Cyrillic"}}}},
		// One script per word, and Latin with scripts that do not look
		// alike, are fine.
		{"Привет world café iPhone用 東京 123abc", nil},
	}
	for _, tt := range tests {
		if got := mixedScriptWords(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("mixedScriptWords(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// The approval request the CLI prints carries the warning under the
// arguments.
func TestWriteRequestWarnsOfLookalikes(t *testing.T) {
	var b strings.Builder
	r := Request{}
	r.Tool, r.ToolCallID, r.Arguments = "publish_blog_post", "call_1", `{"title":"Pay at https://p`+"\u0430"+`ypal.com"}`
	writeRequest(&b, r, t0)
	if want := "Warning:       some words mix letters of scripts that look alike: p\u0430ypal (\u0430 U+0430 Cyrillic)."; !strings.Contains(b.String(), want) {
		t.Errorf("request lacks %q:\n%s", want, b.String())
	}
	b.Reset()
	r.Arguments = `{"title":"Plain"}`
	writeRequest(&b, r, t0)
	if strings.Contains(b.String(), "Warning:") {
		t.Errorf("a plain request warns:\n%s", b.String())
	}
}

// FuzzLookalikeWarning: arguments are the model's or an approver's text,
// decoded as JSON where they are JSON. Whatever they hold, the warning
// printed under them is one line of printable text, and there is one
// exactly when a word mixes lookalike scripts.
func FuzzLookalikeWarning(f *testing.F) {
	for _, s := range []string{`{"title":"pаypal.com"}`, `{"t\u0430g":"x"}`, `{"title":"iPhone用"}`, "p\u0430y\x1b[31m", `{"a":"\ud800"}`, `{"a":`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, args string) {
		w := lookalikeWarning(args)
		if (w == "") != (len(mixedScriptWords(args)) == 0) {
			t.Fatalf("warning %q for %d mixed words", w, len(mixedScriptWords(args)))
		}
		if !utf8.ValidString(w) {
			t.Fatalf("warning %q is not UTF-8", w)
		}
		for _, r := range w {
			if !unicode.IsPrint(r) {
				t.Fatalf("warning %q holds %U", w, r)
			}
		}
	})
}
