// cardname.js names the requests on the page for their buttons. Named by
// the tool alone, two cards of one tool had like-named buttons ("Approve
// publish_blog_post" twice), and a screen-reader user listing the buttons
// could not tell which card each belongs to. A name adds what the card
// shows and a human recognises: the first text argument (title “Q3
// results”), then, only when that leaves two requests alike, the end of
// the tool call id, the whole of it, and the run.

import { parse } from './json.js';
import { plain } from './text.js';

// MAX_VALUE_CHARS bounds the argument's key and value in a name: enough
// to recognise a title, short enough to hear.
const MAX_VALUE_CHARS = 40;
// CALL_TAIL is how many characters of the tool call id end a name that
// needs it ("call …Xk3f9Q"); shorter ids are given whole.
const CALL_TAIL = 6;

// oneLine is s on one line, cut at MAX_VALUE_CHARS characters.
function oneLine(s) {
  const chars = Array.from(s.replace(/\s+/g, ' ').trim());
  return chars.length > MAX_VALUE_CHARS ? `${chars.slice(0, MAX_VALUE_CHARS).join('')}…` : chars.join('');
}

// argumentLabel is the first top-level member of the arguments (a JSON
// object) whose value is a non-empty string or a number, as `key “value”`
// (`key 42`), the key and value each on one line and cut at
// MAX_VALUE_CHARS characters; '' when there is none or the arguments are
// not a JSON object.
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
    const key = plain(oneLine(JSON.parse(keyText)));
    if (v.text.startsWith('"')) {
      const value = oneLine(JSON.parse(v.text));
      if (value === '') continue;
      return `${key} “${plain(value)}”`;
    }
    if (v.text !== 'true' && v.text !== 'false' && v.text !== 'null') return `${key} ${oneLine(v.text)}`;
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
// others (a Map of key → name). Arguments and ids that hold the ", "
// between the parts can still read alike in full (run "2, call 3, run 4"
// of call 1, and call 3 of run 4 with an argument ending "call 1, run
// 2"): then every name ends with the item's number in items, "request 2
// of 5", which no two share.
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
  const names = items.map(nameOf);
  const numbered = new Set(names).size < names.length;
  return new Map(items.map((it, i) => [it.key, numbered ? `${names[i]}, request ${i + 1} of ${items.length}` : names[i]]));
}
