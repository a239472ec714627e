// text.js: how strings from the channel and times are shown. Nothing here
// touches the DOM; view.js renders the parts it returns with textContent.

// Characters that do not show as themselves: controls, format characters
// (bidi overrides, zero-width joiners), private-use, unassigned and lone
// surrogates, line and paragraph separators, spaces other than U+0020, and
// the other default-ignorable ones (variation selectors, a Hangul filler),
// as the CLI's editor escapes them.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/u;
const HIDDEN_G = new RegExp(HIDDEN.source, 'gu');

// MAX_MARKS is how many combining marks in a row are drawn on one letter.
// Scripts that stack marks (Vietnamese, pointed Hebrew, Tibetan) need a
// few; "Zalgo" text piles up dozens, which a browser paints far above and
// below the line, over the arguments around it and the card's buttons.
// The CLI quotes such text and escapes the marks past five
// (internal/termtext, MaxMarks).
export const MAX_MARKS = 5;
// A run of more marks than that, none of them hidden characters.
const MARKS = `(?:(?!${HIDDEN.source})\\p{M}){${MAX_MARKS + 1},}`;
const SHOWN_G = new RegExp(`${HIDDEN.source}|${MARKS}`, 'gu');

// codePoint returns "U+202E" for a one-character string.
export function codePoint(ch) {
  return 'U+' + ch.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
}

// visibleParts splits s into runs of plain text and single hidden
// characters, so that a bidi override or a zero-width space in an
// argument is shown as a marked ⟨U+202E⟩ instead of silently reordering
// or hiding what the approver reads. With keepNewlines, "\n" stays text
// (pretty-printed JSON); any other hidden character is marked. Of more
// than MAX_MARKS combining marks in a row, the first MAX_MARKS are drawn
// and the rest are one marked part, ⟨+N marks⟩ (marks: N), so that they
// cannot paint over other text and the approver sees they are there.
export function visibleParts(s, keepNewlines = false) {
  s = String(s);
  const parts = [];
  const text = (t) => {
    const p = parts[parts.length - 1];
    if (p && !p.hidden) p.text += t;
    else parts.push({ text: t, hidden: false });
  };
  let last = 0;
  for (const m of s.matchAll(SHOWN_G)) {
    if (keepNewlines && m[0] === '\n') continue;
    if (m.index > last) text(s.slice(last, m.index));
    last = m.index + m[0].length;
    const marks = Array.from(m[0]);
    if (marks.length > MAX_MARKS) {
      text(marks.slice(0, MAX_MARKS).join(''));
      const n = marks.length - MAX_MARKS;
      parts.push({ text: `⟨+${n} marks⟩`, hidden: true, marks: n });
      continue;
    }
    parts.push({ text: `⟨${codePoint(m[0])}⟩`, hidden: true, codePoint: codePoint(m[0]) });
  }
  if (last < s.length) text(s.slice(last));
  return parts;
}

