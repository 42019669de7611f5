import { AppError } from '../errors.js';
import type { UserRole } from '../storage/schema.js';

export const ROLES: readonly UserRole[] = ['OWNER', 'ADMIN', 'MEMBER'];

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is not our concern.
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;

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
  if (typeof email !== 'string' || !EMAIL.test(email)) problems.push('email: expected an email address');
  if (typeof display_name !== 'string' || display_name.trim().length === 0 || display_name.length > 200) {
    problems.push('display_name: expected 1 to 200 characters');
  }
  if (role !== undefined && role !== '' && !ROLES.includes(role as UserRole)) {
    problems.push(`role: expected one of ${ROLES.join(', ')}`);
  }
  if (externally_managed !== undefined && typeof externally_managed !== 'boolean') {
    problems.push('externally_managed: expected true or false');
  }
  if (groups !== undefined && (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string' || g.trim() === '' || g.length > 100))) {
    problems.push('groups: expected a list of group names (1 to 100 characters each)');
  }
  return problems;
}

export function assertNewUser(input: NewUserInput): void {
  const problems = checkNewUser(input as unknown as Record<string, unknown>);
  if (problems.length > 0) throw new AppError('INVALID_ARGUMENT', { description: problems.join('; ') });
}
