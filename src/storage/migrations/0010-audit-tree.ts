import { sql, type Kysely } from 'kysely';

// The Merkle tree over each audit log (audit/merkle.ts): the hash of every complete, aligned subtree,
// leaves (level 0) included. Insert-only, like the entries; roots and proofs read O(log n) rows.
// audit_logs.tree_size is how many entries the tree covers: the sequencer grows it in the transaction that
// numbers them, and catches up on logs numbered before this migration.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE audit_tree_nodes (
      account_id  text NOT NULL,
      level       smallint NOT NULL CHECK (level BETWEEN 0 AND 62),
      idx         bigint NOT NULL CHECK (idx >= 0),
      hash        bytea NOT NULL CHECK (length(hash) = 32),
      PRIMARY KEY (account_id, level, idx)
    )`.execute(db);
  await sql`ALTER TABLE audit_logs ADD COLUMN tree_size bigint NOT NULL DEFAULT 0 CHECK (tree_size <= size)`.execute(
    db,
  );
}
