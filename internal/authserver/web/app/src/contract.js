// contract.js mirrors the names of the Ably message contract that package
// workflows owns (workflows/messages.go, ids.go). The channel and the
// agent's clientId are configuration: the auth server hands them to the
// page (data attributes), they are never written here. A Go test
// (internal/authserver/web) fails when a value here drifts from its Go
// constant.

export const MSG_REQUEST = 'approval-request';
export const MSG_RESPONSE = 'approval-response';
export const MSG_RESOLVED = 'approval-resolved';
export const MSG_IGNORED = 'approval-ignored';

export const EXTRAS_HEADERS = 'headers';
export const HEADER_TOOL_CALL_ID = 'toolCallId';
export const HEADER_WORKFLOW_ID = 'workflowId';

export const DECISION_APPROVED = 'approved';
export const DECISION_REJECTED = 'rejected';

export const OUTCOME_APPROVED = 'approved';
export const OUTCOME_REJECTED = 'rejected';
export const OUTCOME_EXPIRED = 'expired';
export const OUTCOME_CANCELLED = 'cancelled';

export const MAX_TOOL_CALL_ID_LEN = 64;
export const MAX_WORKFLOW_ID_LEN = 1000;
export const MAX_REASON_LEN = 512;
export const MAX_RUN_ID_LEN = 128;
