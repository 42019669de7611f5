/**
 * A non-human identity as the response engine sees it (nhi.ts): the owner of a leaked secret found by the
 * secret's SHA-256, the facts of the leak a signal carries, and the checks that prove a containment (or its
 * restore) took: the leaked secret finds no live owner, and an app's tokens from before are refused.
 */
import type { Transaction } from 'kysely';
import type { DirectoryDeps } from '../directory/deps.js';
import type { Database, NhiAction, NhiSubject } from '../storage/schema.js';
import { findLeakedSecretsByHash, type LeakedKind, type LeakedSecret } from './leaks/find-leaked.js';
import { sealLabel, tokenHash } from './sources.js';

/** The subject a leaked secret's owner is. */
export function nhiSubjectOf(leaked: LeakedSecret): NhiSubject {
  const { owner, credential, token_hash, kind } = leaked;
  if (credential?.type === 'session')
    return { type: 'session', id: credential.id, user_id: owner.id, token_hash, kind };
  return {
    type: owner.type === 'source' ? 'source' : 'app',
    id: owner.id,
    token_hash,
    kind,
    ...(credential?.type === 'events_token'
      ? { credential: { type: 'events_token' as const, id: credential.id } }
      : {}),
  };
}

/**
 * The live secret of the account whose SHA-256 hex is `hash`, as a subject; undefined when there is none
 * (never issued, revoked, rotated, or another account's: a signal never reaches across accounts).
 */
export async function findNhiSubject(
  deps: Pick<DirectoryDeps, 'sealer'>,
  trx: Transaction<Database>,
  accountId: string,
  hash: string,
  kind?: LeakedKind,
): Promise<NhiSubject | undefined> {
  const found = [...(await findLeakedSecretsByHash(trx, [hash], deps.sealer, kind && [kind])).values()];
  const mine = found.find((leaked) => leaked.owner.account_id === accountId);
  return mine && nhiSubjectOf(mine);
}

/** Where and when the leak was found, and the report that said so (a signal's attributes). */
export interface LeakFacts {
  url: string | null;
  observedAt: Date;
  report: string | null;
}

export function leakFacts(attributes: Record<string, unknown>, observedAt: Date | string): LeakFacts {
  const text = (key: string) => (typeof attributes[key] === 'string' ? attributes[key] : null);
  return { url: text('secret.url'), observedAt: new Date(observedAt), report: text('secret.report') };
}

/** The label a record's new secret is sealed under. */
export const containmentSealLabel = (accountId: string, id: string) => `containment secret ${accountId}/${id}`;

/** A source's new credential as stored: a URL token's hash, or an HMAC secret sealed with its hash. */
export function sourceCredential(
  deps: Pick<DirectoryDeps, 'sealer'>,
  source: { account_id: string; id: string; auth: string },
  secret: string,
) {
  return source.auth === 'hmac'
    ? { secret_enc: deps.sealer.seal(sealLabel(source.account_id, source.id), secret), secret_hash: tokenHash(secret) }
    : { token_hash: tokenHash(secret) };
}

/**
 * Read back in the transaction: the leaked secret no longer finds a live owner (but after `revoke_tokens`,
 * which leaves a client secret as it was), and an app's tokens from before are cut off.
 */
export async function verifyNhi(
  deps: Pick<DirectoryDeps, 'sealer'>,
  trx: Transaction<Database>,
  accountId: string,
  subject: NhiSubject,
  action: NhiAction | 'restore',
  /**
   * What the containment's own statement returned of an app's row: since when its tokens from before are
   * refused (null: not cut off; undefined: not asked, as for a leaked events token's rotation, which revokes
   * it alone: it obtained no access token), and whether the leaked client secret still opens it (undefined:
   * look the secret up).
   */
  known: { cutOffAt?: Date | null; secretLive?: boolean } = {},
): Promise<Record<string, boolean>> {
  const live =
    known.secretLive ??
    (await findNhiSubject(deps, trx, accountId, subject.token_hash, subject.kind as LeakedKind)) !== undefined;
  const keepsSecret = action === 'revoke_tokens' && subject.type === 'app' && subject.kind !== 'et';
  const checks: Record<string, boolean> = { leaked_secret_dead: keepsSecret || !live };
  if (known.cutOffAt !== undefined) checks.tokens_from_before_refused = known.cutOffAt !== null;
  return checks;
}

/** What a record keeps, sealed, for a leaked events token: the replacement to make as a person reads it. */
const RECIPE = 'events-token-to-make:';

/** The sealed text of an events token's replacement (nhi.ts). */
export const eventsTokenRecipeText = (recipe: { features: string[]; audience: string }) =>
  RECIPE + JSON.stringify(recipe);

/** The replacement to make, when a record's sealed text is one. */
export function eventsTokenRecipe(text: string): { features: string[]; audience: string } | undefined {
  return text.startsWith(RECIPE)
    ? (JSON.parse(text.slice(RECIPE.length)) as { features: string[]; audience: string })
    : undefined;
}
