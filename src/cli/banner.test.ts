import { describe, expect, it } from 'vitest';
import type { DemoSummary } from '../directory/demo.js';
import type { Account, User } from '../storage/schema.js';
import { describeFirstStart } from './banner.js';

const ACCOUNT = 'ACCOUNTAAAAAAAAAAAAAAAAAAA';
const demo = {
  account: { id: ACCOUNT, name: 'Demo Security Co' } as Account,
  owner: { id: 'OWNERAAAAAAAAAAAAAAAAAAAAA', email: 'owner@demo.cordon.test', display_name: 'Olivia Owner' } as User,
  ownerCredentials: { password: 'generated-password-here', passwordHash: 'scrypt$…', totpSecret: 'JBSWY3DPEHPK3PXP' },
  admins: [
    { id: 'ADAAAAAAAAAAAAAAAAAAAAAAAA', email: 'ada.lovelace@demo.cordon.test', display_name: 'Ada Lovelace' },
    { id: 'GRACEAAAAAAAAAAAAAAAAAAAAA', email: 'grace.hopper@demo.cordon.test', display_name: 'Grace Hopper' },
    { id: 'ALANAAAAAAAAAAAAAAAAAAAAAA', email: 'alan.turing@demo.cordon.test', display_name: 'Alan Turing' },
  ],
  members: 25,
  groups: ['Engineering', 'Finance', 'Security Operations', 'Contractors'],
  sessions: 8,
} satisfies DemoSummary;

describe('the first-start banner', () => {
  it('says what to do next, in order, with this server and account filled in', () => {
    expect(describeFirstStart(demo, 'http://127.0.0.1:8080')).toBe(
      `Created the demo account "Demo Security Co" (${ACCOUNT}): the owner, 3 admins, 25 members,
groups: Engineering, Finance, Security Operations, Contractors, 8 open sessions. (Set CORDON_DEMO=false to start empty.)

Next steps, in order:

1. Sign in as the owner, Olivia Owner, and replace the generated password (nothing else works until you do):
     Password:  generated-password-here  (generated: the first sign-in must change it, with \`npx cordon passwd\`)
     TOTP seed: JBSWY3DPEHPK3PXP  (add it to an authenticator app: otpauth://totp/Cordon:owner%40demo.cordon.test` +
        `?secret=JBSWY3DPEHPK3PXP&issuer=Cordon&algorithm=SHA1&digits=6&period=30)
     Store them now: they are shown once and kept only hashed or encrypted.
     in the console, http://127.0.0.1:8080/console (it asks for the new password first), or at the terminal:
     npx cordon login --email owner@demo.cordon.test --server http://127.0.0.1:8080
     npx cordon passwd

2. Create an app (it prints its client_id and client_secret once), then get its first access token:
     npx cordon apps create --name first-app --permissions users:list,users:read,users:suspend,users:reactivate
     curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials http://127.0.0.1:8080/oauth/token

3. Call the Users API (1Password's Users API for Partners, also under /v1beta1) with the access_token:
     curl -s -H "Authorization: Bearer ACCESS_TOKEN" http://127.0.0.1:8080/v1/accounts/${ACCOUNT}/users

4. Approvals and two-person restores need a second person. The demo admins (none can sign in yet):
     Ada Lovelace  ada.lovelace@demo.cordon.test  ADAAAAAAAAAAAAAAAAAAAAAAAA
     Grace Hopper  grace.hopper@demo.cordon.test  GRACEAAAAAAAAAAAAAAAAAAAAA
     Alan Turing   alan.turing@demo.cordon.test   ALANAAAAAAAAAAAAAAAAAAAAAA
   Give one of them a password and TOTP seed (to pass on; they change the password at first sign-in):
     npx cordon users reset-credentials ADAAAAAAAAAAAAAAAAAAAAAAAA

Every command takes --help; the README has the rest. Later starts reuse the data and print none of this.`,
    );
  });

  it('never calls the password one-time: it works until changed, and must be changed first', () => {
    expect(describeFirstStart(demo, 'http://127.0.0.1:8080').toLowerCase()).not.toContain('one-time');
  });
});
