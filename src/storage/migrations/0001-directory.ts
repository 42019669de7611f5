import { sql, type Kysely } from 'kysely';

// Every account-owned table carries account_id as the first column of its primary key (ARCHITECTURE §4):
// the path to Citus is to distribute them all by account_id.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE accounts (
      id          text PRIMARY KEY,
      name        text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now()
    )`.execute(db);

  await sql`
    CREATE TABLE users (
      account_id          text NOT NULL REFERENCES accounts (id),
      id                  text NOT NULL,
      email               text NOT NULL,
      display_name        text NOT NULL,
      state               text NOT NULL DEFAULT 'ACTIVE' CHECK (state IN ('ACTIVE', 'SUSPENDED')),
      role                text NOT NULL DEFAULT 'MEMBER' CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
      externally_managed  boolean NOT NULL DEFAULT false,
      password_hash       text,
      created_at          timestamptz NOT NULL DEFAULT now(),
      updated_at          timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, id)
    ) WITH (fillfactor = 90)`.execute(db);
  // No index mentions state: a suspend or reactivate then stays a HOT update (no index writes), and the
  // free space left by fillfactor gives it room on the same page.
  await sql`CREATE UNIQUE INDEX users_email_key ON users (account_id, lower(email))`.execute(db);
  await sql`CREATE INDEX users_role ON users (account_id, role)`.execute(db);

  await sql`
    CREATE TABLE groups (
      account_id  text NOT NULL REFERENCES accounts (id),
      id          text NOT NULL,
      name        text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, id)
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX groups_name_key ON groups (account_id, lower(name))`.execute(db);

  await sql`
    CREATE TABLE group_members (
      account_id  text NOT NULL,
      group_id    text NOT NULL,
      user_id     text NOT NULL,
      created_at  timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (account_id, group_id, user_id),
      FOREIGN KEY (account_id, group_id) REFERENCES groups (account_id, id) ON DELETE CASCADE,
      FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
    )`.execute(db);
  await sql`CREATE INDEX group_members_user ON group_members (account_id, user_id)`.execute(db);

  await sql`
    CREATE TABLE sessions (
      account_id     text NOT NULL,
      id             text NOT NULL,
      user_id        text NOT NULL,
      kind           text NOT NULL CHECK (kind IN ('web', 'cli', 'api')),
      created_at     timestamptz NOT NULL DEFAULT now(),
      last_seen_at   timestamptz NOT NULL DEFAULT now(),
      revoked_at     timestamptz,
      revoke_reason  text,
      PRIMARY KEY (account_id, id),
      FOREIGN KEY (account_id, user_id) REFERENCES users (account_id, id) ON DELETE CASCADE
    )`.execute(db);
  await sql`CREATE INDEX sessions_live_by_user ON sessions (account_id, user_id) WHERE revoked_at IS NULL`.execute(db);
}
