/**
 * The protected-principal policy: roles, groups (names or ids), user ids and emails the engine never
 * acts on, as a versioned document (every version kept; a plan records the version it was evaluated
 * under). The last active owner and externally managed users are always protected, whatever the policy.
 */
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import type { AuditEntryInput, CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { AppError } from '../errors.js';
import { voidStalePlans } from './stale-plans.js';
import type { UserRole } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import { insertPolicyVersion, latestPolicy, lockDocumentName } from '../store/playbooks.js';
import { contentHash, schemaProblems } from './playbook.js';

const Strings = (description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 320 }), { maxItems: 1000, description });

export const ProtectionPolicySchema = Type.Object(
  {
    roles: Type.Optional(
      Type.Array(Type.Union([Type.Literal('OWNER'), Type.Literal('ADMIN'), Type.Literal('MEMBER')]), {
        maxItems: 3,
        description: 'every user with one of these roles',
      }),
    ),
    groups: Type.Optional(Strings('every member of these groups (names or ids)')),
    user_ids: Type.Optional(Strings('these users')),
    emails: Type.Optional(Strings('these users, by email')),
  },
  { additionalProperties: false, title: 'ProtectionPolicy' },
);

export type ProtectionPolicyDocument = Static<typeof ProtectionPolicySchema>;

export interface ProtectionPolicy {
  /** 0 before the first policy is applied. */
  version: number;
  document: ProtectionPolicyDocument;
}

/** The schema's validator, compiled on first use rather than at import (as playbook.ts's). */
const compileSchema = () => Compile(ProtectionPolicySchema);
let compiled: ReturnType<typeof compileSchema> | undefined;

export async function readPolicy(db: Executor, accountId: string): Promise<ProtectionPolicy> {
  const row = await latestPolicy(db, accountId);
  return row ? { version: row.version, document: row.document } : { version: 0, document: {} };
}

/** Applies a new version when the content differs from the current one; audited either way. */
export async function applyPolicy(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  document: unknown,
): Promise<{ policy: ProtectionPolicy; changed: boolean }> {
  const check = (compiled ??= compileSchema());
  if (!check.Check(document)) {
    const problems = schemaProblems([...check.Errors(document)]);
    throw new AppError('INVALID_POLICY', {
      description: `invalid_policy: ${problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ')}`,
    });
  }
  const hash = contentHash(document);
  return deps.audit.transact(async (trx) => {
    await lockDocumentName(trx, accountId, 'protection-policy');
    const current = await latestPolicy(trx, accountId);
    const entry = {
      accountId,
      ctx,
      action: 'policy.apply',
      target: { type: 'protection_policy', id: accountId },
    } satisfies Partial<AuditEntryInput>;
    if (current?.content_hash === hash) {
      await deps.audit.append(trx, {
        ...entry,
        outcome: 'unchanged',
        details: { version: current.version, content_hash: hash },
      });
      return { policy: { version: current.version, document: current.document }, changed: false };
    }
    const version = (current?.version ?? 0) + 1;
    await insertPolicyVersion(trx, {
      account_id: accountId,
      version,
      content_hash: hash,
      document: JSON.stringify(document),
      created_by: `${ctx.actor.type}:${ctx.actor.id}`,
    });
    const voided = await voidStalePlans(
      deps,
      trx,
      ctx,
      accountId,
      {},
      'a new version of the protection policy was applied',
      { policy_version: version },
    );
    await deps.audit.append(trx, {
      ...entry,
      outcome: 'changed',
      details: { version, content_hash: hash, document, voided_plans: voided },
    });
    return { policy: { version, document }, changed: true };
  });
}

/** What protects a user: the policy's reasons plus the ones no policy can lift. Empty when unprotected. */
export function protectionReasons(
  policy: ProtectionPolicyDocument,
  user: { id: string; email: string; role: UserRole; externally_managed: boolean; state: string },
  groups: Array<{ id: string; name: string }>,
  isLastActiveOwner: boolean,
): string[] {
  const reasons: string[] = [];
  if (isLastActiveOwner) reasons.push('last_owner');
  if (user.externally_managed) reasons.push('externally_managed');
  if (policy.roles?.includes(user.role)) reasons.push(`role:${user.role}`);
  const named = new Set((policy.groups ?? []).map((g) => g.toLowerCase()));
  for (const group of groups)
    if (named.has(group.id.toLowerCase()) || named.has(group.name.toLowerCase())) reasons.push(`group:${group.name}`);
  if (policy.user_ids?.includes(user.id)) reasons.push('user_id');
  if (policy.emails?.some((e) => e.toLowerCase() === user.email.toLowerCase())) reasons.push('email');
  return reasons;
}
