import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argumentLabel, requestNames } from './cardname.js';

test('argumentLabel: the first text or number argument, on one line, cut', () => {
  assert.equal(argumentLabel('{"title":"Q3 results","body":"…"}'), 'title “Q3 results”');
  assert.equal(argumentLabel('{"draft":true,"tags":["a"],"title":"  two\\n lines "}'), 'title “two lines”');
  assert.equal(argumentLabel('{"title":"","id":42}'), 'id 42');
  assert.equal(argumentLabel(`{"title":"${'x'.repeat(50)}"}`), `title “${'x'.repeat(40)}…”`);
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
