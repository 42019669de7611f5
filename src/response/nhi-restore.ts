/**
 * The way back for a non-human identity (nhi.ts): a restore re-enables the app or source with a new
 * secret, never the leaked one, and closes the record; the new secret a record keeps (from its rotation,
 * or its restore) is read once, by an OWNER or ADMIN, and then it is gone from Cordon.
 *
 * A restore goes through the restore policy as a user's does (restores.ts calls executeNhiRestore); it
 * verifies in its own transaction that the leaked secret finds no live owner, or rolls back.
 */
import type { Transaction } from 'kysely';
import { toAuditRow, type CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { AppError } from '../errors.js';
import { assertMayAdminister } from '../oauth/apps.js';
import { generateClientSecret, hashClientSecret } from '../oauth/client-secret.js';
import { signEventsToken, storeEventsToken, type EventsTokenDeps } from '../oauth/events-tokens.js';
import { makeSecret } from '../secret-format.js';
import type { Database, NhiSubject } from '../storage/schema.js';
import type { AuditEntryValues } from '../store/audit.js';
import { lockAppById, readUserRole, updateApp } from '../store/apps.js';
import { markFalsePositive } from '../store/approvals.js';
import { findContainment, lockContainment, type ContainmentRow } from '../store/containments.js';
import { findPlan } from '../store/plans.js';
import { closeNhiContainment, lockSource, replaceSourceCredential, takeContainmentSecret } from '../store/nhi.js';
import { containmentSealLabel, eventsTokenRecipe, sourceCredential, verifyNhi } from './nhi-subject.js';
import type { RestoreReason, RestoreReport } from './restores.js';

/**
 * Restores a record of a non-human identity (locked by the caller's reads: it is locked again here):
 * the app or source enabled with a new secret (sealed in the record, to be read once), the record closed,
 * verified. The `containment.restore` entry is the caller's to write, with the plan it finishes.
 */
export async function executeNhiRestore(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  record: ContainmentRow,
  ctx: CallContext,
  reason: RestoreReason,
): Promise<{ report: RestoreReport; entry: AuditEntryValues }> {
  const accountId = record.account_id;
  const containment = (await lockContainment(trx, accountId, record.id))!;
  if (containment.status !== 'open')
    throw new AppError('CONTAINMENT_CLOSED', { metadata: { containment_id: containment.id } });
  const subject = containment.subject_nhi!;
  let secret: string | undefined;
  /** What was enabled again (a session is never revived: its record only closes). */
  let enabled: { type: 'app' | 'source'; id: string; wasDisabled: boolean } | undefined;
  if (subject.type === 'app') {
    const app = await lockAppById(trx, accountId, subject.id);
    if (!app) throw new AppError('NOT_FOUND', { description: 'the app no longer exists' });
    // A new client secret when the leaked one was a client secret (a leaked events token left it unknown).
    if (subject.kind === 'cs' && app.auth_method !== 'private_key_jwt') secret = generateClientSecret();
    const newSecret =
      secret === undefined ? {} : { secret_hash: hashClientSecret(secret), secret_rotated_at: new Date() };
    await updateApp(trx, accountId, app.id, { disabled_at: null, ...newSecret });
    enabled = { type: 'app', id: app.id, wasDisabled: app.disabled_at !== null };
  } else if (subject.type === 'source') {
    const source = await lockSource(trx, accountId, subject.id);
    if (!source) throw new AppError('NOT_FOUND', { description: 'the source no longer exists' });
    if (source.auth !== 'oauth') {
      secret = makeSecret(source.auth === 'hmac' ? 'sh' : 'st');
      await replaceSourceCredential(trx, accountId, source.id, sourceCredential(deps, source, secret), true);
    }
    enabled = { type: 'source', id: source.id, wasDisabled: source.disabled_at !== null };
  }
  if (enabled)
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: enabled.type === 'app' ? 'app.enable' : 'source.enable',
      target: { type: enabled.type, id: enabled.id },
      outcome: 'changed',
      details: {
        containment_id: containment.id,
        secret_replaced: secret !== undefined,
        was_disabled: enabled.wasDisabled,
      },
    });
  // A false positive marks the signal so (no breaker slot to free: a leak is not counted).
  if (reason === 'false_positive' && containment.plan_id) {
    const plan = await findPlan(trx, accountId, containment.plan_id);
    if (plan?.signal_id) await markFalsePositive(trx, accountId, plan.signal_id);
  }
  const closed = await closeNhiContainment(trx, accountId, containment.id, {
    reason,
    by: JSON.stringify({ actor: ctx.actor, authz: ctx.authz }),
    secretEnc:
      secret === undefined
        ? containment.secret_enc
        : deps.sealer.seal(containmentSealLabel(accountId, containment.id), secret),
    details: JSON.stringify({ ...containment.details, restore: { secret_replaced: secret !== undefined } }),
  });
  const verification = await verifyNhi(deps, trx, accountId, subject, 'restore');
  if (!Object.values(verification).every(Boolean))
    throw new AppError('RESTORE_UNVERIFIED', {
      metadata: { containment_id: containment.id, failed: 'leaked_secret_dead' },
    });
  const entry = toAuditRow({
    accountId,
    ctx,
    action: 'containment.restore',
    target: { type: 'containment', id: containment.id },
    outcome: 'changed',
    details: {
      subject,
      reason,
      plan_id: containment.plan_id,
      verification,
      secret_replaced: secret !== undefined,
    },
  });
  return {
    report: { containment: closed, drift: null, verification, voided_plans: [], targets: { items: [], steps: 0 } },
    entry,
  };
}

