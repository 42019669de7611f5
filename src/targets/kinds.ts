/** Every kind of target, by name: adding one (Okta, Entra, Google) is its file and one line here. */
import type { TargetKind } from '../storage/schema.js';
import type { ConnectorKind } from './connector.js';
import { gtr } from './gtr.js';
import { onepassword } from './onepassword.js';
import { scim } from './scim.js';

export const KINDS: Record<TargetKind, ConnectorKind> = { onepassword, scim, gtr };
