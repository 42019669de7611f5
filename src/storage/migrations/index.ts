import type { Migration } from 'kysely';
import * as m0001 from './0001-directory.js';
import * as m0002 from './0002-audit.js';
import * as m0003 from './0003-jobs.js';
import * as m0004 from './0004-oauth-apps.js';
import * as m0005 from './0005-signing-keys.js';
import * as m0006 from './0006-revoked-tokens.js';
import * as m0007 from './0007-client-assertions.js';
import * as m0008 from './0008-dpop-proofs.js';
import * as m0009 from './0009-sign-in.js';
import * as m0010 from './0010-audit-tree.js';
import * as m0011 from './0011-audit-checkpoints.js';
import * as m0012 from './0012-app-suspensions.js';
import * as m0013 from './0013-response-engine.js';
import * as m0014 from './0014-containment.js';
import * as m0015 from './0015-app-makers.js';
import * as m0016 from './0016-signing-key-revocation.js';
import * as m0019 from './0019-password-change.js';
import * as m0021 from './0021-drop-jobs.js';
import * as m0022 from './0022-targets.js';
import * as m0023 from './0023-target-sync-failures.js';
import * as m0025 from './0025-webhooks.js';
import * as m0026 from './0026-console.js';
import * as m0027 from './0027-events-tokens.js';
import * as m0028 from './0028-signal-attributes.js';
import * as m0029 from './0029-secret-scanning.js';
import * as m0030 from './0030-nhi-containment.js';

/** Every migration, in order. Never edit one that has landed: add the next number. */
export const migrations: Record<string, Migration> = {
  '0001-directory': m0001,
  '0002-audit': m0002,
  '0003-jobs': m0003,
  '0004-oauth-apps': m0004,
  '0005-signing-keys': m0005,
  '0006-revoked-tokens': m0006,
  '0007-client-assertions': m0007,
  '0008-dpop-proofs': m0008,
  '0009-sign-in': m0009,
  '0010-audit-tree': m0010,
  '0011-audit-checkpoints': m0011,
  '0012-app-suspensions': m0012,
  '0013-response-engine': m0013,
  '0014-containment': m0014,
  '0015-app-makers': m0015,
  '0016-signing-key-revocation': m0016,
  '0019-password-change': m0019,
  '0021-drop-jobs': m0021,
  '0022-targets': m0022,
  '0023-target-sync-failures': m0023,
  '0025-webhooks': m0025,
  '0026-console': m0026,
  '0027-events-tokens': m0027,
  '0028-signal-attributes': m0028,
  '0029-secret-scanning': m0029,
  '0030-nhi-containment': m0030,
};
