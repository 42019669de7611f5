/**
 * The SCIM wire shapes the `scim` connector speaks (RFC 7643/7644): filters, the PatchOp setting `active`,
 * a User resource read as a RemoteIdentity, and a resource's version (ETag).
 */
import type { IdentityState } from '../storage/schema.js';
import { TargetError, type RemoteIdentity } from './connector.js';
import type { HttpAnswer } from './http.js';

export type Resource = Record<string, unknown>;

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** A filter comparing `attribute` to a value: the value as a JSON string (quotes and backslashes escaped). */
export function scimFilter(attribute: string, value: string): string {
  return `${attribute} eq ${JSON.stringify(value)}`;
}

/** The patch body setting `active` (path form, the default, or the path-less form). */
export function activePatch(active: boolean, pathless = false): Resource {
  const operation = pathless ? { op: 'replace', value: { active } } : { op: 'replace', path: 'active', value: active };
  return { schemas: [PATCH_OP], Operations: [operation] };
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

/**
 * A SCIM User as a RemoteIdentity: the primary email (else the first), `active` as the state. An answer
 * that is not a resource with an id is the target's fault, not a user: fatal `invalid_response`.
 */
export function identityOf(value: unknown): RemoteIdentity {
  const resource = (value && typeof value === 'object' ? value : {}) as Resource;
  if ((typeof resource.id !== 'string' || !resource.id) && typeof resource.id !== 'number')
    throw new TargetError({
      class: 'fatal',
      status: null,
      code: 'invalid_response',
      message: 'the target answered with something that is not a SCIM User (no id)',
      request_id: null,
    });
  const emails = Array.isArray(resource.emails) ? (resource.emails as Resource[]) : [];
  const email = emails.find((e) => e?.primary === true) ?? emails[0];
  const name = (resource.name ?? {}) as Resource;
  const given = [str(name.givenName), str(name.familyName)].filter(Boolean).join(' ');
  const state: IdentityState =
    resource.active === false ? 'SUSPENDED' : resource.active === true ? 'ACTIVE' : 'UNKNOWN';
  return {
    external_id: String(resource.id),
    email: str(email?.value),
    user_name: str(resource.userName),
    display_name: str(resource.displayName) ?? str(name.formatted) ?? (given || null),
    state,
  };
}

export function versionOf(answer: HttpAnswer): string | undefined {
  const meta = ((answer.json as Resource | undefined)?.meta ?? {}) as Resource;
  return answer.headers.get('etag') ?? str(meta.version) ?? undefined;
}
