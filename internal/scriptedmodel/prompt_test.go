package scriptedmodel

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hitl/durable-approvals/activities"
)

func TestParsePrompt(t *testing.T) {
	pub := func(titles ...string) []call {
		var out []call
		for _, tl := range titles {
			out = append(out, call{Name: toolPublish, Args: map[string]string{"title": tl}})
		}
		return out
	}
	del := func(slug string) []call { return []call{{Name: toolDelete, Args: map[string]string{"slug": slug}}} }
	search := func(q string) []call { return []call{{Name: toolSearch, Args: map[string]string{"query": q}}} }
	var many, manyTitles []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("'T%d'", i))
		if i < 32 {
			manyTitles = append(manyTitles, fmt.Sprintf("T%d", i))
		}
	}
	// A title after the marker word whose last rune straddles the
	// 4 KiB cut: the cut rune is dropped, not left as invalid UTF-8.
	head := "publish the post called "
	straddle := head + strings.Repeat("a", 4096-len(head)-1) + "é"
	tests := []struct {
		name, prompt string
		calls        []call
		text         string // substring of the text reply when no calls
	}{
		{"named", "publish a post named Foo Bar", pub("Foo Bar"), ""},
		{"entitled", "publish the post entitled Bar", pub("Bar"), ""},
		{"marker with colon", "publish the post called: Baz", pub("Baz"), ""},
		{"marker in capitals", "publish the post CALLED Qux", pub("Qux"), ""},
		{"title ends at a question mark", "publish the post titled Why Go? It is fast", pub("Why Go"), ""},
		{"smart single quotes", "publish ‘Smart one’", pub("Smart one"), ""},
		{"smart double quotes", "publish “Curly”", pub("Curly"), ""},
		{"quoted title trimmed", "publish ' Spaced  '", pub("Spaced"), ""},
		{"adjacent quotes", "publish 'A''B'", pub("A", "B"), ""},
		{"apostrophes inside words", "publish Bob's post called 'It's Go's'", pub("It's Go's"), ""},
		{"at most 32 calls", "publish " + strings.Join(many, " "), pub(manyTitles...), ""},
		{"only the first 4 KiB read", "publish " + strings.Repeat(" ", 4096) + "'Late'", nil, "Which title?"},
		{"cut inside a rune", straddle, pub(strings.Repeat("a", 4096-len(head)-1)), ""},
		{"delete first quoted", "delete 'one' and 'two'", del("one"), ""},
		{"delete titled", "delete the post titled Old News", del("old-news"), ""},
		{"unterminated quote", "publish 'unterminated", nil, "Which title?"},
		{"delete with slug", "delete the post with slug old-news", del("old-news"), ""},
		{"delete non-ASCII dropped", "delete post café-news", del("caf-news"), ""},
		{"delete leading dash", "delete post -old", del("old"), ""},
		{"find", "find posts about Go", search("Go"), ""},
		{"search first quoted", "search 'a' or 'b'", search("a"), ""},
		{"search filler with colon", "search posts about: Go", search("Go"), ""},
		{"search trailing semicolon", "search posts about go;", search("go"), ""},
		{"title ends at a line break", "publish a post titled Hello\nThen tell me more", pub("Hello"), ""},
		{"title on the next line", "publish a post titled\n  Hello World\nThanks", pub("Hello World"), ""},
		{"title ends at CRLF", "publish a post titled Hello\r\nThanks", pub("Hello"), ""},
		{"title spaces made one", "publish a post titled Hello \t  World", pub("Hello World"), ""},
		{"delete ends at a line break", "delete the post old-news\nand tell me", del("old-news"), ""},
		{"search ends at a line break", "search posts about Go\nplease", search("Go"), ""},
		{"filler only", "search the posts", search(""), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parsePrompt(tt.prompt)
			if !reflect.DeepEqual(p.Calls, tt.calls) {
				t.Errorf("calls = %v, want %v", p.Calls, tt.calls)
			}
			if tt.calls == nil && !strings.Contains(p.Text, tt.text) {
				t.Errorf("text = %q, want it to contain %q", p.Text, tt.text)
			}
			for _, c := range p.Calls {
				for _, v := range c.Args {
					if !utf8.ValidString(v) {
						t.Errorf("argument %q is not valid UTF-8", v)
					}
				}
			}
		})
	}
}

// slugify mirrors the blog's Slugify (which names a post that is left
// with nothing "post"), so delete_post targets the file publish made.
func TestSlugifyMirrorsTheBlog(t *testing.T) {
	for _, title := range []string{
		"Old News!", "  Hello,   World  ", "café au lait", "-x-", "ÀÉ", "",
		strings.Repeat("a", 100),
		strings.Repeat("a", 79) + " b",
		strings.Repeat("a", 78) + " bc",
		strings.Repeat("ab ", 40),
		strings.Repeat("a", 80) + " b",
	} {
		got, want := slugify(title), activities.Slugify(title)
		if got == "" {
			got = "post"
		}
		if got != want || len(got) > 80 {
			t.Errorf("slugify(%q) = %q, the blog's slug is %q", title, got, want)
		}
	}
}

func TestSummarise(t *testing.T) {
	long := strings.Repeat("é", 600)
	for _, tt := range []struct{ output, want string }{
		{"  ok \n", "Done: t → ok"},
		{"Rejected by bob (admin): no", "t was rejected: Rejected by bob (admin): no"},
		{"approval expired after 10m0s", "t did not run: approval expired after 10m0s"},
		{"tool failed: disk full", "t did not run: tool failed: disk full"},
		{"Denied: no policy", "t did not run: Denied: no policy"},
		{long, "Done: t → " + strings.Repeat("é", 500) + "…"},
		{strings.Repeat("é", 500), "Done: t → " + strings.Repeat("é", 500)},
	} {
		if got := summarise("t", tt.output); got != tt.want {
			t.Errorf("summarise(%.40q) = %.80q, want %.80q", tt.output, got, tt.want)
		}
	}
}

// The script acts only on a trailing user message: after an assistant,
// system or developer message it gives the help text.
func TestScriptActsOnlyOnUserPrompt(t *testing.T) {
	for _, role := range []string{"assistant", "system", "developer"} {
		p := script([]conv{
			{Type: "message", Role: "user", Text: "hi"},
			{Type: "message", Role: role, Text: "publish 'B'"},
		}, allTools)
		if len(p.Calls) != 0 || p.Text != helpText {
			t.Errorf("after a %s message: %+v, want the help text", role, p)
		}
	}
}

// Content parts are joined in order.
func TestFlattenTextJoinsParts(t *testing.T) {
	got, err := flattenText(json.RawMessage(`[{"type":"input_text","text":"publish the post "},{"type":"input_text","text":"called 'X'"}]`))
	if err != nil || got != "publish the post called 'X'" {
		t.Errorf("flattenText = %q, %v", got, err)
	}
}
