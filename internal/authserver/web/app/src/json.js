// json.js re-indents and compacts JSON text token by token, as Go's
// json.Indent and json.Compact do: every string and number literal stays
// byte for byte what it was. JSON.parse would merge duplicate keys (the
// last wins) and round big numbers, so the approver could read one value
// while the tool runs with another; here duplicates are kept, shown and
// reported, and numbers are never re-encoded.

// MAX_DEPTH bounds nesting, so that hostile text cannot exhaust the stack.
const MAX_DEPTH = 100;

// A JSON string literal: no raw control characters inside (RFC 8259).
// eslint-disable-next-line no-control-regex
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;

// JSONTextError is a syntax error at a byte offset of the text.
export class JSONTextError extends Error {
  constructor(message, offset) {
    super(`${message} at offset ${offset}`);
    this.name = 'JSONTextError';
    this.offset = offset;
  }
}

// parse reads text into a tree of {type: 'object', members: [[keyText,
// node]]}, {type: 'array', items}, or {type: 'scalar', text}, and lists
// the keys that appear more than once in one object (decoded).
export function parse(text) {
  if (typeof text !== 'string') throw new JSONTextError('not a string', 0);
  let i = 0;
  const duplicates = [];
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const token = (re, what) => {
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new JSONTextError(`expected ${what}`, i);
    i = re.lastIndex;
    return m[0];
  };
  const value = (depth) => {
    if (depth > MAX_DEPTH) throw new JSONTextError('nested too deeply', i);
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const members = [];
      const seen = new Set();
      ws();
      if (text[i] === '}') {
        i++;
        return { type: 'object', members };
      }
      for (;;) {
        ws();
        const key = token(STRING, 'a string key');
        const name = JSON.parse(key);
        if (seen.has(name) && !duplicates.includes(name)) duplicates.push(name);
        seen.add(name);
        ws();
        if (text[i] !== ':') throw new JSONTextError("expected ':'", i);
        i++;
        members.push([key, value(depth + 1)]);
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return { type: 'object', members };
        }
        throw new JSONTextError("expected ',' or '}'", i);
      }
    }
    if (c === '[') {
      i++;
      const items = [];
      ws();
      if (text[i] === ']') {
        i++;
        return { type: 'array', items };
      }
      for (;;) {
        items.push(value(depth + 1));
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return { type: 'array', items };
        }
        throw new JSONTextError("expected ',' or ']'", i);
      }
    }
    if (c === '"') return { type: 'scalar', text: token(STRING, 'a string') };
    if (c === '-' || (c >= '0' && c <= '9')) return { type: 'scalar', text: token(NUMBER, 'a number') };
    return { type: 'scalar', text: token(LITERAL, 'a value') };
  };
  const root = value(0);
  ws();
  if (i !== text.length) throw new JSONTextError('unexpected text after the value', i);
  return { root, duplicates };
}

function render(node, indent, prefix) {
  const nl = indent ? '\n' : '';
  const inner = prefix + indent;
  switch (node.type) {
    case 'object':
      if (node.members.length === 0) return '{}';
      return `{${nl}${node.members
        .map(([k, v]) => `${inner}${k}:${indent ? ' ' : ''}${render(v, indent, inner)}`)
        .join(`,${nl}`)}${nl}${prefix}}`;
    case 'array':
      if (node.items.length === 0) return '[]';
      return `[${nl}${node.items.map((v) => inner + render(v, indent, inner)).join(`,${nl}`)}${nl}${prefix}]`;
    default:
      return node.text;
  }
}

// indent returns text re-indented by two spaces, and its duplicate keys.
export function indent(text) {
  const { root, duplicates } = parse(text);
  return { text: render(root, '  ', ''), duplicates };
}

// compact returns text without insignificant whitespace, and its duplicate
// keys, and whether the value is an object.
export function compact(text) {
  const { root, duplicates } = parse(text);
  return { text: render(root, '', ''), duplicates, isObject: root.type === 'object' };
}
