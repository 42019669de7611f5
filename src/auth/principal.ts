/**
 * A person signed in with a session, as the services take them: the live session (with the user's role
 * as the request found it) and the context their calls are audited under. The HTTP session guard
 * (http/guards/session.ts) admits one per request; nothing here knows about HTTP.
 */
import type { CallContext } from '../audit/entry.js';
import type { SignedInSession } from '../store/sessions.js';

export interface SessionPrincipal {
  session: SignedInSession;
  /** For the audit entries of what the request does. */
  ctx: CallContext;
}
