import assert from 'node:assert/strict';
import { test } from 'node:test';
import { escapeHidden, formatAgo, formatClock, formatLeft, hasHidden, MAX_MARKS, mixedScriptWords, plain, visibleParts } from './text.js';

test('hidden characters are marked, newlines kept on request', () => {
  assert.equal(plain('evil\u202Etxt.exe'), 'evil⟨U+202E⟩txt.exe');
  assert.equal(plain('zero\u200Bwidth'), 'zero⟨U+200B⟩width');
  assert.equal(plain('a\u00a0b'), 'a⟨U+00A0⟩b');
  assert.equal(plain('line\nbreak'), 'line⟨U+000A⟩break');
  assert.equal(plain('ok: é ü 東京 🙂'), 'ok: é ü 東京 🙂');
  assert.deepEqual(
    visibleParts('{\n  "a": "x\u2066y"\n}', true).map((p) => p.hidden),
    [false, true, false],
  );
  assert.equal(hasHidden('plain text'), false);
  assert.equal(hasHidden('x\uFEFF'), true);
  assert.equal(plain('\ud800'), '⟨U+D800⟩');
  // Every space but U+0020 is marked: the ones listed by hand too.
  for (const sp of ['\u1680', '\u2000', '\u200a', '\u202f', '\u205f', '\u3000']) {
    assert.equal(plain(`a${sp}b`), `a⟨U+${sp.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}⟩b`, `U+${sp.charCodeAt(0).toString(16)}`);
  }
});

test('a pile of combining marks is cut and marked', () => {
  const acute = '\u0301';
  const zalgo = 'a' + '\u0300\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309\u030A\u030B' + 'b';
  assert.equal(plain(zalgo), 'a\u0300\u0301\u0302\u0303\u0304⟨+7 marks⟩b');
  assert.deepEqual(
    visibleParts(zalgo).map((p) => [p.text, p.hidden, p.marks]),
    [['a\u0300\u0301\u0302\u0303\u0304', false, undefined], ['⟨+7 marks⟩', true, 7], ['b', false, undefined]],
  );
  // As many as a script stacks are drawn: MAX_MARKS, and text that needs them.
  assert.equal(plain('x' + acute.repeat(MAX_MARKS)), 'x' + acute.repeat(MAX_MARKS));
  assert.equal(plain('x' + acute.repeat(MAX_MARKS + 1)), 'x' + acute.repeat(MAX_MARKS) + '⟨+1 marks⟩');
  assert.equal(plain('Tiếng Việt, שָׁלוֹם, བཀྲ་ཤིས'), 'Tiếng Việt, שָׁלוֹם, བཀྲ་ཤིས');
  assert.equal(hasHidden('x' + acute.repeat(MAX_MARKS)), false);
  assert.equal(hasHidden('x' + acute.repeat(MAX_MARKS + 1)), true);
  // A hidden character among the marks is marked as itself, and splits the run.
  assert.equal(plain('x' + acute.repeat(3) + '\u034F' + acute.repeat(3)), 'x' + acute.repeat(3) + '⟨U+034F⟩' + acute.repeat(3));
  // Every run is cut, and nothing else is lost.
  assert.equal(plain(('y' + acute.repeat(40)).repeat(2)), ('y' + acute.repeat(MAX_MARKS) + '⟨+35 marks⟩').repeat(2));
  // Newlines kept, with marks next to them.
  assert.deepEqual(
    visibleParts('a\n' + 'b' + acute.repeat(9), true).map((p) => p.text),
    ['a\nb' + acute.repeat(MAX_MARKS), '⟨+4 marks⟩'],
  );
});

test('formatLeft', () => {
  const cases = [
    [0, 'expired'],
    [-5, 'expired'],
    [999, '0 s'],
    [42_000, '42 s'],
    [9 * 60_000 + 58_000, '9 min 58 s'],
    [3 * 3600_000 + 5 * 60_000, '3 h 05 min'],
    [52 * 3600_000, '2 d 4 h'],
    [59_999, '59 s'],
    [60_000, '1 min 00 s'],
    [3600_000 - 1, '59 min 59 s'],
    [3600_000, '1 h 00 min'],
    [24 * 3600_000 - 1, '23 h 59 min'],
    [24 * 3600_000, '1 d 0 h'],
  ];
  for (const [ms, want] of cases) assert.equal(formatLeft(ms), want, String(ms));
});

