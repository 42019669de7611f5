import { AppError } from '../errors.js';
import type { UserRole } from '../storage/schema.js';

export const ROLES: readonly UserRole[] = ['OWNER', 'ADMIN', 'MEMBER'];

/**
 * A valid email address as the WHATWG HTML standard defines it for `<input type=email>` (§4.10.5.1.5, "valid
 * email address"), the pattern browsers check: an ASCII local part of atext and dots, and a domain of LDH
 * labels (1 to 63 characters, no hyphen at either end). So no control character, space, quote, lone
 * surrogate or other non-ASCII text gets in. Cordon also asks for a dot in the domain (an address of a real
 * domain), at most 64 characters before the @ and 254 in all (RFC 5321 §4.5.3.1). Deliverability is not checked.
 */
const EMAIL =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Whether `text` is an email address Cordon accepts (see EMAIL). */
export function isEmailAddress(text: string): boolean {
  return text.length <= 254 && EMAIL.test(text);
}

export interface NewUserInput {
  email: string;
  display_name: string;
  role?: UserRole | undefined;
  externally_managed?: boolean | undefined;
  groups?: string[] | undefined;
}

/** Returns the problems with one new-user record (empty when valid). */
export function checkNewUser(input: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const { email, display_name, role, externally_managed, groups } = input;
  if (typeof email !== 'string' || !isEmailAddress(email)) problems.push('email: expected an email address');
  if (typeof display_name !== 'string' || display_name.trim().length === 0 || display_name.length > 200) {
    problems.push('display_name: expected 1 to 200 characters');
  }
  if (role !== undefined && role !== '' && !ROLES.includes(role as UserRole)) {
    problems.push(`role: expected one of ${ROLES.join(', ')}`);
  }
  if (externally_managed !== undefined && typeof externally_managed !== 'boolean') {
    problems.push('externally_managed: expected true or false');
  }
  if (
    groups !== undefined &&
    (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string' || g.trim() === '' || g.length > 100))
  ) {
    problems.push('groups: expected a list of group names (1 to 100 characters each)');
  }
  return problems;
}

export function assertNewUser(input: NewUserInput): void {
  const problems = checkNewUser(input as unknown as Record<string, unknown>);
  if (problems.length > 0) throw new AppError('INVALID_ARGUMENT', { description: problems.join('; ') });
}
