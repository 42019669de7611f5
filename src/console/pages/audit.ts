/**
 * The audit explorer: the account's numbered entries, filtered (action, actor, target user, time) and
 * paged by index with one bounded query (the search the API's `/audit/entries` runs); one entry in full
 * with its leaf; and the data its Verify button checks in the browser (audit-verify.js): the leaf bytes
 * re-derived from the entry's row as it is now (never a stored hash, so a tampered row fails), the
 * inclusion path and the latest signed checkpoint, as `cordon audit proof` reads them through the API.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Core } from '../../core.js';
import { leafData } from '../../audit/leaf.js';
import { proveAgainstLatest } from '../../audit/proofs.js';
import { AppError } from '../../errors.js';
import { ADMIN_ROLES } from '../../http/guards/session.js';
import { getLogSize, searchEntries } from '../../store/audit.js';
import { page } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf } from '../session.js';
import { auditEntryBody, auditListBody, type AuditFilters } from './audit-view.js';

export const AUDIT_PAGE_SIZE = 50;

/** The filters of the explorer's query string, each bounded as the API bounds it. */
function filtersOf(query: Record<string, unknown>): AuditFilters {
  const text = (name: string, max: number) => {
    const value = query[name];
    return typeof value === 'string' && value.trim() !== '' ? value.trim().slice(0, max) : undefined;
  };
  return {
    action: text('action', 100),
    actor: text('actor', 200),
    target: text('target', 64),
    since: text('since', 40),
    until: text('until', 40),
  };
}

/** A time filter as typed in a datetime-local field (read as UTC) or as ISO 8601. */
function instant(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(text) ? text : `${text}Z`);
  if (Number.isNaN(date.getTime()))
    throw new AppError('INVALID_ARGUMENT', { description: `${name} is not a date and time` });
  return date;
}

function indexOf(text: string): number {
  if (!/^(?:0|[1-9][0-9]{0,14})$/.test(text))
    throw new AppError('NOT_FOUND', { description: `no audit entry ${text.slice(0, 20)}` });
  return Number(text);
}

export function auditPages(app: FastifyInstance, core: Core): void {
  const guard = { schema: { hide: true }, preHandler: consoleGuard(core, { roles: ADMIN_ROLES }) };

  app.get<{ Querystring: Record<string, string> }>('/console/audit', guard, async (request, reply) => {
    const person = personOf(request);
    const filters = filtersOf(request.query);
    const filtered = Object.values(filters).some((v) => v !== undefined);
    const logSize = await getLogSize(core.database.db, person.accountId);
    const from = request.query.from;
    // Unfiltered, the explorer opens on the newest page; a filter searches from the start.
    const fromIndex =
      from !== undefined && /^[0-9]{1,15}$/.test(from)
        ? Number(from)
        : filtered
          ? 0
          : Math.max(0, logSize - AUDIT_PAGE_SIZE);
    const entries = await searchEntries(core.database.db, person.accountId, {
      fromIndex,
      limit: AUDIT_PAGE_SIZE + 1,
      startTime: instant(filters.since, 'since'),
      endTime: instant(filters.until, 'until'),
      action: filters.action,
      actorId: filters.actor,
      targetUserId: filters.target,
    });
    const next = entries.length > AUDIT_PAGE_SIZE ? entries[AUDIT_PAGE_SIZE]!.idx : undefined;
    const body = auditListBody({
      entries: entries.slice(0, AUDIT_PAGE_SIZE),
      filters,
      fromIndex,
      next,
      logSize,
      pageSize: AUDIT_PAGE_SIZE,
    });
    return sendHtml(reply, page(person, { title: 'Audit log', section: 'audit', body }));
  });

  app.get<{ Params: { index: string } }>('/console/audit/:index', guard, async (request, reply) => {
    const person = personOf(request);
    const index = indexOf(request.params.index);
    const [entry] = await searchEntries(core.database.db, person.accountId, { fromIndex: index, limit: 1 });
    if (entry?.idx !== index) throw new AppError('NOT_FOUND', { description: `no audit entry ${index}` });
    const body = auditEntryBody(entry, leafData(entry));
    return sendHtml(reply, page(person, { title: `Audit entry ${index}`, section: 'audit', body }));
  });

  app.get<{ Params: { index: string } }>('/console/audit/:index/proof.json', guard, async (request, reply) => {
    const person = personOf(request);
    const index = indexOf(request.params.index);
    const proof = await proveAgainstLatest(core.database.db, core.checkpointKey, person.accountId, index);
    if (!proof)
      throw new AppError('NOT_FOUND', {
        description: `entry ${index} is not in a signed checkpoint yet: try again soon`,
      });
    return sendProof(reply, {
      index,
      tree_size: proof.tree_size,
      // The leaf as the entry's row makes it now: a row changed since it was logged no longer hashes to the leaf.
      leaf: Buffer.from(leafData(proof.entry), 'utf8').toString('base64'),
      inclusion_path: proof.inclusion_path,
      signed_note: proof.signed_note,
      origin: proof.origin,
      log: person.accountId,
      key_name: core.checkpointKey.forLog(person.accountId).name,
      verifier_key: proof.verifier_key,
    });
  });
}

/** What the Verify button checks: the same data `cordon audit proof` reads, with the leaf bytes instead of a hash. */
export interface ConsoleProof {
  index: number;
  tree_size: number;
  leaf: string;
  inclusion_path: string[];
  signed_note: string;
  origin: string;
  /** The log's id: its verifier key is at /v1/audit/keys?log=<log>. */
  log: string;
  key_name: string;
  verifier_key: string;
}

function sendProof(reply: FastifyReply, proof: ConsoleProof): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(proof));
}
