// cardname.js names the requests on the page for their buttons. Named by
// the tool alone, two cards of one tool had like-named buttons ("Approve
// publish_blog_post" twice), and a screen-reader user listing the buttons
// could not tell which card each belongs to. A name adds what the card
// shows and a human recognises: the first text argument (title “Q3
// results”), then, only when that leaves two requests alike, the end of
// the tool call id, the whole of it, and the run.

import { parse } from './json.js';
import { plain } from './text.js';

// MAX_VALUE_CHARS bounds the argument's value in a name: enough to
// recognise a title, short enough to hear.
const MAX_VALUE_CHARS = 40;
// CALL_TAIL is how many characters of the tool call id end a name that
// needs it ("call …Xk3f9Q"); shorter ids are given whole.
const CALL_TAIL = 6;

// argumentLabel is the first top-level member of the arguments (a JSON
// object) whose value is a non-empty string or a number, as `key “value”`
// (`key 42`), the value on one line and cut at MAX_VALUE_CHARS characters;
// '' when there is none or the arguments are not a JSON object.
export function argumentLabel(args) {
  let root;
  try {
    ({ root } = parse(args));
  } catch {
    return '';
  }
  if (root.type !== 'object') return '';
  for (const [keyText, v] of root.members) {
    if (v.type !== 'scalar') continue;
    const key = plain(JSON.parse(keyText));
    if (v.text.startsWith('"')) {
      const chars = Array.from(JSON.parse(v.text).replace(/\s+/g, ' ').trim());
      if (chars.length === 0) continue;
      const value = chars.length > MAX_VALUE_CHARS ? `${chars.slice(0, MAX_VALUE_CHARS).join('')}…` : chars.join('');
      return `${key} “${plain(value)}”`;
    }
    if (v.text !== 'true' && v.text !== 'false' && v.text !== 'null') return `${key} ${v.text}`;
  }
  return '';
}

// callTail is the end of a tool call id, or the whole of a short one.
function callTail(id) {
  const chars = Array.from(id);
  return chars.length > CALL_TAIL + 2 ? `…${chars.slice(-CALL_TAIL).join('')}` : id;
}

// requestNames names each item ({key, tool, arg: argumentLabel's,
// toolCallId, workflowId}) for its card's buttons: the tool and arg, with
// as much of the call and run as it takes to tell it apart from the
// others (a Map of key → name).
export function requestNames(items) {
  const levels = new Map(items.map((it) => [it.key, 0]));
  const nameOf = (it) => {
    const level = levels.get(it.key);
    const parts = [plain(it.tool)];
    if (it.arg) parts.push(it.arg);
    if (level === 1) parts.push(`call ${plain(callTail(it.toolCallId))}`);
    if (level >= 2) parts.push(`call ${plain(it.toolCallId)}`);
    if (level >= 3) parts.push(`run ${plain(it.workflowId)}`);
    return parts.join(', ');
  };
  for (let round = 0; round < 4; round++) {
    const byName = new Map();
    for (const it of items) {
      const n = nameOf(it);
      byName.set(n, [...(byName.get(n) || []), it]);
    }
    let bumped = false;
    for (const alike of byName.values()) {
      if (alike.length < 2) continue;
      for (const it of alike) {
        if (levels.get(it.key) < 3) {
          levels.set(it.key, levels.get(it.key) + 1);
          bumped = true;
        }
      }
    }
    if (!bumped) break;
  }
  return new Map(items.map((it) => [it.key, nameOf(it)]));
}
