// decision.js builds the approval-response a decision publishes.

import { EXTRAS_HEADERS, HEADER_TOOL_CALL_ID, HEADER_WORKFLOW_ID, MSG_RESPONSE } from './contract.js';

// responseMessage is the approval-response for choice ({decision, reason?,
// arguments?}) on request r: the guide's {decision} with the toolCallId
// header, plus the reason, the workflowId header, the digest of the
// arguments the user saw (whenever the request had one), and the edited
// arguments (approve with edits). The role is not in it: Ably adds the
// user's role from their token as extras.userClaim.
export function responseMessage(r, choice) {
  const data = { decision: choice.decision };
  if (choice.reason) data.reason = choice.reason;
  if (r.argumentsDigest) data.argumentsDigest = r.argumentsDigest;
  if (choice.arguments !== undefined) data.arguments = choice.arguments;
  return {
    name: MSG_RESPONSE,
    data,
    extras: { [EXTRAS_HEADERS]: { [HEADER_TOOL_CALL_ID]: r.toolCallId, [HEADER_WORKFLOW_ID]: r.workflowId } },
  };
}
