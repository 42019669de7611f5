/**
 * The Ed25519 key that signs audit checkpoints. Made once (at `cordon init`, or the first start) and
 * never sent anywhere: embedded, a 0600 file in the data directory; on PostgreSQL, a row sealed under
 * the KEK, so every node signs with the same key.
 *
 * Each log signs under a key name of its own, `<base name>/<log id>` (the base is CORDON_LOG_ORIGIN, or
 * `cordon-` and random hex), which is also the log's checkpoint origin, as C2SP tlog-checkpoint
 * recommends. One secret serves every log (one thing to protect, back up and seal), yet each log has its
 * own verifier key: the key ID binds the name, so a witness pins one log's key and a checkpoint of one log
 * can never pass for another's.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { Sealer } from '../sealing.js';
import type { Executor } from '../store/executor.js';
import { formatVerifierKey, isValidKeyName, type NoteSigner } from './note.js';

export interface LogKey extends NoteSigner {
  publicKey: KeyObject;
  /** The C2SP verifier key text, `<name>+<key id>+<base64 key>`, that checkers pin. */
  verifierKey: string;
}

export interface CheckpointKey extends LogKey {
  /** The key as one log signs with it: named (and so its key ID) after the log; the name is its origin. */
  forLog(logId: string): LogKey;
}

const KEY_FILE = 'checkpoint-key.json';
// Advisory lock: one node makes the key. Written 0x436f72646f6e43 ('CordonC') at first, which a double rounds to
// this: the key every node has locked since.
const KEY_LOCK = 0x436f72646f6e44;

interface StoredKey {
  name: string;
  /** PKCS#8 DER, base64. */
  private_key: string;
}

function fromStored(stored: StoredKey): CheckpointKey {
  if (!isValidKeyName(stored.name))
    throw new AppError('UNAVAILABLE', {
      description: `the checkpoint key's name ${JSON.stringify(stored.name)} is not valid`,
    });
  const privateKey = createPrivateKey({ key: Buffer.from(stored.private_key, 'base64'), format: 'der', type: 'pkcs8' });
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new AppError('UNAVAILABLE', { description: 'the checkpoint key is not an Ed25519 key' });
  const publicKey = createPublicKey(privateKey);
  const named = (name: string): LogKey => ({
    name,
    privateKey,
    publicKey,
    verifierKey: formatVerifierKey(name, publicKey),
  });
  const logs = new Map<string, LogKey>();
  return {
    ...named(stored.name),
    forLog(logId) {
      let key = logs.get(logId);
      if (!key) logs.set(logId, (key = named(`${stored.name}/${logId}`)));
      return key;
    },
  };
}

function makeKey(origin: string | undefined): StoredKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    name: origin ?? `cordon-${randomBytes(4).toString('hex')}`,
    private_key: privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64'),
  };
}

/** Reads the checkpoint key, making it on first use. */
export async function loadCheckpointKey(config: Config, db: Executor, sealer: Sealer): Promise<CheckpointKey> {
  const { keyStorage, origin } = config.checkpoints;
  if (keyStorage === 'file') {
    const file = path.join(config.dataDir, KEY_FILE);
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, JSON.stringify(makeKey(origin)) + '\n');
      closeSync(fd);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    try {
      return fromStored(JSON.parse(readFileSync(file, 'utf8')) as StoredKey);
    } catch (error) {
      throw new AppError('UNAVAILABLE', { description: `the checkpoint key file ${file} is damaged`, cause: error });
    }
  }
  const label = 'checkpoint key';
  const read = async (from: Executor) =>
    (await from.selectFrom('checkpoint_keys').selectAll().orderBy('created_at').executeTakeFirst())?.private_key_enc;
  let sealed = await read(db);
  if (!sealed) {
    const made = makeKey(origin);
    sealed = await db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${KEY_LOCK})`.execute(trx);
      const existing = await read(trx);
      if (existing) return existing;
      const value = sealer.seal(label, JSON.stringify(made));
      await trx.insertInto('checkpoint_keys').values({ name: made.name, private_key_enc: value }).execute();
      return value;
    });
  }
  return fromStored(JSON.parse(sealer.open(label, sealed)) as StoredKey);
}
