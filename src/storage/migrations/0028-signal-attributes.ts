import { sql, type Kysely } from 'kysely';

// SIEM guides (issue 18). A signal keeps what its alert says besides subject and type (e.g. the Kibana
// rule's ids, now that an ECS signal's type is the rule's name); older signals have none. A source may set
// the confidence of its alerts that carry none (NULL: its format's default).
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE signals ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}'::jsonb`.execute(db);
  await sql`ALTER TABLE signal_sources ADD COLUMN default_confidence double precision
    CHECK (default_confidence BETWEEN 0 AND 1)`.execute(db);
}
