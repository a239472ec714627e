// roles.js decides, for display only, whether the signed-in user's role
// reaches a request's required role in the role hierarchy the auth server
// hands the page (lowest first). It mirrors workflows.CanApprove; the
// workflow checks every decision itself against its policy and the
// userClaim Ably attached, so a wrong answer here can only grey out a
// button or show one that the workflow then ignores.

// approvalCheck returns {ok: true} or {ok: false, reason}.
export function approvalCheck(roles, role, required) {
  const have = roles.indexOf(role);
  const need = roles.indexOf(required);
  if (!role) return { ok: false, reason: 'your sign-in carries no role' };
  if (have < 0) return { ok: false, reason: `your role ${role} is not in the role hierarchy (${roles.join(', ')})` };
  if (need < 0) return { ok: false, reason: `it needs the role ${required}, which is not in the role hierarchy (${roles.join(', ')})` };
  if (have < need) return { ok: false, reason: `it needs ${required} or higher; you are ${role}` };
  return { ok: true };
}
