/**
 * What `cordon explain` adds when a plan's subject is a non-human identity (response/nhi.ts): the owner of
 * the leaked secret (an app or source by name, or a session), the leak (the report's hash, where the
 * secret was found, when), and once contained what the record says was done: the revoked access tokens
 * (jtis), events tokens and sessions, with their counts, whether the app or source was disabled or its
 * secret replaced (and whether the new one still waits to be read once), and what the app changed in the
 * hour before the leak. A plan that contained nothing (notify, pending, refused) shows the leak from its
 * signal.
 */
import type { NhiSubject } from '../storage/schema.js';
import type { ContainmentRow } from '../store/containments.js';
import type { Executor } from '../store/executor.js';
import { readNhiOwner } from '../store/nhi-names.js';
import type { SignalRow } from '../store/signals.js';

/** The app or source that owns the leaked secret, as it stands now (null: a session's, or gone). */
export interface ExplainedOwner {
  name: string;
  /** An app's client id (null: a source). */
  client_id: string | null;
  disabled: boolean;
}

export interface ExplainedNhi {
  subject: NhiSubject;
  owner: ExplainedOwner | null;
  /** The playbook's action on it: rotate_secret, disable_app, revoke_tokens, or notify. */
  action: string | null;
  leak: { report: string | null; url: string | null; observed_at: string | null; token_type: string | null };
  /** What the containment record says was done (null: nothing was contained). */
  contained: {
    revoked: {
      access_tokens: { count: number; jtis: string[] };
      events_tokens: { count: number; ids: string[] };
      sessions: { count: number; ids: string[] };
    };
    disabled: boolean;
    secret_replaced: boolean;
    /** A new secret waits to be read once (`cordon containments secret ID`). */
    new_secret_waiting: boolean;
    app_changes_before: {
      since: string;
      count: number;
      listed: Array<{ action: string; target: { type: string; id: string }; at: string }>;
    } | null;
    /** A restore's (null: not restored): whether it gave a new secret. */
    restore: { secret_replaced: boolean } | null;
  } | null;
}

/** The owner of a leaked secret now, by the subject's id (store/nhi-names.ts reads it in one statement). */
export async function readExplainedOwner(
  db: Executor,
  accountId: string,
  subject: NhiSubject,
): Promise<ExplainedOwner | null> {
  const { name, client_id, disabled_at } = await readNhiOwner(db, accountId, subject);
  return name === null ? null : { name, client_id, disabled: disabled_at !== null };
}

type Details = Record<string, unknown>;
const obj = (value: unknown): Details => (value !== null && typeof value === 'object' ? (value as Details) : {});
const text = (value: unknown) => (typeof value === 'string' ? value : null);
const strings = (value: unknown) =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
const count = (value: unknown, listed: string[]) => (typeof value === 'number' ? value : listed.length);

function revokedOf(details: Details): NonNullable<ExplainedNhi['contained']>['revoked'] {
  const revoked = obj(details['revoked']);
  const part = (kind: string, key: 'jtis' | 'ids') => {
    const listed = strings(obj(revoked[kind])[key]);
    return { count: count(obj(revoked[kind])['count'], listed), listed };
  };
  const tokens = part('access_tokens', 'jtis');
  const events = part('events_tokens', 'ids');
  const sessions = part('sessions', 'ids');
  return {
    access_tokens: { count: tokens.count, jtis: tokens.listed },
    events_tokens: { count: events.count, ids: events.listed },
    sessions: { count: sessions.count, ids: sessions.listed },
  };
}

function changesOf(details: Details): NonNullable<ExplainedNhi['contained']>['app_changes_before'] {
  const changes = details['app_changes_before'];
  if (changes === null || typeof changes !== 'object') return null;
  const c = changes as Details;
  const listed = Array.isArray(c['listed']) ? (c['listed'] as Details[]) : [];
  return {
    since: text(c['since']) ?? '',
    count: typeof c['count'] === 'number' ? c['count'] : listed.length,
    listed: listed.map((change) => ({
      action: text(change['action']) ?? '',
      target: { type: text(obj(change['target'])['type']) ?? '', id: text(obj(change['target'])['id']) ?? '' },
      at: text(change['at']) ?? '',
    })),
  };
}

/** What a containment record's details (nhi.ts) say was done, read defensively (the CLI reads them too). */
export function containedOf(record: unknown, newSecretWaiting: boolean): NonNullable<ExplainedNhi['contained']> {
  const details = obj(record);
  const restore = details['restore'] === undefined ? null : obj(details['restore']);
  return {
    revoked: revokedOf(details),
    disabled: details['disabled'] === true,
    secret_replaced: details['secret_replaced'] === true,
    new_secret_waiting: newSecretWaiting,
    app_changes_before: changesOf(details),
    restore: restore && { secret_replaced: restore['secret_replaced'] === true },
  };
}

/** The leak a record's details keep, else as its signal's attributes said it. */
export function leakOf(record: unknown, signal?: Pick<SignalRow, 'attributes' | 'observed_at'>): ExplainedNhi['leak'] {
  const recorded = obj(obj(record)['leak']);
  const attributes = (signal?.attributes ?? {}) as Details;
  return {
    report: text(recorded['report']) ?? text(attributes['secret.report']),
    url: text(recorded['url']) ?? text(attributes['secret.url']),
    observed_at: text(recorded['observed_at']) ?? (signal ? new Date(signal.observed_at).toISOString() : null),
    token_type: text(attributes['secret.token_type']),
  };
}

/**
 * The NHI part of an explanation: the leak as the record keeps it (else as the signal said it), and what
 * the record says was done.
 */
export function explainNhi(
  subject: NhiSubject,
  owner: ExplainedOwner | null,
  plan: { action: string } | undefined,
  containment: ContainmentRow | undefined,
  signal: SignalRow | undefined,
): ExplainedNhi {
  return {
    subject,
    owner,
    action: containment?.action ?? plan?.action ?? null,
    leak: leakOf(containment?.details, signal),
    contained: containment ? containedOf(containment.details, containment.secret_enc !== null) : null,
  };
}
