/** The people a read names by id, with their names: `people[user_id]` is `{email, display_name}`. */
import { Type } from 'typebox';

export const PeopleSchema = Type.Record(
  Type.String(),
  Type.Object({ email: Type.String(), display_name: Type.String() }),
  { description: 'the users this answer names by id, with their email and display name' },
);

/** Every string in a JSON value that has the form of an id: whom a read may need to name. */
export function idsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string') {
    if (/^[A-Z0-9]{26}$/.test(value)) found.push(value);
  } else if (Array.isArray(value)) for (const v of value) idsIn(v, found);
  else if (value !== null && typeof value === 'object') for (const v of Object.values(value)) idsIn(v, found);
  return found;
}
