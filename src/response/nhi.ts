/**
 * Containing a non-human identity (issue 19): the owner of a leaked secret (an app by its client secret or
 * an events token, a signal source, a session) is a plan's subject as a user is, and its containment a
 * record opened in the plan's transaction with every audit entry. The actions (README, Leak reports):
 * - `rotate_secret`: the leaked secret dies; a new one is sealed in the record until an OWNER or ADMIN reads
 *   it once (nhi-restore.ts; an events token's replacement is made as it is read). An app's live access
 *   tokens are revoked too; a leaked session is ended.
 * - `disable_app`: the app (or source) disabled, its access and events tokens revoked.
 * - `revoke_tokens`: the app's live access tokens revoked; the secret stays until the restore.
 * An app's tokens die by jti (its `token.issue` entries) and by time (`tokens_not_before`). The record keeps
 * what was revoked, where the leak was found and what the app changed in the hour before it.
 */
import type { Transaction } from 'kysely';
import { toAuditRow, type AuditEntryInput, type CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { newId } from '../ids.js';
import { generateClientSecret, hashClientSecret } from '../oauth/client-secret.js';
import { makeSecret } from '../secret-format.js';
import type { Database, NhiAction, NhiSubject } from '../storage/schema.js';
import { lockAppById } from '../store/apps.js';
import { revokeEventsTokenRow } from '../store/events-tokens.js';
import {
  appChangesSince,
  insertNhiContainment,
  lockSource,
  replaceSourceCredential,
  revokeEventsTokensOfApp,
  containApp,
  type AppChange,
} from '../store/nhi.js';
import { revokeSession } from '../store/sessions.js';
import { disableSource, findSignal } from '../store/signals.js';
import { clientSecretHash } from './leaks/find-leaked.js';
import {
  containmentSealLabel,
  eventsTokenRecipeText,
  leakFacts,
  sourceCredential,
  verifyNhi,
  type LeakFacts,
} from './nhi-subject.js';
import type { PlanRow } from '../store/plans.js';
import type { Verdict } from './plan.js';

/** How far back a record looks at what the app did before the leak. */
const BLAST_RADIUS_SECONDS = 3600;
/** The most changes a record lists (it counts them all). */
const MAX_CHANGES_LISTED = 100;

export interface NhiExecution {
  status: 'executed' | 'no_action' | 'failed';
  verdicts: Verdict[];
  containmentId?: string;
  /** The changes' audit entries, for the caller to write with the plan's (one statement). */
  entries: AuditEntryInput[];
}

interface Done {
  revoked_jtis: string[];
  events_tokens_revoked: string[];
  sessions_revoked: string[];
  disabled: boolean;
  secret_replaced: boolean;
  /** An app's tokens from before are refused since (undefined: not cut off, e.g. an events token's rotation). */
  cutOffAt?: Date | null;
  /** Whether a leaked client secret still opens the app, as the containment's statement left its row. */
  secretLive?: boolean;
  /** A leaked events token's replacement, made when a person reads it. */
  eventsTokenToMake?: { features: string[]; audience: string };
  changes?: { since: string; count: number; listed: AppChange[] };
}

/**
 * Carries out an NHI action on its (now locked) subject, opens its record and verifies, all in the plan's
 * transaction; every change is audited as `ctx` (the responder, or the approvers).
 */
export async function executeNhi(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  plan: { accountId: string; id: string; action: NhiAction; subject: NhiSubject; leak: LeakFacts },
  ctx: CallContext,
): Promise<NhiExecution> {
  const { accountId, subject, action } = plan;
  const containmentId = newId();
  const entries: AuditEntryInput[] = [];
  const audit = (entry: Omit<AuditEntryInput, 'accountId' | 'ctx' | 'outcome'>) =>
    entries.push({
      accountId,
      ctx,
      outcome: 'changed',
      ...entry,
      details: { ...entry.details, containment_id: containmentId },
    });
  const done: Done = {
    revoked_jtis: [],
    events_tokens_revoked: [],
    sessions_revoked: [],
    disabled: false,
    secret_replaced: false,
  };
  let secret: string | undefined;
  const stop = (status: NhiExecution['status'], reason: string): NhiExecution => ({
    status,
    verdicts: [{ step: 'execute', outcome: 'stop', reason }],
    entries: [],
  });

  if (subject.type === 'session') {
    const ended = await revokeSession(trx, accountId, subject.id, 'leaked');
    if (!ended) return stop('no_action', 'the session already ended');
    done.sessions_revoked.push(subject.id);
    audit({
      action: 'session.revoke',
      target: { type: 'user', id: subject.user_id! },
      details: { session_id: subject.id, reason: 'leaked' },
    });
  } else if (subject.type === 'source') {
    const source = await lockSource(trx, accountId, subject.id);
    if (!source || source.disabled_at !== null) return stop('no_action', 'the source is gone or disabled');
    const current = source.auth === 'hmac' ? source.secret_hash : source.token_hash;
    if (current !== null && current !== subject.token_hash)
      return stop('no_action', 'the leaked secret was already replaced');
    if (action === 'revoke_tokens') return stop('no_action', 'a source holds no token: nothing to revoke');
    if (action === 'disable_app') {
      await disableSource(trx, accountId, source.id);
      done.disabled = true;
      audit({ action: 'source.disable', target: { type: 'source', id: source.id }, details: { reason: 'leaked' } });
    } else {
      secret = makeSecret(source.auth === 'hmac' ? 'sh' : 'st');
      await replaceSourceCredential(trx, accountId, source.id, sourceCredential(deps, source, secret), false);
      done.secret_replaced = true;
      audit({
        action: 'source.secret.rotate',
        target: { type: 'source', id: source.id },
        details: { reason: 'leaked' },
      });
    }
  } else {
    const app = await lockAppById(trx, accountId, subject.id);
    if (!app || app.disabled_at !== null) return stop('no_action', 'the app is gone or disabled');
    // Another plan about the same leak may have run while this one waited for the app's row.
    if (subject.kind === 'cs' && app.secret_hash !== clientSecretHash(subject.token_hash))
      return stop('no_action', 'the leaked secret was already replaced');
    const leakedEventsToken = subject.credential?.id;
    // The app's row changes in the statement that cuts its tokens off, or alone when none are.
    const changes: { disabled_at?: Date; secret_hash?: string; secret_rotated_at?: Date } = {};
    if (action === 'disable_app') {
      changes.disabled_at = new Date();
      done.disabled = true;
      audit({ action: 'app.disable', target: { type: 'app', id: app.id }, details: { reason: 'leaked' } });
      done.events_tokens_revoked = await revokeEventsTokensOfApp(trx, accountId, app.id);
    } else if (leakedEventsToken !== undefined) {
      const revoked = await revokeEventsTokenRow(trx, accountId, app.id, leakedEventsToken);
      if (revoked?.changed) done.events_tokens_revoked.push(leakedEventsToken);
      // Its replacement, with the same features and audience, is made as a person reads it (nhi-restore.ts):
      // a token is signed outside any transaction, which this one is not.
      if (revoked?.changed && action === 'rotate_secret' && app.permissions.includes('audit:read')) {
        done.eventsTokenToMake = { features: revoked.token.features, audience: revoked.token.audience };
        done.secret_replaced = true;
      }
    } else if (action === 'rotate_secret') {
      secret = generateClientSecret();
      Object.assign(changes, { secret_hash: hashClientSecret(secret), secret_rotated_at: new Date() });
      done.secret_replaced = true;
      audit({ action: 'app.secret.rotate', target: { type: 'app', id: app.id }, details: { reason: 'leaked' } });
    }
    for (const id of done.events_tokens_revoked)
      audit({
        action: 'app.events_token.revoke',
        target: { type: 'app', id: app.id },
        details: { events_token_id: id, reason: 'leaked' },
      });
    const since = new Date(plan.leak.observedAt.getTime() - BLAST_RADIUS_SECONDS * 1000);
    let before;
    // What a leaked client secret could have obtained, and what a disabled app must not get back.
    if (leakedEventsToken === undefined || action !== 'rotate_secret') {
      const contained = await containApp(trx, app, changes, { since, limit: MAX_CHANGES_LISTED });
      done.revoked_jtis = contained.jtis;
      done.cutOffAt = contained.cutOffAt;
      // The app's row as the statement left it: the leaked client secret opens it no more (or still does,
      // after revoke_tokens, which keeps it until the restore).
      if (subject.kind === 'cs')
        done.secretLive = !contained.disabled && contained.secretHash === clientSecretHash(subject.token_hash);
      before = contained.before;
      audit({
        action: 'app.tokens.revoke',
        target: { type: 'app', id: app.id },
        details: { count: done.revoked_jtis.length, jtis: done.revoked_jtis, reason: 'leaked' },
      });
    } else before = await appChangesSince(trx, app, since, MAX_CHANGES_LISTED);
    done.changes = { since: since.toISOString(), count: before.count, listed: before.changes };
  }

  const details = {
    leak: { url: plan.leak.url, observed_at: plan.leak.observedAt.toISOString(), report: plan.leak.report },
    revoked: {
      access_tokens: { count: done.revoked_jtis.length, jtis: done.revoked_jtis },
      events_tokens: { count: done.events_tokens_revoked.length, ids: done.events_tokens_revoked },
      sessions: { count: done.sessions_revoked.length, ids: done.sessions_revoked },
    },
    disabled: done.disabled,
    secret_replaced: done.secret_replaced,
    ...(done.eventsTokenToMake ? { events_token_to_make: done.eventsTokenToMake } : {}),
    ...(done.changes ? { app_changes_before: done.changes } : {}),
  };
  await insertNhiContainment(trx, {
    account_id: accountId,
    id: containmentId,
    plan_id: plan.id,
    subject_nhi: JSON.stringify(subject),
    action,
    cause: JSON.stringify(ctx.cause ?? {}),
    opened_by: JSON.stringify({ actor: ctx.actor, authz: ctx.authz }),
    details: JSON.stringify(details),
    secret_enc:
      secret !== undefined || done.eventsTokenToMake
        ? deps.sealer.seal(
            containmentSealLabel(accountId, containmentId),
            secret ?? eventsTokenRecipeText(done.eventsTokenToMake!),
          )
        : null,
  });
  audit({
    action: 'containment.open',
    target: { type: 'containment', id: containmentId },
    details: {
      subject,
      action,
      leak: details.leak,
      revoked: countsOf(details.revoked),
      secret_replaced: done.secret_replaced,
    },
  });
  const verification = await verifyNhi(deps, trx, accountId, subject, action, done);
  const failed = Object.entries(verification).filter(([, ok]) => !ok);
  // A containment that does not verify is not recorded as one: everything rolls back.
  if (failed.length > 0)
    throw new Error(`plan ${plan.id}: the containment did not verify (${failed.map(([k]) => k).join(', ')})`);
  return {
    status: 'executed',
    containmentId,
    entries,
    verdicts: [
      {
        step: 'execute',
        outcome: 'pass',
        reason: ACTION_DONE[action],
        details: {
          subject,
          containment_id: containmentId,
          ...countsOf(details.revoked),
          disabled: done.disabled,
          secret_replaced: done.secret_replaced,
        },
      },
      {
        step: 'verify',
        outcome: 'pass',
        reason: 'the leaked secret opens nothing that was contained',
        details: verification,
      },
    ],
  };
}

const ACTION_DONE: Record<NhiAction, string> = {
  rotate_secret: 'the leaked secret was replaced',
  disable_app: 'disabled',
  revoke_tokens: 'tokens revoked',
};

const countsOf = (revoked: Record<string, { count: number }>) =>
  Object.fromEntries(Object.entries(revoked).map(([kind, { count }]) => [`${kind}_revoked`, count]));

/** Executes an approved plan about a non-human identity, with the leak its signal reported. */
export async function executeApprovedNhi(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  plan: PlanRow,
  ctx: CallContext,
  approved: Verdict,
) {
  const signal = plan.signal_id ? await findSignal(trx, plan.account_id, plan.signal_id) : undefined;
  const leak = leakFacts(signal?.attributes ?? {}, signal?.observed_at ?? new Date());
  const action = plan.action as NhiAction;
  const what = { accountId: plan.account_id, id: plan.id, action, subject: plan.subject_nhi!, leak };
  const done = await executeNhi(deps, trx, what, ctx);
  return {
    status: done.status,
    containmentId: done.containmentId ?? null,
    verdicts: [approved, ...done.verdicts],
    entries: done.entries.map(toAuditRow),
  };
}
