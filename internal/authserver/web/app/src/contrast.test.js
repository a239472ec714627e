// The style sheet's colours, in the light and the dark palette, against
// WCAG 2.2's contrast minimums: 4.5:1 for text (1.4.3), 3:1 for what
// identifies a control or its focus (1.4.11, 2.4.13). The pairs are read
// from the rules that paint them, so that a rule that paints a literal
// colour (white text on the dark palette's light blue buttons, 2.1:1) is
// caught too.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

const css = readFileSync(new URL('./app.css', import.meta.url), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');

// hex6 writes #abc as #aabbcc.
function hex6(h) {
  const s = h.slice(1).toLowerCase();
  return `#${s.length === 3 ? [...s].map((c) => c + c).join('') : s}`;
}

function vars(block) {
  const out = {};
  for (const m of block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{3}(?:[0-9a-f]{3})?)\b/gi)) out[m[1]] = hex6(m[2]);
  return out;
}

const [lightPart, darkPart] = css.split('@media (prefers-color-scheme: dark)');
const light = vars(lightPart.slice(0, lightPart.indexOf('}')));
const dark = { ...light, ...vars(darkPart.slice(0, darkPart.indexOf('}\n}'))) };

// rule returns the declarations of the rule whose selector list is
// exactly selector (outside @media blocks but the palettes').
function rule(selector) {
  for (const m of css.matchAll(/([^{}]+)\{([^{}]*)\}/g)) {
    if (m[1].trim() === selector) {
      const decls = {};
      for (const d of m[2].split(';')) {
        const i = d.indexOf(':');
        if (i > 0) decls[d.slice(0, i).trim()] = d.slice(i + 1).trim();
      }
      return decls;
    }
  }
  throw new Error(`no rule ${selector} in app.css`);
}

// colour resolves a declaration's colour (the last var() or hex in it)
// in palette p.
function colour(value, p) {
  const v = [...value.matchAll(/var\(--([\w-]+)\)|(#[0-9a-f]{3}(?:[0-9a-f]{3})?)\b|\b(white|black)\b/gi)].pop();
  assert.ok(v, `no colour in ${JSON.stringify(value)}`);
  if (v[1]) {
    assert.ok(p[v[1]], `--${v[1]} is not in the palette`);
    return p[v[1]];
  }
  if (v[3]) return v[3].toLowerCase() === 'white' ? '#ffffff' : '#000000';
  return hex6(v[2]);
}

function luminance(hex) {
  const n = parseInt(hex.slice(1), 16);
  const lin = (c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(n >> 16) + 0.7152 * lin((n >> 8) & 255) + 0.0722 * lin(n & 255);
}

function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

// [what, foreground (selector, property), background (selector, property
// or a palette name), minimum]
const CHECKS = [
  ['body text', ['body', 'color'], ['body', 'background'], 4.5],
  ['muted text on a card', ['.muted', 'color'], '--card', 4.5],
  ['muted text on the page', ['.muted', 'color'], '--bg', 4.5],
  ['a button', ['button', 'color'], ['button', 'background'], 4.5],
  ['a secondary button', ['button.secondary', 'color'], '--card', 4.5],
  ['a danger button', ['button.danger', 'color'], ['button.danger', 'background'], 4.5],
  ['the pending count', ['.count', 'color'], ['.count', 'background'], 4.5],
  ['the connection line', ['.conn', 'color'], ['.conn', 'background'], 4.5],
  ['the connection line, live', ['.conn[data-state="connected"]', 'color'], ['.conn[data-state="connected"]', 'background'], 4.5],
  ['a warning', ['.warn', 'color'], ['.warn', 'background'], 4.5],
  ['an alert', ['.alert', 'color'], ['.alert', 'background'], 4.5],
  ['an error', ['.error', 'color'], '--card', 4.5],
  ['a status: ok', ['.status[data-kind="ok"]', 'color'], '--card', 4.5],
  ['a status: warn', ['.status[data-kind="warn"]', 'color'], '--card', 4.5],
  ['a status: error', ['.status[data-kind="error"]', 'color'], '--card', 4.5],
  ['a link', ['a', 'color'], '--bg', 4.5],
  ['the border of a text field', ['input, textarea', 'border'], ['input, textarea', 'background'], 3],
  ['the focus ring on a card', [':focus-visible', 'outline'], '--card', 3],
  ['the focus ring on the page', [':focus-visible', 'outline'], '--bg', 3],
];

for (const [name, palette] of [
  ['light', light],
  ['dark', dark],
]) {
  test(`the ${name} palette has the contrast WCAG asks for`, () => {
    const low = [];
    for (const [what, [fs, fp], bg, min] of CHECKS) {
      const fg = colour(rule(fs)[fp], palette);
      const back = typeof bg === 'string' ? palette[bg.slice(2)] : colour(rule(bg[0])[bg[1]], palette);
      const r = contrast(fg, back);
      if (r < min) low.push(`${what}: ${fg} on ${back} is ${r.toFixed(2)}:1, want ${min}:1`);
    }
    assert.deepEqual(low, []);
  });
}

test('contrast is computed as WCAG does', () => {
  assert.equal(contrast('#ffffff', '#000000').toFixed(1), '21.0');
  assert.equal(contrast('#767676', '#ffffff').toFixed(2), '4.54');
});
