import assert from 'node:assert/strict';
import { test } from 'node:test';
import { approvalCheck } from './roles.js';

test('approvalCheck mirrors workflows.CanApprove', () => {
  const roles = ['editor', 'publisher', 'admin'];
  const cases = [
    ['publisher', 'publisher', true, ''],
    ['admin', 'publisher', true, ''],
    ['editor', 'publisher', false, 'it needs publisher or higher; you are editor'],
    ['', 'publisher', false, 'your sign-in carries no role'],
    ['root', 'publisher', false, 'your role root is not in the role hierarchy'],
    ['admin', 'owner', false, 'it needs the role owner, which is not in the role hierarchy'],
  ];
  for (const [role, required, ok, reason] of cases) {
    const got = approvalCheck(roles, role, required);
    assert.equal(got.ok, ok, `${role} for ${required}`);
    if (!ok) assert.ok(got.reason.startsWith(reason), got.reason);
  }
});
