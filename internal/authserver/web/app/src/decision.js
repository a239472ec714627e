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
