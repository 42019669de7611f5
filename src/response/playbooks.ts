/**
 * Playbooks as code: apply (a new version only when the content hash changes; every version kept), every
 * apply audited with the version and hash. (Reading the current versions and the history is store/playbooks.ts.)
 */
import type { AuditEntryInput, CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { AppError } from '../errors.js';
import { voidStalePlans } from './stale-plans.js';
import { unknownTargetNames } from '../targets/steps.js';
import { insertPlaybookVersion, lockDocumentName, playbookHistory, type PlaybookRow } from '../store/playbooks.js';
import { contentHash, lintPlaybook, toPlaybook, type Playbook, type PlaybookDocument } from './playbook.js';

export interface AppliedPlaybook {
  name: string;
  version: number;
  content_hash: string;
  changed: boolean;
}

/** Validates every document first, then applies them all in one transaction (all or nothing). */
export async function applyPlaybooks(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  documents: unknown[],
): Promise<AppliedPlaybook[]> {
  if (documents.length === 0 || documents.length > 100)
    throw new AppError('INVALID_PLAYBOOK', { description: 'invalid_playbook: give 1 to 100 playbooks' });
  const names = new Set<string>();
  documents.forEach((document, i) => {
    const problems = lintPlaybook(document);
    if (problems.length > 0) {
      const where = documents.length > 1 ? `playbook #${i + 1}: ` : '';
      throw new AppError('INVALID_PLAYBOOK', {
        description: `invalid_playbook: ${where}${problems.map((p) => `${p.path || '/'} ${p.message}`).join('; ')}`,
      });
    }
    const { name } = document as PlaybookDocument;
    if (names.has(name))
      throw new AppError('INVALID_PLAYBOOK', { description: `invalid_playbook: ${name} is given twice` });
    names.add(name);
  });
  return deps.audit.transact(async (trx) => {
    // A name no target of the account has is refused, not warned about: a typo would silently narrow every
    // containment the playbook makes (a target removed later shows in its plans as doing nothing).
    for (const document of documents as PlaybookDocument[]) {
      const unknown = Array.isArray(document.targets) ? await unknownTargetNames(trx, accountId, document.targets) : [];
      if (unknown.length > 0)
        throw new AppError('INVALID_PLAYBOOK', {
          description:
            `invalid_playbook: ${document.name}: /targets names no target of this account: ` + unknown.join(', '),
        });
    }
    const applied: AppliedPlaybook[] = [];
    for (const document of documents as PlaybookDocument[]) {
      const hash = contentHash(document);
      await lockDocumentName(trx, accountId, `playbook:${document.name}`);
      const [current] = await playbookHistory(trx, accountId, document.name);
      const entry = {
        accountId,
        ctx,
        action: 'playbook.apply',
        target: { type: 'playbook', id: document.name },
      } satisfies Partial<AuditEntryInput>;
      if (current?.content_hash === hash) {
        await deps.audit.append(trx, {
          ...entry,
          outcome: 'unchanged',
          details: { version: current.version, content_hash: hash },
        });
        applied.push({ name: document.name, version: current.version, content_hash: hash, changed: false });
        continue;
      }
      const version = (current?.version ?? 0) + 1;
      await insertPlaybookVersion(trx, {
        account_id: accountId,
        name: document.name,
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
        { playbookName: document.name },
        'a new version of its playbook was applied',
        { playbook: document.name, version },
      );
      await deps.audit.append(trx, {
        ...entry,
        outcome: 'changed',
        details: { version, content_hash: hash, previous_version: current?.version ?? null, voided_plans: voided },
      });
      applied.push({ name: document.name, version, content_hash: hash, changed: true });
    }
    return applied;
  });
}

/** A stored playbook version as the engine uses it. */
export function fromRow(row: PlaybookRow): Playbook {
  return toPlaybook(row.document as PlaybookDocument, row.version, row.content_hash);
}

/** The playbook every account has until it applies one of this name: a leaked secret dies at once. */
const LEAKED_SECRET_PLAYBOOK: PlaybookDocument = {
  name: 'leaked-secret',
  description:
    'Built in: a confirmed leak of a Cordon secret (a leak report, or a secret.leaked signal) rotates it at once; ' +
    'a secret that is public must die now, and approval can come after.',
  match: { types: ['secret.leaked'] },
  action: 'rotate_secret',
  mode: 'auto',
};

/**
 * The built-in playbooks (version 0), as the engine uses them: the `leaked-secret` one rotates a leaked
 * secret at once; applying a playbook of its name replaces it.
 */
export const BUILT_IN_PLAYBOOKS: readonly Playbook[] = [
  { ...toPlaybook(LEAKED_SECRET_PLAYBOOK, 0, contentHash(LEAKED_SECRET_PLAYBOOK)), reachesAdmins: false },
];

/** The account's playbooks with each built-in one it has not replaced by applying one of its name. */
export function withBuiltIns(playbooks: Playbook[]): Playbook[] {
  const names = new Set(playbooks.map((p) => p.name));
  return [...playbooks, ...BUILT_IN_PLAYBOOKS.filter((p) => !names.has(p.name))];
}

/** The playbook of a name as the engine would use it now: the stored one, else the built-in one. */
export function currentPlaybook(row: PlaybookRow | undefined, name: string | null): Playbook | undefined {
  return row ? fromRow(row) : BUILT_IN_PLAYBOOKS.find((p) => p.name === name);
}
