import { sql, type Kysely } from 'kysely';

// OAuth apps: fixed per-action permissions, an authentication method, and constraints the Users API
// enforces. client_id is a random UUID (the 1Password form); the token endpoint finds the app by it alone,
// so it has its own index (uniqueness comes from 122 random bits, which keeps the table distributable by
// account_id). Client secrets are stored only as a SHA-256 hash: they carry 256 bits of entropy.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE oauth_apps (
      account_id                text NOT NULL REFERENCES accounts (id),
      id                        text NOT NULL,
      client_id                 text NOT NULL,
      name                      text NOT NULL,
      permissions               text[] NOT NULL,
      auth_method               text NOT NULL
                                  CHECK (auth_method IN ('client_secret_basic', 'client_secret_post',
                                    'private_key_jwt')),
      jwks                      jsonb,
      dpop_required             boolean NOT NULL DEFAULT false,
      allowed_group_ids         text[] NOT NULL DEFAULT '{}',
      protected_roles           text[] NOT NULL DEFAULT '{}',
      max_suspensions_per_hour  integer CHECK (max_suspensions_per_hour > 0),
      secret_hash               text,
      secret_rotated_at         timestamptz,
      created_at                timestamptz NOT NULL DEFAULT now(),
      updated_at                timestamptz NOT NULL DEFAULT now(),
      disabled_at               timestamptz,
      PRIMARY KEY (account_id, id),
      CHECK ((auth_method = 'private_key_jwt') = (jwks IS NOT NULL AND secret_hash IS NULL))
    )`.execute(db);
  await sql`CREATE INDEX oauth_apps_client_id ON oauth_apps (client_id)`.execute(db);
}
