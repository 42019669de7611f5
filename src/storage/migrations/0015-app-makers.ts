import { sql, type Kysely } from 'kysely';

// Who made each OAuth app, and with which role: an app never holds more power than its maker could
// exercise (oauth/maker-ceiling.ts), checked where the app acts, against the maker's role then and now.
// NULL is the operator (the CLI on the database itself), who is above every role. Apps made before this
// migration take their maker from their `app.create` audit entry.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE oauth_apps
      ADD COLUMN created_by       text,
      ADD COLUMN created_by_role  text CHECK (created_by_role IN ('OWNER', 'ADMIN')),
      ADD CONSTRAINT oauth_apps_maker CHECK ((created_by IS NULL) = (created_by_role IS NULL))`.execute(db);
  await sql`
    UPDATE oauth_apps a
       SET created_by = e.actor_id, created_by_role = e.authz->>'role'
      FROM audit_entries e
     WHERE e.account_id = a.account_id AND e.action = 'app.create' AND e.target_type = 'app' AND e.target_id = a.id
       AND e.actor_type = 'user' AND e.authz->>'role' IN ('OWNER', 'ADMIN')`.execute(db);
}
