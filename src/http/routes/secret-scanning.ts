/**
 * `POST /v1/secret-scanning/reports`: leak reports from a code host, in the shape of GitHub's secret
 * scanning partner program. The body is a JSON array of `{token, type, url, source}`, signed with ECDSA
 * P-256 over its raw bytes (`Github-Public-Key-Identifier`, `Github-Public-Key-Signature`); the answer
 * labels each token (response/leaks/reports.ts).
 *
 * The body is read as bytes, in this route's own scope, and parsed only once the signature holds: an
 * unsigned caller learns nothing about what Cordon would make of its body. Every refusal is a 4xx:
 * - 404 SECRET_SCANNING_OFF when no key set is configured (CORDON_SECRET_SCANNING_KEYS): the endpoint is
 *   not offered, and a 404 makes no code host retry forever as a 503 would;
 * - 401 LEAK_REPORT_SIGNATURE: unsigned, a key id not in the set, or a signature that does not verify
 *   (forged, or the body changed after signing);
 * - 409 LEAK_REPORT_REPLAYED: the same signature over the same body within the replay window. A code host
 *   that repeats a report signs it anew, and is answered as the first time (the labels are recomputed);
 * - 413 LEAK_REPORT_TOO_LARGE past MAX_REPORT_TOKENS (and 413 past BODY_LIMIT); 400 for a body that is not a
 *   JSON array of matches.
 * A signed empty array is answered `[]`: no match, nothing to label, nothing recorded.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import type { Core } from '../../core.js';
import { AppError } from '../../errors.js';
import { KeySet } from '../../response/leaks/key-set.js';
import { receiveLeakReport, type ReportedToken } from '../../response/leaks/reports.js';
import { decodeSignature, reportReplayHash, verifyReportSignature } from '../../response/leaks/signature.js';
import { requestOrigin } from '../guards/app-token.js';
import { RpcStatusSchema } from '../schemas.js';

export const SECRET_SCANNING_PATH = '/v1/secret-scanning/reports';
/** The most tokens one report may hold. */
export const MAX_REPORT_TOKENS = 10_000;
/** 10,000 matches with long URLs fit; a Cordon secret is under 60 characters, an events token under 1,000. */
const BODY_LIMIT = 8 * 1024 * 1024;
const KEY_ID = /^[\x21-\x7e]{1,200}$/;

const ReportedTokenSchema = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 4096 }),
  type: Type.String({ minLength: 1, maxLength: 200 }),
  url: Type.Optional(Type.String({ maxLength: 4096 })),
  source: Type.Optional(Type.String({ maxLength: 200 })),
});
const checkItem = Compile(ReportedTokenSchema);

const LabelSchema = Type.Object({
  token_hash: Type.String({ description: 'SHA-256 hex of the token' }),
  token_type: Type.String({ description: 'the type the report gave' }),
  label: Type.Union([Type.Literal('true_positive'), Type.Literal('false_positive')]),
});

function refuse(why: string): AppError {
  return new AppError('LEAK_REPORT_SIGNATURE', { description: `leak_report_signature: ${why}` });
}

const badReport = (why: string) => new AppError('INVALID_ARGUMENT', { description: `the report ${why}` });

/** The report's matches, checked: a JSON array of at most MAX_REPORT_TOKENS `{token, type, url?, source?}`. */
export function readReport(body: Buffer): ReportedToken[] {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw badReport('is not JSON');
  }
  if (!Array.isArray(value)) throw badReport('must be a JSON array of {token, type, url, source}');
  if (value.length > MAX_REPORT_TOKENS)
    throw new AppError('LEAK_REPORT_TOO_LARGE', {
      description: `leak_report_too_large: a report holds at most ${MAX_REPORT_TOKENS} tokens (got ${value.length})`,
    });
  return value.map((item: unknown, i) => {
    if (!checkItem.Check(item))
      throw badReport(
        `item ${i} must be {token, type, url, source}: token 1 to 4096 characters, type 1 to 200, url up to 4096, ` +
          'source up to 200',
      );
    const { token, type, url, source } = item;
    if ([token, type, url ?? '', source ?? ''].some((text) => text.includes('\u0000')))
      throw badReport(`item ${i} holds a NUL character (U+0000)`);
    return { token, type, url, source };
  });
}

export function secretScanningRoutes(app: FastifyInstance, core: Core): void {
  const location = core.config.secretScanningKeys;
  const keys = location === undefined ? undefined : new KeySet(location, core.logger);

  const verify = async (request: FastifyRequest, body: Buffer) => {
    if (keys === undefined) throw new AppError('SECRET_SCANNING_OFF');
    const keyId = request.headers['github-public-key-identifier'];
    const signatureHeader = request.headers['github-public-key-signature'];
    if (typeof keyId !== 'string' || typeof signatureHeader !== 'string')
      throw refuse('Github-Public-Key-Identifier and Github-Public-Key-Signature are required');
    const signature = decodeSignature(signatureHeader);
    if (!KEY_ID.test(keyId) || signature === undefined)
      throw refuse('Github-Public-Key-Signature must be base64 and the key identifier printable');
    const key = await keys.key(keyId);
    if (key === undefined) throw refuse('the key identifier is not in the key set');
    if (!verifyReportSignature(key, body, signature)) throw refuse('the signature does not verify over this body');
    const ctx = {
      actor: { type: 'source' as const, id: `secret-scanning:${keyId}` },
      authz: { method: 'secret_scanning_signature', key_identifier: keyId, ...requestOrigin(request) },
    };
    request.source = { ctx };
    return { keyId, ctx, replayHash: reportReplayHash(signature, body) };
  };

  void app.register(async (scope) => {
    // The signature covers the bytes as sent: whatever the Content-Type, the body is kept as they came.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: BODY_LIMIT }, (_request, body, done) =>
      done(null, body),
    );
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      SECRET_SCANNING_PATH,
      {
        bodyLimit: BODY_LIMIT,
        schema: {
          summary: "Report leaked Cordon secrets (a code host's secret scanning, GitHub partner-program shape)",
          description:
            'A JSON array of `{token, type, url, source}` (at most 10,000), signed with ECDSA P-256 / SHA-256 ' +
            'over the raw body: `Github-Public-Key-Identifier` names the key in CORDON_SECRET_SCANNING_KEYS, ' +
            '`Github-Public-Key-Signature` is the DER signature in base64. Answers a label per token.',
          tags: ['secret scanning'],
          body: Type.Unknown(),
          response: {
            200: Type.Array(LabelSchema),
            400: RpcStatusSchema,
            401: RpcStatusSchema,
            404: RpcStatusSchema,
            409: RpcStatusSchema,
            413: RpcStatusSchema,
            503: RpcStatusSchema,
          },
        },
      },
      async (request) => {
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const signed = await verify(request, body);
        const tokens = readReport(body);
        if (tokens.length === 0) return [];
        return receiveLeakReport(core.response, {
          replayHash: signed.replayHash,
          keyIdentifier: signed.keyId,
          tokens,
          ctx: signed.ctx,
        });
      },
    );
  });
}
