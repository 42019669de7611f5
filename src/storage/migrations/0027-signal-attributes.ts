import { sql, type Kysely } from 'kysely';

// SIEM guides (issue 18): what an alert says besides its subject and type, e.g. the Kibana rule's ids
// now that an ECS signal's type is the rule's name. Older signals have none.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signals ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb`.execute(db);
}
