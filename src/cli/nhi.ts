/**
 * A non-human identity's containment as `cordon explain` and `cordon containments list|show` print it
 * (response/nhi.ts): the subject as "app NAME", "source NAME" or "session ID of PERSON", the leak (where
 * the secret was found, the report's hash), what was revoked (the access tokens' jtis, events tokens,
 * sessions, with counts), whether the secret was replaced and its new one still waits to be read once,
 * and what the app changed in the hour before the leak, people by name.
 */
import type { ExplanationView } from '../http/views/explain.js';
import { actorOf, personOf, type People } from './io.js';

export type NhiJson = NonNullable<ExplanationView['nhi']>;
type Contained = NonNullable<NhiJson['contained']>;
type Line = (label: string, text: string) => void;

/** The most jtis (or ids) a line lists; `--json` has them all. */
const MAX_LISTED = 10;

/** The owner of a leaked secret in words: "app ci-deploy", "source splunk", "session S of Ada <…>". */
export function nhiSubjectText(subject: NhiJson['subject'], ownerName: string | null | undefined, people: People) {
  if (subject.type === 'session') return `session ${subject.id} of ${personOf(people, subject.user_id) || '?'}`;
  const credential = subject.credential
    ? ` (${subject.credential.type.replace(/_/g, ' ')} ${subject.credential.id})`
    : '';
  return `${subject.type} ${ownerName ?? subject.id}${credential}`;
}

const counted = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;

/** What a record revoked, in counts: "2 access tokens, 1 events token", or "nothing". */
export function revokedCounts(revoked: Contained['revoked']): string {
  const parts = [
    revoked.access_tokens.count ? counted(revoked.access_tokens.count, 'access token') : '',
    revoked.events_tokens.count ? counted(revoked.events_tokens.count, 'events token') : '',
    revoked.sessions.count ? counted(revoked.sessions.count, 'session') : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'nothing';
}

const listed = (n: number, what: string, prefix: string, ids: string[]) => {
  if (n === 0) return counted(0, what);
  const shown = ids.slice(0, MAX_LISTED).join(', ');
  const more = ids.length > MAX_LISTED ? ` … and ${ids.length - MAX_LISTED} more (--json lists them)` : '';
  return `${counted(n, what)}: ${prefix}${shown}${more}`;
};

/** What the playbook did, in words (a session has no secret to replace: it was ended). */
const doneText = (nhi: NhiJson, c: Contained) =>
  `${nhi.action ?? '?'}` +
  (nhi.subject.type === 'session'
    ? ''
    : `; secret replaced: ${c.secret_replaced ? 'yes' : 'no'}; disabled: ${c.disabled ? 'yes' : 'no'}`);

/**
 * Prints the leak and what was done about it, with `line` (the caller's label width); `containmentId`
 * names the record whose new secret waits.
 */
export function printNhi(line: Line, nhi: NhiJson, people: People, containmentId: string | null): void {
  const { leak, contained } = nhi;
  line(
    'leak',
    `found at ${leak.url ?? '(no URL)'}${leak.observed_at ? `, observed ${leak.observed_at}` : ''}` +
      `${leak.token_type ? ` (${leak.token_type})` : ''}`,
  );
  line('report', leak.report ? `sha256 ${leak.report}` : 'none');
  if (!contained) return line('contained', `no (${nhi.action ?? 'no action'})`);
  line('contained', doneText(nhi, contained));
  const r = contained.revoked;
  line('revoked', listed(r.access_tokens.count, 'access token', 'jti ', r.access_tokens.jtis));
  line('', listed(r.events_tokens.count, 'events token', '', r.events_tokens.ids));
  line('', listed(r.sessions.count, 'session', '', r.sessions.ids));
  if (contained.new_secret_waiting)
    line('new secret', `waits to be read once: cordon containments secret ${containmentId ?? 'ID'}`);
  else if (contained.secret_replaced || contained.restore?.secret_replaced) line('new secret', 'read (shown once)');
  if (contained.restore)
    line('restored', contained.restore.secret_replaced ? 'with a new secret' : 'without a new secret');
  const changes = contained.app_changes_before;
  if (!changes) return;
  line('before', `${counted(changes.count, 'change')} by the app in the hour before the leak (since ${changes.since})`);
  for (const change of changes.listed)
    line('  change', `${change.at} ${change.action} ${actorOf(people, change.target.type, change.target.id)}`);
  if (changes.count > changes.listed.length) line('', `… and ${changes.count - changes.listed.length} more`);
}
