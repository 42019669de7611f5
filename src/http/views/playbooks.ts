/**
 * Playbooks and the protected-principal policy as the API shows them: stored versions, what an apply
 * changed, and the policy's versions.
 */
import { Type, type Static } from 'typebox';
import type { PlaybookRow, PolicyRow } from '../../store/playbooks.js';

export const Open = Type.Object({}, { additionalProperties: true });
export const VersionSchema = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  content_hash: Type.String(),
  document: Open,
  create_time: Type.String({ format: 'date-time' }),
  created_by: Type.String(),
});
export const AppliedSchema = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  content_hash: Type.String(),
  changed: Type.Boolean(),
});
export const PolicySchema = Type.Object({
  version: Type.Integer({ description: '0 before any policy was applied' }),
  document: Open,
});
export const AppliedPolicySchema = Type.Object({ version: Type.Integer(), document: Open, changed: Type.Boolean() });

/** A stored version of a playbook, with who applied it. */
export const versionView = (row: PlaybookRow): Static<typeof VersionSchema> => ({
  name: row.name,
  version: row.version,
  content_hash: row.content_hash,
  document: row.document,
  create_time: new Date(row.created_at).toISOString(),
  created_by: row.created_by,
});

/** A stored version of the protection policy. */
export const policyView = (row: PolicyRow): Static<typeof PolicySchema> => ({
  version: row.version,
  document: row.document,
});
