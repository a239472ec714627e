import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compact, indent, JSONTextError } from './json.js';

test('indent keeps every literal byte for byte', () => {
  const cases = [
    { in: '{"title":"Introducing our new API"}', out: '{\n  "title": "Introducing our new API"\n}' },
    { in: '{}', out: '{}' },
    { in: '[]', out: '[]' },
    { in: ' [1, 2.50, -0, 1e400, 12345678901234567890] ', out: '[\n  1,\n  2.50,\n  -0,\n  1e400,\n  12345678901234567890\n]' },
    { in: '{"a":{"b":[true,false,null]},"c":"\\u202e\\n"}', out: '{\n  "a": {\n    "b": [\n      true,\n      false,\n      null\n    ]\n  },\n  "c": "\\u202e\\n"\n}' },
    { in: '"just a string"', out: '"just a string"' },
  ];
  for (const c of cases) {
    assert.equal(indent(c.in).text, c.out, c.in);
  }
});

test('duplicate keys are kept and reported, as JSON.parse would hide them', () => {
  const text = '{"title":"Quarterly update","body":"x","TITLE":"no","title":"We are shutting down"}';
  const { text: out, duplicates } = indent(text);
  assert.deepEqual(duplicates, ['title']);
  assert.match(out, /"Quarterly update"/);
  assert.match(out, /"We are shutting down"/);
  // Keys equal after unescaping are duplicates too.
  assert.deepEqual(compact('{"slug":1,"\\u0073lug":2}').duplicates, ['slug']);
  assert.deepEqual(compact('{"a":{"x":1},"b":{"x":2}}').duplicates, []);
});

test('compact removes whitespace only', () => {
  assert.deepEqual(compact('{ "title" : "A  B",\n "n": [ 1 , 2 ] }'), { text: '{"title":"A  B","n":[1,2]}', duplicates: [], isObject: true });
  assert.equal(compact('[1]').isObject, false);
  // The edit box takes one JSON object: no other value is one.
  for (const text of ['"text"', '42', 'true', 'null', '[]', '[{}]']) assert.equal(compact(text).isObject, false, text);
  assert.equal(compact('{}').isObject, true);
});

test('a key repeated many times is reported once', () => {
  assert.deepEqual(compact('{"a":1,"a":2,"a":3,"b":4,"b":5}').duplicates, ['a', 'b']);
});

test('invalid JSON is refused with an offset', () => {
  for (const bad of ['', '{', '{"a" 1}', '{"a":1,}', '[1 2]', '{"a":01}', '"\u0001"', 'nul', '{"a":1} x', "{'a':1}", '{"a":NaN}']) {
    assert.throws(() => indent(bad), JSONTextError, JSON.stringify(bad));
  }
  assert.throws(() => indent('['.repeat(1000) + ']'.repeat(1000)), /nested too deeply/);
  // The limit: 101 nested arrays (the innermost at depth 100) are read, 102 are not.
  assert.equal(compact('['.repeat(101) + ']'.repeat(101)).text, '['.repeat(101) + ']'.repeat(101));
  assert.throws(() => compact('['.repeat(102) + ']'.repeat(102)), /nested too deeply/);
  assert.throws(() => compact('{"a":'.repeat(102) + '1' + '}'.repeat(102)), /nested too deeply/);
});
