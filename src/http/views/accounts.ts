/**
 * An account as the API shows one: its id, name and creation time.
 */
import { Type, type Static } from 'typebox';
import type { Account } from '../../storage/schema.js';

export const AccountSchema = Type.Object(
  { id: Type.String(), name: Type.String(), create_time: Type.String({ format: 'date-time' }) },
  { title: 'Account' },
);

export function accountView(account: Account): Static<typeof AccountSchema> {
  return { id: account.id, name: account.name, create_time: new Date(account.created_at).toISOString() };
}
