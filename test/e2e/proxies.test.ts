/**
 * Addresses behind a proxy (issue 14 §5): only a trusted proxy's Forwarded / X-Forwarded-For are
 * believed, and then one address's failed sign-ins do not block another's; sign-in is limited per
 * (address, email) besides per address.
 */
import type { FastifyInstance } from 'fastify';
import { beforeAll, expect, it } from 'vitest';
import type { Core } from '../../src/core.js';
import { resetCredentials, type NewCredentials } from '../../src/directory/credentials.js';
import { timeStep, totpCode } from '../../src/directory/totp.js';
import { base32Decode } from '../../src/base32.js';
import { describeBackends } from '../support/backends.js';
import { useServer } from '../support/server.js';
import { auditTrail, seedAccount, testCtx, type SeededAccount } from '../support/fixtures.js';

describeBackends('addresses behind a trusted proxy', (backend) => {
  let core: Core;
  let server: FastifyInstance;
  let seed: SeededAccount;
  let creds: NewCredentials;
  let ownerCreds: NewCredentials;

  // The proxy is on loopback, where inject's requests come from.
  const suite = useServer(backend, {
    env: {
      CORDON_TRUSTED_PROXIES: '127.0.0.0/8, ::1',
      CORDON_SIGN_IN_RATE_PER_ADDRESS: '8',
      CORDON_SIGN_IN_RATE_PER_ADDRESS_EMAIL: '3',
    },
  });

  beforeAll(async () => {
    ({ core, server } = suite);
    seed = await seedAccount(core, 1);
    creds = (await resetCredentials(core.directory, testCtx, seed.accountId, seed.admin.id)).credentials;
    ownerCreds = (await resetCredentials(core.directory, testCtx, seed.accountId, seed.owner.id)).credentials;
  });

  const signIn = (
    email: string,
    password: string,
    totp: string,
    headers: Record<string, string>,
    remoteAddress?: string,
  ) =>
    server.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { account_id: seed.accountId, email, password, totp },
      headers,
      ...(remoteAddress ? { remoteAddress } : {}),
    });
  const guess = (email: string, headers: Record<string, string>, remoteAddress?: string) =>
    signIn(email, 'wrong password', '000000', headers, remoteAddress);
  const codeOf = (given: NewCredentials) => totpCode(base32Decode(given.totpSecret), timeStep(Date.now() / 1000));
  /** The source addresses of the sign-in entries of the account since `from`. */
  const signInAddresses = async (from: number) =>
    (await auditTrail(core, seed.accountId))
      .slice(from)
      .filter((e) => e.action === 'user.sign_in')
      .map((e) => [e.outcome, (e.details as { source_address: string }).source_address]);

  it("one address's failed sign-ins do not block a sign-in from another address", async () => {
    const attacker = { 'x-forwarded-for': '203.0.113.66' };
    const statuses: number[] = [];
    for (let i = 0; i < 35; i++) statuses.push((await guess(`nobody-${i}@test.example`, attacker)).statusCode);
    // Past the per-address limit (8 here, to spare the scrypt of 30 checked guesses), only 429s.
    expect(statuses).toEqual([...Array(8).fill(401), ...Array(27).fill(429)]);
    const from = (await auditTrail(core, seed.accountId)).length;
    // Another client of the same proxy, the proxy hop appended after what the client sent.
    const res = await signIn(seed.admin.email, creds.password, codeOf(creds), {
      'x-forwarded-for': '198.51.100.1, 203.0.113.77',
    });
    expect(res.statusCode, res.body).toBe(201);
    expect(await signInAddresses(from)).toEqual([['changed', '203.0.113.77']]);
  });

  it('believes Forwarded (RFC 7239) from a trusted proxy, and neither header from any other peer', async () => {
    const from = (await auditTrail(core, seed.accountId)).length;
    await guess('forwarded@test.example', { forwarded: 'for=198.51.100.99, for="[2001:DB8::5]:4711";proto=https' });
    await guess(
      'spoofed@test.example',
      { 'x-forwarded-for': '203.0.113.5', forwarded: 'for=203.0.113.5' },
      '192.0.2.9',
    );
    await guess('mapped@test.example', {}, '::ffff:192.0.2.10');
    expect(await signInAddresses(from)).toEqual([
      ['refused', '2001:db8::5'],
      ['refused', '192.0.2.9'],
      ['refused', '192.0.2.10'],
    ]);
  });

  it('limits sign-in attempts per address and email, leaving the address its other emails', async () => {
    const office = { 'x-forwarded-for': '198.51.100.20' };
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await guess('target@test.example', office)).statusCode);
    expect(statuses).toEqual([401, 401, 401, 429]);
    expect((await guess('TARGET@test.example', office)).statusCode).toBe(429);
    expect((await guess('target@test.example', { 'x-forwarded-for': '198.51.100.21' })).statusCode).toBe(401);
    const res = await signIn(seed.owner.email, ownerCreds.password, codeOf(ownerCreds), office);
    expect(res.statusCode, res.body).toBe(201);
  });
});
