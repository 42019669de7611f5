/**
 * The Global Token Revocation suites' preamble: a server (injected, or listening) whose account has members,
 * a second account with a user of its own, and apps of every kind of caller: with and without
 * sessions:revoke_all, DPoP-bound, and private_key_jwt apps that sign their own JWTs. With helpers to call
 * the endpoint, sign a JWT as an app, and see whether a session token still signs its user in.
 */
import type { FastifyInstance, InjectOptions } from 'fastify';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll } from 'vitest';
import type { Core } from '../../src/core.js';
import { createAccount } from '../../src/directory/accounts.js';
import { createUser } from '../../src/directory/users.js';
import { createApp } from '../../src/oauth/apps.js';
import type { AuditRecord, User } from '../../src/storage/schema.js';
import type { TestBackend } from './backends.js';
import { appAccessToken, auditTrail, seedAccount, testCtx } from './fixtures.js';
import { useServer, type TestServer } from './server.js';

export const GTR_PATH = '/oauth/global-token-revocation';
export const now = () => Math.floor(Date.now() / 1000);

export interface GtrPeer {
  suite: TestServer;
  core: Core;
  server: FastifyInstance;
  /** The issuer the server names itself by (its listening URL, or the fixed test issuer). */
  issuer: string;
  endpoint: string;
  accountId: string;
  members: User[];
  /** A user of another account. */
  outsider: User;
  apps: Record<string, { id: string; clientId: string; secret?: string }>;
  /** Access tokens of the client_secret apps: revoker, reader, outside. */
  tokens: Record<string, string>;
  /** The private key of the private_key_jwt apps (`idp`, `idp-reader`), its public JWK, and an unregistered key. */
  key: CryptoKey;
  jwk: JWK;
  otherKey: CryptoKey;
}

/** A GTR peer for the enclosing block; `listen` serves real HTTP (its issuer is then its URL). */
export function useGtrPeer(backend: TestBackend, options: { listen?: boolean; issuer?: string } = {}): GtrPeer {
  const issuer = options.issuer ?? 'http://127.0.0.1:8080';
  const suite = useServer(backend, {
    env: { CORDON_ISSUER: issuer, CORDON_OAUTH_RATE_PER_CLIENT: '0', CORDON_OAUTH_RATE_PER_ADDRESS: '0' },
    ...(options.listen ? { listen: true } : {}),
  });
  const peer = { suite, apps: {}, tokens: {} } as GtrPeer;
  beforeAll(async () => {
    const { core, server } = suite;
    Object.assign(peer, { core, server, issuer: options.listen ? suite.url : issuer });
    if (options.listen) core.issuer = suite.url;
    peer.endpoint = `${peer.issuer}${GTR_PATH}`;
    const seed = await seedAccount(core, 4);
    peer.accountId = seed.accountId;
    peer.members = seed.members;
    const other = await createAccount(core.directory, testCtx, {
      name: 'Other',
      owner: { email: 'owner@other.example', display_name: 'O' },
    });
    peer.outsider = await createUser(core.directory, testCtx, other.account.id, {
      email: 'out@other.example',
      display_name: 'Out',
    });
    const pair = await generateKeyPair('ES256', { extractable: true });
    peer.key = pair.privateKey;
    peer.jwk = { ...(await exportJWK(pair.privateKey)), kid: 'k1' };
    peer.otherKey = (await generateKeyPair('ES256')).privateKey;
    const jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] };
    const make = async (
      name: string,
      input: Omit<Parameters<typeof createApp>[3], 'name'>,
      account = seed.accountId,
    ) => {
      const { app, clientSecret } = await createApp(core.directory, testCtx, account, { name, ...input });
      peer.apps[name] = { id: app.id, clientId: app.client_id, ...(clientSecret ? { secret: clientSecret } : {}) };
    };
    await make('revoker', { permissions: ['sessions:revoke_all'] });
    await make('reader', { permissions: ['users:read'] });
    await make('bound', { permissions: ['sessions:revoke_all'], dpop_required: true });
    await make('idp', { permissions: ['sessions:revoke_all'], auth_method: 'private_key_jwt', jwks });
    await make('idp-reader', { permissions: ['users:read'], auth_method: 'private_key_jwt', jwks });
    await make('outside', { permissions: ['sessions:revoke_all'] }, other.account.id);
    for (const name of ['revoker', 'reader', 'outside'])
      peer.tokens[name] = await appAccessToken(server, peer.apps[name]!.clientId, peer.apps[name]!.secret!);
  });
  return peer;
}

/** POSTs a GTR request (JSON by default) with the given Authorization. */
export function gtrCall(
  peer: GtrPeer,
  authorization: string | undefined,
  body: unknown,
  extra: Partial<InjectOptions> = {},
) {
  return peer.server.inject({
    method: 'POST',
    url: GTR_PATH,
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
      ...(extra.headers ?? {}),
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** A JWT as the app `app` signs it for the endpoint (claims overridable). */
export function appJwt(
  peer: GtrPeer,
  app = 'idp',
  claims: { aud?: string; exp?: number; jti?: string; iss?: string } = {},
  signer: CryptoKey = peer.key,
): Promise<string> {
  const clientId = peer.apps[app]!.clientId;
  return new SignJWT({ jti: claims.jti ?? `j-${Math.random()}` })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
    .setIssuer(claims.iss ?? clientId)
    .setSubject(clientId)
    .setAudience(claims.aud ?? peer.endpoint)
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? now() + 120)
    .sign(signer);
}

/** Whether a session token still signs its user in. */
export async function sessionLives(peer: GtrPeer, token: string): Promise<boolean> {
  const res = await peer.server.inject({
    url: '/v1/auth/sessions/current',
    headers: { authorization: `Bearer ${token}` },
  });
  return res.statusCode === 200;
}

/** The newest audit entry of an account (the peer's by default). */
export async function lastEntry(peer: GtrPeer, account = peer.accountId): Promise<AuditRecord> {
  return (await auditTrail(peer.core, account)).at(-1)!;
}

export const email = (address: string) => ({ sub_id: { format: 'email', email: address } });
export const opaque = (id: string) => ({ sub_id: { format: 'opaque', id } });
export const oauthError = (error: string, error_description: string) => ({ error, error_description });
