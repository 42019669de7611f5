/**
 * Which reported strings are live secrets that Cordon issued, and who holds each: the lookups of a leak
 * report, for the intake (reports.ts) and for containment to build on.
 *
 * A string is first read offline (secret-format.ts): a `cordon_` string that is not well formed (a
 * look-alike, a character changed: its checksum fails) is nobody's, and costs no lookup. The rest are
 * looked up by their SHA-256, as each kind is stored, in one statement per kind for the whole report.
 * Recognised besides the Cordon format: events tokens (ES256 JWTs, typ JWT, stored by the SHA-256 of the
 * whole token) and the secrets made before the format, which work until rotated: `cdns_`/`cdnt_`/`cdnh_`,
 * and client secrets of 43 base64url characters.
 */
import { sealLabel, tokenHash } from '../sources.js';
import type { Sealer } from '../../sealing.js';
import { EVENTS_TOKEN_PREFIX, parseEventsToken, parseSecret, type SecretKind } from '../../secret-format.js';
import type { Executor } from '../../store/executor.js';
import {
  findAppsBySecretHash,
  findEventsTokensByHash,
  findSessionsByTokenHash,
  findSourcesByHash,
  listUnhashedHmacSources,
} from '../../store/leaked-secrets.js';

/** A kind of secret Cordon issues: the Cordon format's kinds, and `et` for events tokens. */
export type LeakedKind = SecretKind | 'et';

/** A reported string that is a live secret, with what it opens. */
export interface LeakedSecret {
  /** SHA-256 hex of the secret, as the report's answer names it. */
  token_hash: string;
  kind: LeakedKind;
  /** Whose secret it is: the app, the signal source, or the user whose session it is. */
  owner: { account_id: string; type: 'app' | 'source' | 'user'; id: string };
  /** The credential itself when it is not the owner: the session, or the app's events token. */
  credential?: { type: 'session' | 'events_token'; id: string };
}

const LEGACY = /^cdn([sth])_[A-Za-z0-9_-]{43}$/;
/** A client secret made before the format: 32 random bytes in base64url, nothing else. */
const LEGACY_CLIENT_SECRET = /^[A-Za-z0-9_-]{43}$/;
const LEGACY_KINDS = { s: 'sess', t: 'st', h: 'sh' } as const;
const JWT = /^[A-Za-z0-9_-]{10,200}\.[A-Za-z0-9_-]{10,4000}\.[A-Za-z0-9_-]{40,200}$/;

/** The kind a string would be if Cordon issued it, read offline; undefined: it cannot be a Cordon secret. */
export function classifyToken(token: string): LeakedKind | undefined {
  const parsed = parseSecret(token);
  if (parsed.ok) return parsed.kind;
  if (token.startsWith('cordon_')) return undefined;
  const legacy = LEGACY.exec(token)?.[1] as keyof typeof LEGACY_KINDS | undefined;
  if (legacy !== undefined) return LEGACY_KINDS[legacy];
  if (LEGACY_CLIENT_SECRET.test(token)) return 'cs';
  // An events token in today's form carries a checksum: a look-alike is refused here, with no lookup.
  if (token.startsWith(EVENTS_TOKEN_PREFIX)) return parseEventsToken(token).ok ? 'et' : undefined;
  // One made before the checksum: any ES256 JWT of typ JWT, looked up by its hash.
  if (!JWT.test(token)) return undefined;
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as {
      typ?: unknown;
      alg?: unknown;
    };
    return header.typ === 'JWT' && header.alg === 'ES256' ? 'et' : undefined;
  } catch {
    return undefined;
  }
}

/** A reported token's SHA-256 hex: what labels carry, and what source credentials are stored under. */
export const sha256Hex = tokenHash;
const hexToBase64url = (hex: string): string => Buffer.from(hex, 'hex').toString('base64url');
/** A client secret's stored hash (oauth/client-secret.ts hashClientSecret) from its SHA-256 hex. */
export const clientSecretHash = (hex: string): string => `sha256$${hexToBase64url(hex)}`;

/**
 * The live secrets among `tokens`, by their SHA-256 hex. `sealer` opens the HMAC secrets of sources made
 * before their hash was kept (migration 0029); without it, those are not matched.
 */