/** A record's new secret, read once: what it opens, and the secret. */
export interface RevealedSecret {
  containment_id: string;
  subject: NhiSubject;
  secret: string;
}

export type SecretReadDeps = DirectoryDeps & Pick<EventsTokenDeps, 'keys' | 'issuer'>;

/**
 * Gives an OWNER or ADMIN the new secret a record keeps, and forgets it: a second read finds none
 * (404 SECRET_ALREADY_READ). An app an OWNER made shows its secret to an OWNER only, as rotating it would.
 * A leaked events token's replacement is made here, as it is read (signed before the transaction, stored
 * in it: nhi.ts keeps only what to make). Audited as `containment.secret_read`, without the secret.
 */
export async function readContainmentSecret(
  deps: SecretReadDeps,
  ctx: CallContext,
  accountId: string,
  containmentId: string,
): Promise<RevealedSecret> {
  const label = containmentSealLabel(accountId, containmentId);
  const waiting = await findContainment(deps.db, accountId, containmentId);
  const recipe = waiting?.secret_enc ? eventsTokenRecipe(deps.sealer.open(label, waiting.secret_enc)) : undefined;
  const signed = recipe && (await signEventsToken(deps, accountId, waiting!.subject_nhi!.id, recipe));
  return deps.audit.transact(async (trx) => {
    if (ctx.actor.type === 'user') {
      const role = await readUserRole(trx, accountId, ctx.actor.id);
      if (role !== 'OWNER' && role !== 'ADMIN')
        throw new AppError('PERMISSION_DENIED', { description: 'only an OWNER or ADMIN reads a new secret' });
    }
    const taken = await takeContainmentSecret(trx, accountId, containmentId);
    if (!taken) throw new AppError('SECRET_ALREADY_READ', { metadata: { containment_id: containmentId } });
    const subject = taken.subject_nhi;
    const opened = deps.sealer.open(label, taken.secret_enc);
    let secret = opened;
    if (eventsTokenRecipe(opened)) {
      // Signed for the recipe read before the transaction: the same one (a record makes one replacement).
      if (!signed) throw new AppError('SECRET_ALREADY_READ', { metadata: { containment_id: containmentId } });
      secret = (await storeEventsToken(deps, trx, ctx, signed)).token;
    } else if (subject.type === 'app') {
      const app = await lockAppById(trx, accountId, subject.id);
      if (app) await assertMayAdminister(trx, ctx, app, 'read the new secret of');
    }
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'containment.secret_read',
      target: { type: 'containment', id: containmentId },
      outcome: 'changed',
      details: { subject: { type: subject.type, id: subject.id } },
    });
    return { containment_id: containmentId, subject, secret };
  });
}
