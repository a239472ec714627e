package scriptedmodel

import (
	"iter"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Tool names the script knows. They match the project's tool registry.
const (
	toolPublish = "publish_blog_post"
	toolSearch  = "search_posts"
	toolDelete  = "delete_post"
)

// maxCalls bounds the function calls of one scripted reply. It is above
// the workflow's per-turn limit on purpose, so that limit can be tested.
const maxCalls = 32

// call is one function call the script makes.
type call struct {
	Name string
	Args map[string]string
}

// plan is what the script does for one user prompt: either calls, or a
// text reply (without the "[scripted model] " prefix).
type plan struct {
	Calls []call
	Text  string
}

const helpText = "I am a scripted offline model; ask me to publish, search or delete a blog post."

// maxPrompt bounds the part of a prompt the script reads, which keeps the
// quote scanner's worst case small.
const maxPrompt = 4 << 10

// parsePrompt turns a user prompt into a plan. The earliest verb among
// publish / delete, remove / search, find, list decides the tool.
func parsePrompt(prompt string) plan {
	if len(prompt) > maxPrompt {
		prompt = strings.ToValidUTF8(prompt[:maxPrompt], "")
	}
	verb, rest := firstVerb(prompt)
	quoted := quotedStrings(prompt)
	switch verb {
	case "publish":
		titles := quoted
		if len(titles) == 0 {
			if t := afterMarker(rest, "called", "titled", "named", "entitled"); t != "" {
				titles = []string{t}
			}
		}
		if len(titles) == 0 {
			return plan{Text: "Which title? Say: publish the blog post called 'My title'."}
		}
		var p plan
		for _, t := range titles {
			if len(p.Calls) == maxCalls {
				break
			}
			p.Calls = append(p.Calls, call{Name: toolPublish, Args: map[string]string{"title": t}})
		}
		return p
	case "delete", "remove":
		target := ""
		if len(quoted) > 0 {
			target = quoted[0]
		} else {
			target = stripLeadingWords(rest, "the", "blog", "post", "posts", "called", "titled", "named", "with", "slug")
		}
		slug := slugify(target)
		if slug == "" {
			return plan{Text: "Which post? Say: delete post my-post-slug."}
		}
		return plan{Calls: []call{{Name: toolDelete, Args: map[string]string{"slug": slug}}}}
	case "search", "find", "list":
		q := ""
		if len(quoted) > 0 {
			q = quoted[0]
		} else {
			q = stripLeadingWords(rest, "for", "the", "all", "blog", "post", "posts", "about", "matching", "on", "with", "containing")
		}
		return plan{Calls: []call{{Name: toolSearch, Args: map[string]string{"query": q}}}}
	}
	return plan{Text: helpText}
}

// firstVerb finds the first word that is one of the script's verbs and
// returns it with the text after it.
func firstVerb(s string) (verb, rest string) {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			i += n
			continue
		}
		j := i
		for j < len(s) {
			r, n := utf8.DecodeRuneInString(s[j:])
			if !unicode.IsLetter(r) {
				break
			}
			j += n
		}
		switch w := strings.ToLower(s[i:j]); w {
		case "publish", "delete", "remove", "search", "find", "list":
			return w, s[j:]
		}
		i = j
	}
	return "", ""
}

// quotedStrings returns the non-empty texts between matching quotes: '…',
// "…", ‘…’ and “…”. A quote inside a word (don't) neither opens nor closes.
func quotedStrings(s string) []string {
	pairs := map[rune]rune{'\'': '\'', '"': '"', '‘': '’', '“': '”'}
	var out []string
	prev := ' '
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		closing, ok := pairs[r]
		if !ok || isWordRune(prev) {
			prev = r
			i += n
			continue
		}
		start := i + n
		end := -1
		for j := start; j < len(s); {
			c, m := utf8.DecodeRuneInString(s[j:])
			if c == closing {
				next, _ := utf8.DecodeRuneInString(s[j+m:])
				if j+m >= len(s) || !isWordRune(next) {
					end = j
					break
				}
			}
			j += m
		}
		if end < 0 {
			prev = r
			i += n
			continue
		}
		if t := strings.TrimSpace(s[start:end]); t != "" {
			out = append(out, t)
		}
		_, m := utf8.DecodeRuneInString(s[end:])
		prev = closing
		i = end + m
	}
	return out
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// afterMarker returns the text after the first of the marker words, up to
// the end of the sentence.
func afterMarker(s string, markers ...string) string {
	for w, rest := range wordsOf(s) {
		for _, m := range markers {
			if strings.EqualFold(strings.Trim(w, ",:"), m) {
				return trimSentence(rest)
			}
		}
	}
	return ""
}

// stripLeadingWords drops filler words from the start of s and returns the
// rest of the sentence.
func stripLeadingWords(s string, filler ...string) string {
	rest := s
outer:
	for w, after := range wordsOf(s) {
		for _, f := range filler {
			if strings.EqualFold(strings.Trim(w, ",:"), f) {
				rest = after
				continue outer
			}
		}
		break
	}
	return trimSentence(rest)
}

// wordsOf yields s's words (as strings.Fields splits them), each with the
// text of s after it, line breaks kept for trimSentence.
func wordsOf(s string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for {
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
			if s == "" {
				return
			}
			end := strings.IndexFunc(s, unicode.IsSpace)
			if end < 0 {
				end = len(s)
			}
			if !yield(s[:end], s[end:]) {
				return
			}
			s = s[end:]
		}
	}
}

// trimSentence is the first sentence of s, on its first line (a title
// given at a line's end, "titled Hello" then more on the next line, is
// "Hello"), its words one space apart.
func trimSentence(s string) string {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if i := strings.IndexAny(s, ".!?\r\n"); i >= 0 {
		s = s[:i]
	}
	return strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(s), ",;:")), " ")
}

// slugify mirrors the blog's slugs (activities.Slugify): lowercase ASCII
// letters and digits separated by single dashes, at most maxSlugLen
// characters.
func slugify(s string) string {
	var sb strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if sb.Len() >= maxSlugLen {
			break
		}
		if r < unicode.MaxASCII && isWordRune(r) {
			if dash && sb.Len() > 0 {
				sb.WriteByte('-')
			}
			dash = false
			sb.WriteRune(r)
			continue
		}
		dash = true
	}
	// A dash and a letter written at 79 characters make 81: cut as the
	// blog does, or delete_post would name a post publish never made.
	out := sb.String()
	if len(out) > maxSlugLen {
		out = out[:maxSlugLen]
	}
	return strings.TrimRight(out, "-")
}

// maxSlugLen is the blog's longest slug.
const maxSlugLen = 80
