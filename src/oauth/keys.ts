/**
 * Token-signing keys (ES256). They live in the database so that every node signs and verifies with the
 * same ones; the private half is sealed under the key-encryption key (see sealing.ts), with the kid as
 * associated data. The newest unretired key signs; a retired key still verifies for one token
 * lifetime, so rotation never cuts off a token already issued. A revoked key (it leaked) verifies
 * nothing: the resource guard reads each token's key status with its standing (token-standing.ts), so
 * that holds on every node from the next request, cached verifications included.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { sql } from 'kysely';
import type { AuditLog } from '../audit/log.js';
import { SYSTEM_LOG, type CallContext } from '../audit/entry.js';
import { AppError } from '../errors.js';
import type { Sealer } from '../sealing.js';
import type { Executor } from '../store/executor.js';

// Advisory lock: one node creates the first key. Written 0x436f72646f6e4b ('CordonK') at first, which a double
// rounds to this: the key every node has locked since.
const KEY_LOCK = 0x436f72646f6e4c;
const REFRESH_MS = 30_000;

/**
 * How long (s) after its retirement a key still verifies: one token lifetime, plus a minute for a node
 * that kept signing with it until its next refresh (REFRESH_MS).
 */
export const retiredKeyWindow = (tokenTtl: number): number => tokenTtl + 60;

export interface KeyStatus {
  kid: string;
  status: 'active' | 'retired' | 'revoked';
  create_time: string;
  retire_time: string | null;
  revoke_time: string | null;
}

export interface KeyRingOptions {
  sealer: Sealer;
  /** Access token lifetime (s): how long a retired key keeps verifying. */
  tokenTtl: number;
}

interface Signer {
  kid: string;
  /** A node KeyObject: signing with node:crypto directly is several times cheaper than WebCrypto. */
  key: KeyObject;
}

