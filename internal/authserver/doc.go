// Package authserver owns approver authentication: the users file (names,
// roles and bcrypt password hashes, never plain-text passwords), the HTTP
// endpoint GET/POST /api/auth/token that checks HTTP Basic credentials and
// issues a short-lived Ably JWT whose ably.channel.<channel> claim carries
// the approver's role (Ably copies it into extras.userClaim of everything
// the approver publishes), and the failure rate limiting in front of it.
//
// The JWT is least privilege: the approvals channel only, with history,
// publish and subscribe, and the approver's own name as clientId. Tokens are
// signed with ablyconn.SignToken, the same signer the trusted programs use.
//
// The package must not import workflows internals beyond its exported
// contract, nor any Temporal or OpenAI client: it runs in the approver-facing
// auth server and in-process in the dev stack and end-to-end tests.
package authserver
