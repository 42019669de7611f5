/**
 * Users pages, for OWNERs and ADMINs (as the directory API): a search by email or name fragment, and one
 * user with their state, role, groups, live sessions (kind and times: never a token or its hash) and
 * containment history. Reads are audited as the API audits them (`user.list`, `user.read`,
 * `user.sessions.read`), under the person and their console session.
 */
import type { FastifyInstance } from 'fastify';
import type { Core } from '../../core.js';
import { getUser } from '../../directory/users.js';
import { AppError } from '../../errors.js';
import { ADMIN_ROLES } from '../../http/guards/session.js';
import { listContainmentSummaries } from '../../store/containments.js';
import { findGroupsByIds, listGroupIdsOfUser } from '../../store/groups.js';
import { listLiveSessionsOfUser } from '../../store/sessions.js';
import { searchUsers } from '../../store/users.js';
import { page } from '../layout.js';
import { sendHtml } from '../routes.js';
import { consoleGuard, personOf } from '../session.js';
import { searchBody, userBody, SEARCH_LIMIT } from './user-view.js';

const ID = /^[A-Z2-7]{26}$/;
const HISTORY_LIMIT = 50;

export function userPages(app: FastifyInstance, core: Core): void {
  const options = { schema: { hide: true }, preHandler: consoleGuard(core, { roles: ADMIN_ROLES }) };
  const db = core.database.db;

  app.get<{ Querystring: { q?: string } }>('/console/users', options, async (request, reply) => {
    const person = personOf(request);
    const q = (typeof request.query.q === 'string' ? request.query.q : '').trim().slice(0, 100);
    const [users] = await Promise.all([
      q === '' ? Promise.resolve(undefined) : searchUsers(db, person.accountId, q, SEARCH_LIMIT),
      q === ''
        ? undefined
        : core.audit.record({
            accountId: person.accountId,
            ctx: person.ctx,
            action: 'user.list',
            target: { type: 'account', id: person.accountId },
            outcome: 'read',
            details: { query: q },
          }),
    ]);
    return sendHtml(reply, page(person, { title: 'Users', section: 'users', body: searchBody(q, users) }));
  });

  app.get<{ Params: { user: string } }>('/console/users/:user', options, async (request, reply) => {
    const person = personOf(request);
    const id = request.params.user;
    if (!ID.test(id)) throw new AppError('USER_NOT_FOUND', { metadata: { user_id: 'invalid' } });
    const user = await getUser(core.directory, person.accountId, id);
    const read = (action: 'user.read' | 'user.sessions.read') =>
      core.audit.record({
        accountId: person.accountId,
        ctx: person.ctx,
        action,
        target: { type: 'user', id },
        outcome: 'read',
      });
    const [groupIds, sessions, containments] = await Promise.all([
      listGroupIdsOfUser(db, person.accountId, id),
      listLiveSessionsOfUser(db, person.accountId, id),
      listContainmentSummaries(db, { accountId: person.accountId, userId: id, limit: HISTORY_LIMIT }),
      read('user.read'),
      read('user.sessions.read'),
    ]);
    const groups = await findGroupsByIds(db, person.accountId, groupIds);
    const body = userBody({ user, groups, sessions, containments, limit: HISTORY_LIMIT });
    return sendHtml(reply, page(person, { title: user.display_name, section: 'users', body }));
  });
}