export class KeyRing {
  private signer: Signer | undefined;
  private publicKeys = new Map<string, { jwk: JWK; key: CryptoKey }>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly db: Executor,
    private readonly options: KeyRingOptions,
  ) {}

  /** The key new tokens are signed with (creating the first one if there is none). */
  async signingKey(): Promise<Signer> {
    await this.refresh();
    if (!this.signer) {
      await this.createFirstKey();
      await this.refresh(true);
    }
    return this.signer!;
  }

  /** A verification key by kid; an unknown kid reloads once (another node may have rotated). */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    await this.refresh();
    if (!this.publicKeys.has(kid) && Date.now() - this.loadedAt > 1000) await this.refresh(true);
    return this.publicKeys.get(kid)?.key;
  }

  /** The JWKS: every key that signs or may still verify a token. */
  async jwks(): Promise<{ keys: JWK[] }> {
    await this.signingKey();
    return { keys: [...this.publicKeys.values()].map((k) => k.jwk) };
  }

  /** Makes a new signing key and retires the others (they verify for one more token lifetime). */
  async rotate(audit: AuditLog, ctx: CallContext): Promise<{ kid: string; retired: string[] }> {
    const made = await this.makeKey();
    const result = await audit.transact(async (trx) => {
      // Two rotations at once must not leave two active keys.
      await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK})`.execute(trx);
      const retired = await trx
        .updateTable('signing_keys')
        .set({ retired_at: sql<Date>`clock_timestamp()` as unknown as Date })
        .where('retired_at', 'is', null)
        .returning('kid')
        .execute();
      await trx.insertInto('signing_keys').values(made).execute();
      const retiredKids = retired.map((r) => r.kid);
      await audit.append(trx, {
        accountId: SYSTEM_LOG,
        ctx,
        action: 'key.rotate',
        target: { type: 'signing_key', id: made.kid },
        outcome: 'changed',
        details: { alg: 'ES256', retired: retiredKids },
      });
      return { kid: made.kid, retired: retiredKids };
    });
    await this.refresh(true);
    return result;
  }

  /**
   * Revokes a leaked key: the tokens it signed stop working at once, on every node. Revoking the key
   * that signs makes a new one in the same transaction, so that tokens can still be issued. Throws
   * NOT_FOUND for an unknown kid and FAILED_PRECONDITION for a key already revoked.
   */
  async revoke(audit: AuditLog, ctx: CallContext, kid: string): Promise<{ kid: string; replaced_by: string | null }> {
    const made = await this.makeKey();
    const result = await audit.transact(async (trx) => {
      // Serialised with rotations and first-key creation: exactly one active key afterwards.
      await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK})`.execute(trx);
      const key = await trx
        .selectFrom('signing_keys')
        .select(['kid', 'retired_at', 'revoked_at'])
        .where('kid', '=', kid)
        .forUpdate()
        .executeTakeFirst();
      if (!key) throw new AppError('NOT_FOUND', { description: `no signing key ${kid}` });
      if (key.revoked_at !== null)
        throw new AppError('FAILED_PRECONDITION', { description: `signing key ${kid} is already revoked` });
      const now = sql<Date>`clock_timestamp()` as unknown as Date;
      await trx
        .updateTable('signing_keys')
        .set({ revoked_at: now, retired_at: key.retired_at ?? now })
        .where('kid', '=', kid)
        .execute();
      const wasActive = key.retired_at === null;
      if (wasActive) await trx.insertInto('signing_keys').values(made).execute();
      const replacedBy = wasActive ? made.kid : null;
      await audit.append(trx, {
        accountId: SYSTEM_LOG,
        ctx,
        action: 'key.revoke',
        target: { type: 'signing_key', id: kid },
        outcome: 'changed',
        details: { was: wasActive ? 'active' : 'retired', replaced_by: replacedBy },
      });
      return { kid, replaced_by: replacedBy };
    });
    await this.refresh(true);
    return result;
  }

  /** Every key, newest first, with its status (for operators: which kid to revoke). */
  async list(): Promise<KeyStatus[]> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .select(['kid', 'created_at', 'retired_at', 'revoked_at'])
      .orderBy('created_at', 'desc')
      .execute();
    const iso = (time: Date | null) => (time === null ? null : new Date(time).toISOString());
    return rows.map((row) => ({
      kid: row.kid,
      status: row.revoked_at !== null ? 'revoked' : row.retired_at !== null ? 'retired' : 'active',
      create_time: new Date(row.created_at).toISOString(),
      retire_time: iso(row.retired_at),
      revoke_time: iso(row.revoked_at),
    }));
  }

  /**
   * The guard found a token whose key is revoked: if this node still holds that key (it may even sign
   * with it, until its next refresh), reload now rather than in up to REFRESH_MS.
   */
  noteRevoked(kid: string): void {
    if (this.signer?.kid === kid || this.publicKeys.has(kid)) void this.refresh(true).catch(() => undefined);
  }

  private async makeKey() {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk); // RFC 7638
    const privateJwk = await exportJWK(privateKey);
    return {
      kid,
      alg: 'ES256' as const,
      public_jwk: JSON.stringify({ ...publicJwk, kid, alg: 'ES256', use: 'sig' }),
      private_key_enc: this.options.sealer.seal(`signing key ${kid}`, JSON.stringify(privateJwk)),
    };
  }

  private async createFirstKey(): Promise<void> {
    const made = await this.makeKey();
    await this.db.transaction().execute(async (trx) => {
      // Nodes starting together make one key between them.
      await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK})`.execute(trx);
      const existing = await trx
        .selectFrom('signing_keys')
        .select('kid')
        .where('retired_at', 'is', null)
        .executeTakeFirst();
      if (!existing) await trx.insertInto('signing_keys').values(made).execute();
    });
  }

  private async refresh(force = false): Promise<void> {
    // A load in flight (noteRevoked's, say) is waited for: what it reads is newer than what is held.
    if (!force && this.loadedAt !== 0 && Date.now() - this.loadedAt < REFRESH_MS && !this.loading) return;
    this.loading ??= this.load().finally(() => (this.loading = undefined));
    await this.loading;
  }

  private async load(): Promise<void> {
    const rows = await this.db
      .selectFrom('signing_keys')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where((eb) =>
        eb.or([
          eb('retired_at', 'is', null),
          eb('retired_at', '>', sql<Date>`now() - make_interval(secs => ${retiredKeyWindow(this.options.tokenTtl)})`),
        ]),
      )
      .orderBy('created_at', 'desc')
      .execute();
    // Every key is trusted only through its sealed private half: AES-GCM under the KEK (with the kid as
    // associated data) authenticates it, and the public key is derived from it, never read from the row.
    // A key row written by someone without the KEK is refused.
    const publicKeys = new Map<string, { jwk: JWK; key: CryptoKey }>();
    let signer: Signer | undefined;
    for (const row of rows) {
      const privateJwk = JSON.parse(this.options.sealer.open(`signing key ${row.kid}`, row.private_key_enc)) as JWK;
      const jwk: JWK = {
        kty: privateJwk.kty,
        crv: privateJwk.crv,
        x: privateJwk.x,
        y: privateJwk.y,
        kid: row.kid,
        alg: 'ES256',
        use: 'sig',
      };
      if ((await calculateJwkThumbprint(jwk)) !== row.kid)
        throw new AppError('UNAVAILABLE', { description: `signing key ${row.kid} does not match its id` });
      publicKeys.set(row.kid, { jwk, key: (await importJWK(jwk, 'ES256')) as CryptoKey });
      if (!signer && row.retired_at === null) {
        signer =
          this.signer?.kid === row.kid
            ? this.signer
            : { kid: row.kid, key: createPrivateKey({ key: privateJwk as JWK & { kty: string }, format: 'jwk' }) };
      }
    }
    this.signer = signer;
    this.publicKeys = publicKeys;
    this.loadedAt = Date.now();
  }
}