test('formatAgo', () => {
  const cases = [
    [-3000, 'just now'],
    [0, 'just now'],
    [999, 'just now'],
    [3000, '3 s ago'],
    [59_999, '59 s ago'],
    [4 * 60_000, '4 min ago'],
    [2 * 3600_000, '2 h ago'],
    [72 * 3600_000, '3 d ago'],
    [60_000, '1 min ago'],
    [3600_000 - 1, '59 min ago'],
    [3600_000, '1 h ago'],
    [48 * 3600_000 - 1, '47 h ago'],
    [48 * 3600_000, '2 d ago'],
  ];
  for (const [ms, want] of cases) assert.equal(formatAgo(ms), want, String(ms));
});

test('formatClock gives the date only when the time is not today', () => {
  const t = new Date(2026, 10, 25, 12, 10, 5).getTime();
  const today = formatClock(t, t + 3600_000);
  assert.match(today, /^\d\d:\d\d:\d\d$/);
  const other = formatClock(t, t + 2 * 24 * 3600_000);
  assert.notEqual(other, today);
  assert.ok(other.endsWith(` ${today}`), other);
});

test('escapeHidden writes hidden characters as JSON escapes, the values unchanged', () => {
  const cases = [
    ['{\n  "title": "Safe\u202Etxt.exe\u200B zero width"\n}', '{\n  "title": "Safe\\u202etxt.exe\\u200b zero width"\n}'],
    ['{"name": "Jean\u00a0Dupont"}', '{"name": "Jean\\u00a0Dupont"}'],
    ['{"private": "\u{F0000}"}', '{"private": "\\udb80\\udc00"}'],
    ['{"ok": "é ü 東京 🙂"}', '{"ok": "é ü 東京 🙂"}'],
    ['{"filler": "a\u3164b\uFE0F"}', '{"filler": "a\\u3164b\\ufe0f"}'],
  ];
  for (const [json, want] of cases) {
    const got = escapeHidden(json);
    assert.equal(got, want);
    assert.deepEqual(JSON.parse(got), JSON.parse(json));
    assert.equal(hasHidden(got.replaceAll('\n', '')), false);
  }
});

test('words that mix lookalike scripts are found', () => {
  assert.deepEqual(mixedScriptWords('{"url":"https://p\u0430ypal.com","title":"ok"}'), [
    { word: 'p\u0430ypal', scripts: ['Latin', 'Cyrillic'], letters: ['\u0430 U+0430 Cyrillic'] },
  ]);
  assert.deepEqual(mixedScriptWords('{"titl\u0435":"x","title":"y"}'), [
    { word: 'titl\u0435', scripts: ['Latin', 'Cyrillic'], letters: ['\u0435 U+0435 Cyrillic'] },
  ]);
  assert.deepEqual(mixedScriptWords('\u043f\u0440\u0438\u0432\u0435\u0442o \u043f\u0440\u0438\u0432\u0435\u0442o'), [
    { word: '\u043f\u0440\u0438\u0432\u0435\u0442o', scripts: ['Latin', 'Cyrillic'], letters: ['o U+006F Latin'] },
  ]);
  // Escaped letters count in keys and in arrays too.
  assert.deepEqual(mixedScriptWords('{"titl\\u0435":1}').map((w) => w.word), ['titl\u0435']);
  assert.deepEqual(mixedScriptWords('{"urls":["https://p\\u0430ypal.com"]}').map((w) => w.word), ['p\u0430ypal']);
  // A \u escape in JSON is the letter it stands for.
  assert.deepEqual(mixedScriptWords('{"url":"https://p\\u0430ypal.com"}'), [
    { word: 'p\u0430ypal', scripts: ['Latin', 'Cyrillic'], letters: ['\u0430 U+0430 Cyrillic'] },
  ]);
  // Armenian and Cherokee letters look Latin too.
  assert.deepEqual(mixedScriptWords('g\u0585\u0585gle \u13aaPPLE'), [
    { word: 'g\u0585\u0585gle', scripts: ['Latin', 'Armenian'], letters: ['\u0585 U+0585 Armenian'] },
    { word: '\u13aaPPLE', scripts: ['Latin', 'Cherokee'], letters: ['\u13aa U+13AA Cherokee'] },
  ]);
  // A tie names the letters of the later script in the list, as the CLI.
  assert.deepEqual(mixedScriptWords('\u0430a')[0].letters, ['\u0430 U+0430 Cyrillic']);
  // One script per word, and Latin with scripts that do not look alike,
  // are fine.
  assert.deepEqual(mixedScriptWords('Привет world café iPhone用 東京 123abc'), []);
});