// escapeHidden is JSON text s with every hidden character but "\n" (the
// line breaks of pretty-printed JSON) written as a \uXXXX escape, a
// surrogate pair for one beyond U+FFFF: in an edit box a bidi override
// would reorder the line and a zero-width space would not show. JSON's
// white space between tokens is space, tab, newline and carriage return,
// and pretty-printed JSON has no tab or carriage return outside its
// strings, so every character escaped is inside a string, where the escape
// is the same value.
export function escapeHidden(s) {
  return String(s).replace(HIDDEN_G, (ch) => {
    if (ch === '\n') return ch;
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}

// The scripts whose letters look alike (Latin a, Cyrillic а, Greek α,
// Armenian օ, Cherokee Ꭺ): a word that mixes two of them is how a
// lookalike key or link is made ("pаypal.com" with a Cyrillic а). Mixing
// with other scripts (Han with Latin: "iPhone用") is common and not
// flagged. Not caught: a word all of one script that looks like another
// ("раураӏ", all Cyrillic), and letters of no script (mathematical 𝐚) or of
// Latin's own compatibility forms (fullwidth ａ). The CLI checks the same
// scripts, in the same order, which also breaks ties
// (internal/approvercli, mixedScriptWords).
const LOOKALIKE_SCRIPTS = [
  ['Latin', /\p{Script=Latin}/u],
  ['Cyrillic', /\p{Script=Cyrillic}/u],
  ['Greek', /\p{Script=Greek}/u],
  ['Armenian', /\p{Script=Armenian}/u],
  ['Cherokee', /\p{Script=Cherokee}/u],
];
const WORD_G = /[\p{L}\p{M}\p{N}]+/gu;

// jsonStrings returns the keys and string values of the JSON text s,
// decoded, or nothing when s is not JSON.
function jsonStrings(s) {
  let v;
  try {
    v = JSON.parse(s);
  } catch {
    return [];
  }
  const out = [];
  const walk = (x) => {
    if (typeof x === 'string') out.push(x);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') {
      for (const [k, val] of Object.entries(x)) {
        out.push(k);
        walk(val);
      }
    }
  };
  walk(v);
  return out;
}

// mixedScriptWords returns the distinct words (runs of letters, marks and
// digits) of s that mix lookalike scripts, in order of appearance: each
// with the scripts it mixes and the letters not of its most frequent one
// ("а U+0430 Cyrillic"; a tie goes to the script listed first). When s is
// JSON, the words of its keys and string values count too, decoded: a
// \u0430 escape is a Cyrillic а.
export function mixedScriptWords(s) {
  const out = [];
  const seen = new Set();
  const texts = [String(s), ...jsonStrings(String(s))];
  const scriptOf = (ch) => LOOKALIKE_SCRIPTS.find(([, re]) => re.test(ch))?.[0];
  for (const text of texts) {
    for (const [word] of text.matchAll(WORD_G)) {
      if (seen.has(word)) continue;
      seen.add(word);
      const counts = new Map();
      for (const ch of word) {
        const sc = scriptOf(ch);
        if (sc) counts.set(sc, (counts.get(sc) ?? 0) + 1);
      }
      if (counts.size < 2) continue;
      const scripts = LOOKALIKE_SCRIPTS.map(([name]) => name).filter((name) => counts.has(name));
      let main = '';
      for (const name of scripts) if ((counts.get(name) ?? 0) > (counts.get(main) ?? 0)) main = name;
      const odd = [...new Set([...word].filter((ch) => scriptOf(ch) && scriptOf(ch) !== main))];
      out.push({ word, scripts, letters: odd.map((ch) => `${ch} ${codePoint(ch)} ${scriptOf(ch)}`) });
    }
  }
  return out;
}

// hasHidden reports whether s holds a character visibleParts would mark,
// or a run of marks it would cut.
export function hasHidden(s) {
  return new RegExp(SHOWN_G.source, 'u').test(String(s));
}

// plain is s with hidden characters written as ⟨U+XXXX⟩ (for one-line
// labels and announcements).
export function plain(s) {
  return visibleParts(String(s ?? '')).map((p) => p.text).join('');
}

// formatLeft is the time left until a deadline: "42 s", "9 min 58 s",
// "3 h 05 min", "2 d 4 h"; "expired" at or past it.
export function formatLeft(ms) {
  if (!(ms > 0)) return 'expired';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ${String(m % 60).padStart(2, '0')} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

// formatAgo is how long ago something happened: "just now", "3 s ago",
// "4 min ago", "2 h ago", "3 d ago". A time in the future (clock skew
// between the browser and Ably) is "just now".
export function formatAgo(ms) {
  if (!(ms >= 1000)) return 'just now';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

// formatClock is a time of day in the browser's zone, "12:10:05", or the
// date too when it is not today.
export function formatClock(ms, now = Date.now()) {
  const d = new Date(ms);
  const t = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  if (new Date(now).toDateString() === d.toDateString()) return t;
  return `${d.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' })} ${t}`;
}
