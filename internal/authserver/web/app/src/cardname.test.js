import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argumentLabel, requestNames } from './cardname.js';

test('argumentLabel: the first text or number argument, on one line, cut', () => {
  assert.equal(argumentLabel('{"title":"Q3 results","body":"…"}'), 'title “Q3 results”');
  assert.equal(argumentLabel('{"draft":true,"tags":["a"],"title":"  two\\n lines "}'), 'title “two lines”');
  assert.equal(argumentLabel('{"title":"","id":42}'), 'id 42');
  assert.equal(argumentLabel(`{"title":"${'x'.repeat(50)}"}`), `title “${'x'.repeat(40)}…”`);
  assert.equal(argumentLabel(`{"title":"${'x'.repeat(40)}"}`), `title “${'x'.repeat(40)}”`, 'exactly 40 characters are not cut');
  assert.equal(argumentLabel('{"parent":null,"title":"Q3"}'), 'title “Q3”', 'null is no label');
  assert.equal(argumentLabel('{"title":"evil\\u202etxt"}'), 'title “evil⟨U+202E⟩txt”');
  assert.equal(argumentLabel('{"ok":true}'), '');
  assert.equal(argumentLabel('["a"]'), '');
  assert.equal(argumentLabel('not json'), '');
  assert.equal(argumentLabel(''), '');
});

const item = (key, tool, arg, toolCallId, workflowId = 'wf-1') => ({ key, tool, arg, toolCallId, workflowId });

test('requestNames: the tool and its first argument when that tells the requests apart', () => {
  const names = requestNames([
    item('a', 'publish_blog_post', 'title “Older”', 'call_older'),
    item('b', 'publish_blog_post', 'title “Newer”', 'call_newer'),
    item('c', 'delete_post', '', 'call_delete'),
  ]);
  assert.deepEqual([...names.values()], ['publish_blog_post, title “Older”', 'publish_blog_post, title “Newer”', 'delete_post']);
});

test('requestNames: the call, then the run, when the arguments leave two alike', () => {
  const names = requestNames([
    item('a', 'publish_blog_post', 'title “Same”', 'call_AbCdEf123456'),
    item('b', 'publish_blog_post', 'title “Same”', 'call_AbCdEf654321'),
    item('c', 'publish_blog_post', 'title “Other”', 'call_zz'),
    item('d', 'delete_post', '', 'call_1'),
    item('e', 'delete_post', '', 'call_2'),
  ]);
  assert.deepEqual(
    [...names.values()],
    [
      'publish_blog_post, title “Same”, call …123456',
      'publish_blog_post, title “Same”, call …654321',
      'publish_blog_post, title “Other”',
      'delete_post, call call_1',
      'delete_post, call call_2',
    ],
  );
  // Calls whose ends are alike are named whole; the same call of two runs
  // by its run.
  const more = requestNames([
    item('a', 't', '', 'call_a_000000'),
    item('b', 't', '', 'call_b_000000'),
    item('c', 'u', '', 'call_x', 'wf-1'),
    item('d', 'u', '', 'call_x', 'wf-2'),
  ]);
  assert.deepEqual([...more.values()], ['t, call call_a_000000', 't, call call_b_000000', 'u, call call_x, run wf-1', 'u, call call_x, run wf-2']);
  assert.equal(new Set(more.values()).size, 4);
});

test('argumentLabel: a long key or number is cut too', () => {
  assert.equal(argumentLabel(`{"${'k'.repeat(500)}":"v"}`), `${'k'.repeat(40)}… “v”`);
  assert.equal(argumentLabel(`{"n":${'9'.repeat(500)}}`), `n ${'9'.repeat(40)}…`);
  assert.equal(argumentLabel('{"two\\nlines\\u200b":"v"}'), 'two lines⟨U+200B⟩ “v”');
});

test('requestNames: names stay unique when the arguments and ids hold the separators', () => {
  // Run "2 7, call 3, run 4" of call 1 and, with the argument key
  // "k 5, call 1, run 2" (of 7), call 3 of run 4 read alike in full.
  const items = [
    item('p', 't', 'k 5', '1', '2 7, call 3, run 4'),
    item('p2', 't', 'k 5', '1', 'w'),
    item('q', 't', 'k 5, call 1, run 2 7', '3', '4'),
    item('q2', 't', 'k 5, call 1, run 2 7', '3', 'w'),
  ];
  const names = requestNames(items);
  assert.equal(new Set(names.values()).size, items.length, [...names.values()].join(' | '));
  // Names are numbered only then.
  assert.deepEqual([...names.values()].slice(0, 2), ['t, k 5, call 1, run 2 7, call 3, run 4, request 1 of 4', 't, k 5, call 1, run w, request 2 of 4']);
});

test('requestNames: hidden characters of the tool and ids are marked; an id of 8 characters is given whole', () => {
  const names = requestNames([
    item('a', 'pub\u202elish', '', 'call_000000\u200b01'),
    item('b', 'pub\u202elish', '', 'call_000000\u200b02'),
    item('c', 't', '', 'call_abc'),
    item('d', 't', '', 'call_abd'),
  ]);
  assert.deepEqual(
    [...names.values()],
    ['pub⟨U+202E⟩lish, call …000⟨U+200B⟩01', 'pub⟨U+202E⟩lish, call …000⟨U+200B⟩02', 't, call call_abc', 't, call call_abd'],
  );
  // An id of 9 characters is cut to its end.
  const nine = requestNames([item('a', 't', '', 'a12345678'), item('b', 't', '', 'b12345679')]);
  assert.deepEqual([...nine.values()], ['t, call …345678', 't, call …345679']);
  const whole = requestNames([
    item('a', 't', '', 'call\u200b_1', 'w\u202e1'),
    item('b', 't', '', 'call\u200b_1', 'w2'),
  ]);
  assert.deepEqual([...whole.values()], ['t, call call⟨U+200B⟩_1, run w⟨U+202E⟩1', 't, call call⟨U+200B⟩_1, run w2']);
});
