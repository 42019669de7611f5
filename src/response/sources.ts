/**
 * Detection sources: where signals come from, in which format, and how each proves itself.
 *
 * - `oauth`: a bearer access token of an app holding `signals:write` (optionally one named app).
 * - `hmac`: for SIEMs that can sign but not hold OAuth tokens. Headers `X-Cordon-Timestamp` (Unix
 *   seconds) and `X-Cordon-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`. The
 *   timestamp must be within 5 minutes of now, and each signature is accepted once (replays refused).
 * - `url_token`: for the Splunk webhook alert action, which can set neither headers nor a signature: a
 *   256-bit token in the URL (`?token=`), stored as its SHA-256 hash, kept out of every log line.
 *
 * A source can submit signals and nothing else: no route that acts on a user accepts its credentials.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { AppError } from '../errors.js';
import { newId } from '../ids.js';
import { makeSecret } from '../secret-format.js';
import type { SignalFormat, SourceAuth } from '../storage/schema.js';
import type { Executor } from '../store/executor.js';
import { claimSignature, disableSource, findSource, insertSource, type SignalSource } from '../store/signals.js';

export const REPLAY_WINDOW_SECONDS = 300;
const SIGNATURE = /^v1=([0-9a-f]{64})$/;

export interface NewSource {
  name: string;
  format: SignalFormat;
  auth: SourceAuth;
  /** oauth only: the one app allowed to post to this source (any app with signals:write when absent). */
  client_id?: string | undefined;
  /** 0..1: the confidence of this source's alerts that carry none (absent: the format's default). */
  default_confidence?: number | undefined;
}

/** Registers a source; the HMAC secret or URL token is in this answer and never again. */
export async function createSource(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  input: NewSource,
): Promise<{ source: SignalSource; secret?: string }> {
  if (input.client_id !== undefined && input.auth !== 'oauth')
    throw new AppError('INVALID_ARGUMENT', { description: 'client_id applies to oauth sources only' });
  const id = newId();
  // Cordon secrets (src/secret-format.ts); the `cdnh_`/`cdnt_` ones made before keep working as they are.
  const secret = input.auth === 'oauth' ? undefined : makeSecret(input.auth === 'hmac' ? 'sh' : 'st');
  return deps.audit.transact(async (trx) => {
    const source = await insertSource(trx, {
      account_id: accountId,
      id,
      name: input.name,
      format: input.format,
      auth: input.auth,
      client_id: input.client_id ?? null,
      secret_enc: input.auth === 'hmac' ? deps.sealer.seal(sealLabel(accountId, id), secret!) : null,
      token_hash: input.auth === 'url_token' ? tokenHash(secret!) : null,
      // Beside the sealed secret, so that a leak report finds the source by hash (response/leaks/).
      secret_hash: input.auth === 'hmac' ? tokenHash(secret!) : null,
      default_confidence: input.default_confidence ?? null,
    });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'source.create',
      target: { type: 'source', id },
      outcome: 'changed',
      details: {
        name: input.name,
        format: input.format,
        auth: input.auth,
        client_id: input.client_id ?? null,
        default_confidence: input.default_confidence ?? null,
      },
    });
    return secret === undefined ? { source } : { source, secret };
  });
}

export async function disableSignalSource(
  deps: DirectoryDeps,
  ctx: CallContext,
  accountId: string,
  id: string,
): Promise<SignalSource> {
  return deps.audit.transact(async (trx) => {
    const source = await disableSource(trx, accountId, id);
    if (!source) throw new AppError('SOURCE_NOT_FOUND', { metadata: { source_id: id } });
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'source.disable',
      target: { type: 'source', id },
      outcome: 'changed',
    });
    return source;
  });
}

/** The source named in the path, enabled; SOURCE_NOT_FOUND otherwise (a disabled source looks gone). */
export async function enabledSource(db: Executor, accountId: string, id: string): Promise<SignalSource> {
  const source = await findSource(db, accountId, id);
  if (!source || source.disabled_at !== null) throw new AppError('SOURCE_NOT_FOUND', { metadata: { source_id: id } });
  return source;
}

export interface SignedRequest {
  timestamp: string | undefined;
  signature: string | undefined;
  body: Buffer;
}

/** Checks an HMAC-signed request against the source's secret, and claims its signature against replay. */
export async function verifySignature(
  deps: DirectoryDeps,
  source: SignalSource,
  request: SignedRequest,
  nowSeconds = Date.now() / 1000,
): Promise<void> {
  const refuse = (why: string) =>
    new AppError('SOURCE_AUTH_FAILED', {
      description: `source_auth_failed: ${why}`,
      metadata: { source_id: source.id },
    });
  if (request.timestamp === undefined || request.signature === undefined)
    throw refuse('X-Cordon-Timestamp and X-Cordon-Signature are required');
  if (!/^\d{1,12}$/.test(request.timestamp)) throw refuse('X-Cordon-Timestamp must be Unix seconds');
  if (Math.abs(nowSeconds - Number(request.timestamp)) > REPLAY_WINDOW_SECONDS)
    throw refuse(`the timestamp is more than ${REPLAY_WINDOW_SECONDS} s from now`);
  const given = SIGNATURE.exec(request.signature)?.[1];
  if (!given) throw refuse('X-Cordon-Signature must be v1=<64 hex digits>');
  const secret = deps.sealer.open(sealLabel(source.account_id, source.id), source.secret_enc!);
  const expected = createHmac('sha256', secret).update(`${request.timestamp}.`).update(request.body).digest();
  if (!timingSafeEqual(expected, Buffer.from(given, 'hex'))) throw refuse('the signature does not match');
  if (
    !(await claimSignature(
      deps.db,
      source.account_id,
      source.id,
      createHash('sha256').update(given).digest('hex'),
      REPLAY_WINDOW_SECONDS,
    ))
  ) {
    throw refuse('this signed request was already received (replay)');
  }
}

/** Checks a url_token source's `?token=` against the stored hash, in constant time. */
export function verifyUrlToken(source: SignalSource, token: string | undefined): void {
  const given = Buffer.from(tokenHash(token ?? ''), 'hex');
  if (token === undefined || !timingSafeEqual(given, Buffer.from(source.token_hash!, 'hex'))) {
    throw new AppError('SOURCE_AUTH_FAILED', {
      description: 'source_auth_failed: the URL token is missing or wrong',
      metadata: { source_id: source.id },
    });
  }
}

/** The signature header value a sender computes (tests, the CLI's `signals send`). */
export function signBody(secret: string, timestamp: string, body: string | Buffer): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex')}`;
}

export const tokenHash = (token: string): string => createHash('sha256').update(token).digest('hex');

export const sealLabel = (accountId: string, id: string) => `signal source ${accountId}/${id}`;
