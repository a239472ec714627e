// decision.js builds the approval-response a decision publishes.

import { EXTRAS_HEADERS, HEADER_TOOL_CALL_ID, HEADER_WORKFLOW_ID, MSG_RESPONSE } from './contract.js';

// responseMessage is the approval-response for choice ({decision, reason?,
// arguments?}) on request r: the guide's {decision} with the toolCallId
// header, plus the reason, the workflowId header, the digest of the
// arguments the user saw (whenever the request had one), and the edited
// arguments (approve with edits). The role is not in it: Ably adds the
// user's role from their token as extras.userClaim. id, when given, is its
// Ably message id: the agent's approval-ignored names it.
export function responseMessage(r, choice, id) {
  const data = { decision: choice.decision };
  if (choice.reason) data.reason = choice.reason;
  if (r.argumentsDigest) data.argumentsDigest = r.argumentsDigest;
  if (choice.arguments !== undefined) data.arguments = choice.arguments;
  return {
    ...(id ? { id } : {}),
    name: MSG_RESPONSE,
    data,
    extras: { [EXTRAS_HEADERS]: { [HEADER_TOOL_CALL_ID]: r.toolCallId, [HEADER_WORKFLOW_ID]: r.workflowId } },
  };
}

// newMessageId is a message id of the page's own for a decision:
// "web-" and 128 random bits in hex, with Ably's ":0" index.
export function newMessageId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `web-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}:0`;
}

// UnconfirmedError is a decision that ably-js sent, or was about to send,
// when the connection went down, and that Ably never acknowledged:
// ably-js keeps such a message to send again while it reconnects, and
// fails it with the connection's error (codes 80000 to 80099) once the
// connection is suspended or closed. It may have reached Ably before the
// connection went down, and may count: it is neither sent nor not sent.
export class UnconfirmedError extends Error {
  constructor(cause, messageId) {
    super(`the connection went down before Ably confirmed it (${cause && cause.message ? cause.message : String(cause)}), and it may still count`);
    this.name = 'UnconfirmedError';
    this.cause = cause;
    this.messageId = messageId;
  }
}

// publishFailure is the error of the decision with message id messageId
// whose publish failed with err, the connection's state being state when
// the failure reached the page: an UnconfirmedError when the connection
// failed under it, else err (Ably refused it, or ably-js never sent it).
// ably-js fails a publish Ably has not acknowledged with the reason the
// connection left the connected state for good: codes 80000 to 80099 when
// it was lost, Ably's own code (a 4xxxx or 5xxxx) when Ably ended it with
// an error (a connection-level ERROR). Ably answers a publish it refuses (a
// NACK) while the connection stays up: a failure that comes while the
// connection is no longer connected is a lost connection's, whatever its
// code.
export function publishFailure(err, messageId, state = 'connected') {
  const code = err && typeof err.code === 'number' ? err.code : 0;
  const lost = (code >= 80000 && code < 80100) || state !== 'connected';
  return lost ? new UnconfirmedError(err, messageId) : err;
}