export function findLeakedSecrets(
  db: Executor,
  tokens: readonly string[],
  sealer?: Sealer,
): Promise<Map<string, LeakedSecret>> {
  const byKind = new Map<LeakedKind, Set<string>>();
  for (const token of tokens) {
    const kind = classifyToken(token);
    if (kind === undefined) continue;
    if (!byKind.has(kind)) byKind.set(kind, new Set());
    byKind.get(kind)!.add(sha256Hex(token));
  }
  return lookUp(db, byKind, sealer);
}

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * The live secrets whose SHA-256 hex is among `hashes`, of whatever kind: for a leak known by its hash only (a
 * `secret.leaked` signal). Each kind (of `kinds`: all by default) is looked up for every hash, still one statement
 * per kind.
 */
export function findLeakedSecretsByHash(
  db: Executor,
  hashes: readonly string[],
  sealer?: Sealer,
  kinds: readonly LeakedKind[] = ['cs', 'st', 'sh', 'sess', 'et'],
): Promise<Map<string, LeakedSecret>> {
  const all = new Set(hashes.map((hash) => hash.toLowerCase()).filter((hash) => HEX_SHA256.test(hash)));
  return lookUp(db, new Map(all.size === 0 ? [] : kinds.map((kind) => [kind, all])), sealer);
}

/** The SHA-256 hex of a source's sealed HMAC secret; undefined when it cannot be opened (nor verify a signal). */
function openedHash(sealer: Sealer, source: { account_id: string; id: string; secret_enc: string | null }) {
  try {
    return sha256Hex(sealer.open(sealLabel(source.account_id, source.id), source.secret_enc!));
  } catch {
    return undefined;
  }
}

/** The live secrets among the SHA-256 hex digests of each kind. */
async function lookUp(
  db: Executor,
  byKind: Map<LeakedKind, Set<string>>,
  sealer: Sealer | undefined,
): Promise<Map<string, LeakedSecret>> {
  const found = new Map<string, LeakedSecret>();
  const add = (kind: LeakedKind, hex: string, owner: LeakedSecret['owner'], credential?: LeakedSecret['credential']) =>
    found.set(hex, { token_hash: hex, kind, owner, ...(credential ? { credential } : {}) });
  const hexes = (kind: LeakedKind) => [...(byKind.get(kind) ?? [])];

  const cs = new Map(hexes('cs').map((hex) => [clientSecretHash(hex), hex]));
  if (cs.size > 0)
    for (const app of await findAppsBySecretHash(db, [...cs.keys()]))
      add('cs', cs.get(app.secret_hash!)!, { account_id: app.account_id, type: 'app', id: app.id });
  if (byKind.has('st'))
    for (const source of await findSourcesByHash(db, 'token_hash', hexes('st')))
      add('st', source.hash!, { account_id: source.account_id, type: 'source', id: source.id });
  if (byKind.has('sh')) {
    for (const source of await findSourcesByHash(db, 'secret_hash', hexes('sh')))
      add('sh', source.hash!, { account_id: source.account_id, type: 'source', id: source.id });
    const rest = new Set(hexes('sh').filter((hex) => !found.has(hex)));
    if (rest.size > 0 && sealer)
      for (const source of await listUnhashedHmacSources(db)) {
        const hex = openedHash(sealer, source);
        if (hex !== undefined && rest.has(hex))
          add('sh', hex, { account_id: source.account_id, type: 'source', id: source.id });
      }
  }
  const base64 = (kind: LeakedKind) => new Map(hexes(kind).map((hex) => [hexToBase64url(hex), hex]));
  const sess = base64('sess');
  if (sess.size > 0)
    for (const session of await findSessionsByTokenHash(db, [...sess.keys()]))
      add(
        'sess',
        sess.get(session.hash!)!,
        { account_id: session.account_id, type: 'user', id: session.user_id },
        { type: 'session', id: session.id },
      );
  const et = base64('et');
  if (et.size > 0)
    for (const token of await findEventsTokensByHash(db, [...et.keys()]))
      add(
        'et',
        et.get(token.hash)!,
        { account_id: token.account_id, type: 'app', id: token.app_id },
        { type: 'events_token', id: token.id },
      );
  return found;
}
