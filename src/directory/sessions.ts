import type { Transaction } from 'kysely';
import type { CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import type { Database, Session, SessionKind } from '../storage/schema.js';
import { insertSession, revokeSession as revokeSessionRow } from '../store/sessions.js';
import { lockUserById } from '../store/users.js';
import type { DirectoryDeps } from './deps.js';

/**
 * Opens a session for an active user. The user's row is share-locked so that a suspension cannot
 * commit between the state check and the insert (it would miss the new session when revoking).
 */
export async function openSession(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  userId: string,
  kind: SessionKind,
): Promise<Session> {
  return deps.audit.transact(async (trx) => {
    const user = await lockUserById(trx, accountId, userId, 'share');
    if (!user) throw new AppError('USER_NOT_FOUND');
    if (user.state !== 'ACTIVE') throw new AppError('FAILED_PRECONDITION', { description: 'the user is suspended' });
    return insertSessionWithAudit(deps, trx, ctx, accountId, userId, kind);
  });
}

/** Inserts a session and its audit entry inside `trx`; the caller has checked the user is active. */
export async function insertSessionWithAudit(
  deps: DirectoryDeps,
  trx: Transaction<Database>,
  ctx: CallContext,
  accountId: string,
  userId: string,
  kind: SessionKind,
): Promise<Session> {
  const session = await insertSession(trx, { account_id: accountId, id: newId(), user_id: userId, kind });
  await deps.audit.append(trx, {
    accountId,
    ctx,
    action: 'session.create',
    target: { type: 'user', id: userId },
    outcome: 'changed',
    details: { session_id: session.id, kind },
  });
  return session;
}

export async function revokeSession(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  sessionId: string,
  reason: string,
): Promise<Session | undefined> {
  return deps.audit.transact(async (trx) => {
    const session = await revokeSessionRow(trx, accountId, sessionId, reason);
    if (session) {
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'session.revoke',
        target: { type: 'user', id: session.user_id },
        outcome: 'changed',
        details: { session_id: sessionId, reason },
      });
    }
    return session;
  });
}
