/**
 * What `cordon serve` prints on the first start of an empty embedded database, when it made the demo
 * account: the next steps, in the order an operator takes them, with this server's URL and the account
 * id filled in, so that each line can be pasted as it stands.
 */
import type { DemoSummary } from '../directory/demo.js';
import { describeCredentials } from './credentials.js';

export function describeFirstStart(demo: DemoSummary, url: string): string {
  const account = demo.account.id;
  const owner = demo.owner.email;
  const width = (key: 'display_name' | 'email') => Math.max(...demo.admins.map((a) => a[key].length));
  return [
    `Created the demo account "${demo.account.name}" (${account}): the owner, ${demo.admins.length} admins, ` +
      `${demo.members} members,`,
    `groups: ${demo.groups.join(', ')}, ${demo.sessions} open sessions. (Set CORDON_DEMO=false to start empty.)`,
    '',
    'Next steps, in order:',
    '',
    `1. Sign in as the owner, ${demo.owner.display_name}, and replace the generated password (nothing else works ` +
      `until you do):`,
    describeCredentials(owner, demo.ownerCredentials, '     '),
    `     in the console, ${url}/console (it asks for the new password first), or at the terminal:`,
    `     npx cordon login --email ${owner} --server ${url}`,
    '     npx cordon passwd',
    '',
    '2. Create an app (it prints its client_id and client_secret once), then get its first access token:',
    '     npx cordon apps create --name first-app --permissions users:list,users:read,users:suspend,users:reactivate',
    `     curl -s -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials ${url}/oauth/token`,
    '',
    "3. Call the Users API (1Password's Users API for Partners, also under /v1beta1) with the access_token:",
    `     curl -s -H "Authorization: Bearer ACCESS_TOKEN" ${url}/v1/accounts/${account}/users`,
    '',
    '4. Approvals and two-person restores need a second person. The demo admins (none can sign in yet):',
    ...demo.admins.map(
      (a) => `     ${a.display_name.padEnd(width('display_name'))}  ${a.email.padEnd(width('email'))}  ${a.id}`,
    ),
    '   Give one of them a password and TOTP seed (to pass on; they change the password at first sign-in):',
    `     npx cordon users reset-credentials ${demo.admins[0]?.id ?? 'USER_ID'}`,
    '',
    'Every command takes --help; the README has the rest. Later starts reuse the data and print none of this.',
  ].join('\n');
}
