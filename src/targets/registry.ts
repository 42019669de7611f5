/**
 * Managing an account's targets: connecting one (its kind checks the config and credentials; the
 * credentials are sealed under the KEK with the label `target:<account>:<id>` and never shown again,
 * never recorded), listing, changing its settings, rotating its credentials, testing it and removing
 * it. Every change writes its audit entry in its transaction. The name `cordon` is the local directory's.
 */
import type { CallContext } from '../audit/entry.js';
import type { DirectoryDeps } from '../directory/deps.js';
import { assertAccountExists } from '../directory/users.js';
import { AppError, isAppError } from '../errors.js';
import { newId } from '../ids.js';
import type { TargetKind } from '../storage/schema.js';
import { isUniqueViolation } from '../store/errors.js';
import {
  countIdentities,
  findTarget,
  insertTarget,
  listTargets as listTargetRows,
  removeTarget as removeTargetRow,
  updateTarget as updateTargetRow,
  type TargetChanges,
  type TargetRow,
} from '../store/targets.js';
import type { Connector } from './connector.js';
import type { ConnectorCache } from './connectors.js';
import { KINDS } from './kinds.js';

export interface TargetDeps extends DirectoryDeps {
  connectors: ConnectorCache;
  /** `Cordon/<version>`, the User-Agent of every call to a target. */
  userAgent: string;
  /** Per-request timeout of the calls to targets. */
  timeoutMs: number;
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** The local directory's name: a playbook's target list may name it; no remote target may take it. */
export const LOCAL_TARGET = 'cordon';

/** The settings a target has besides its config and credentials, with their bounds (the table's checks). */
export const SETTINGS = {
  max_concurrency: [1, 64],
  max_rate_per_second: [1, 10_000],
  step_deadline_seconds: [10, 604_800],
  sync_interval_seconds: [60, 604_800],
} as const;
export type SettingName = keyof typeof SETTINGS;
export type TargetSettings = Partial<Record<SettingName, number>>;

export interface NewTargetInput extends TargetSettings {
  name: string;
  kind: string;
  config: unknown;
  credentials: unknown;
  enabled?: boolean | undefined;
}

export interface TargetUpdate extends TargetSettings {
  enabled?: boolean | undefined;
  credentials?: unknown;
}

/** A target with how many identities it mirrors. */
export type TargetWithCount = TargetRow & { identities: number };

const invalid = (description: string) => new AppError('INVALID_ARGUMENT', { description });
export const notFound = () => new AppError('NOT_FOUND', { description: 'target not found' });
const sealLabel = (row: Pick<TargetRow, 'account_id' | 'id'>) => `target:${row.account_id}:${row.id}`;

function checkSettings(input: TargetSettings): TargetSettings {
  const out: TargetSettings = {};
  for (const [name, [min, max]] of Object.entries(SETTINGS) as Array<[SettingName, readonly [number, number]]>) {
    const value = input[name];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < min || value > max)
      throw invalid(`${name}: expected an integer from ${min} to ${max}`);
    out[name] = value;
  }
  return out;
}

/** The kind's check of a config and credentials; whatever it throws is the caller's input refused (400). */
function validate(kind: string, config: unknown, credentials: unknown) {
  const found = Object.hasOwn(KINDS, kind) ? KINDS[kind as TargetKind] : undefined;
  if (!found) throw invalid(`kind: expected one of ${Object.keys(KINDS).join(', ')}`);
  try {
    return found.validate(config, credentials);
  } catch (error) {
    if (isAppError(error)) throw error;
    throw invalid(`${kind}: ${error instanceof Error ? error.message : String(error)}`.slice(0, 500));
  }
}

/** What the audit entries record of a target: everything but its credentials. */
export function describeTarget(row: TargetRow) {
  return {
    name: row.name,
    kind: row.kind,
    config: row.config,
    enabled: row.enabled,
    max_concurrency: row.max_concurrency,
    max_rate_per_second: row.max_rate_per_second,
    step_deadline_seconds: row.step_deadline_seconds,
    sync_interval_seconds: row.sync_interval_seconds,
  };
}

export async function createTarget(
  deps: TargetDeps,
  ctx: CallContext,
  accountId: string,
  input: NewTargetInput,
): Promise<TargetWithCount> {
  const name = input.name;
  if (!NAME_PATTERN.test(name))
    throw invalid('name: expected 1 to 63 lowercase letters, digits and dashes, starting with a letter or digit');
  if (name === LOCAL_TARGET) throw invalid('name: `cordon` is the local directory; choose another name');
  const settings = checkSettings(input);
  const { config, credentials } = validate(input.kind, input.config, input.credentials);
  const id = newId();
  try {
    return await deps.audit.transact(async (trx) => {
      await assertAccountExists({ db: trx }, accountId);
      if (await findTarget(trx, accountId, name)) throw duplicate(name);
      const row = await insertTarget(trx, {
        account_id: accountId,
        id,
        name,
        kind: input.kind as TargetKind,
        config: JSON.stringify(config),
        credentials: deps.sealer.seal(sealLabel({ account_id: accountId, id }), JSON.stringify(credentials)),
        enabled: input.enabled ?? true,
        ...settings,
        created_by: JSON.stringify(ctx.actor),
      });
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'target.create',
        target: { type: 'target', id },
        outcome: 'changed',
        details: describeTarget(row),
      });
      return { ...row, identities: 0 };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'targets_name')) throw duplicate(name);
    throw error;
  }
}

const duplicate = (name: string) =>
  new AppError('ALREADY_EXISTS', { description: `a target named ${name} already exists` });

/** A target (not removed) by id or name, with its identity count. */
export async function getTarget(
  deps: Pick<DirectoryDeps, 'db'>,
  accountId: string,
  idOrName: string,
): Promise<TargetWithCount> {
  const row = await findTarget(deps.db, accountId, idOrName);
  if (!row) throw notFound();
  const counts = await countIdentities(deps.db, accountId);
  return { ...row, identities: counts.get(row.id) ?? 0 };
}

export async function listTargets(deps: Pick<DirectoryDeps, 'db'>, accountId: string): Promise<TargetWithCount[]> {
  await assertAccountExists(deps, accountId);
  const [rows, counts] = await Promise.all([listTargetRows(deps.db, accountId), countIdentities(deps.db, accountId)]);
  return rows.map((row) => ({ ...row, identities: counts.get(row.id) ?? 0 }));
}

/**
 * Changes a target's settings, enables or disables it, or rotates its credentials (checked by its kind
 * with its config). Settings and the switch are one `target.update` entry; a rotation is its own
 * `target.credentials.rotate` entry, which never records the credentials; the cached connector (and
 * its token) is dropped.
 */
export async function updateTarget(
  deps: TargetDeps,
  ctx: CallContext,
  accountId: string,
  idOrName: string,
  update: TargetUpdate,
): Promise<{ target: TargetWithCount; changed: boolean }> {
  const settings = checkSettings(update);
  const result = await deps.audit.transact(async (trx) => {
    const row = await findTarget(trx, accountId, idOrName, true);
    if (!row) throw notFound();
    const changes: TargetChanges = {};
    for (const [name, value] of Object.entries(settings) as Array<[SettingName, number]>)
      if (row[name] !== value) changes[name] = value;
    if (update.enabled !== undefined && update.enabled !== row.enabled) changes.enabled = update.enabled;
    const settingsChanged = Object.keys(changes).length > 0;
    if (update.credentials !== undefined) {
      const { credentials } = validate(row.kind, row.config, update.credentials);
      changes.credentials = deps.sealer.seal(sealLabel(row), JSON.stringify(credentials));
      changes.credentials_rotated_at = new Date();
    }
    const updated = Object.keys(changes).length > 0 ? await updateTargetRow(trx, accountId, row.id, changes) : row;
    if (settingsChanged || update.credentials === undefined) {
      const before = describeTarget(row);
      const after = describeTarget(updated);
      const diff = Object.fromEntries(
        (Object.keys(after) as Array<keyof typeof after>)
          .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
          .map((k) => [k, { from: before[k], to: after[k] }]),
      );
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'target.update',
        target: { type: 'target', id: row.id },
        outcome: settingsChanged ? 'changed' : 'unchanged',
        details: { name: row.name, changes: diff },
      });
    }
    if (update.credentials !== undefined)
      await deps.audit.append(trx, {
        accountId,
        ctx,
        action: 'target.credentials.rotate',
        target: { type: 'target', id: row.id },
        outcome: 'changed',
        details: { name: row.name, kind: row.kind },
      });
    return { updated, changed: Object.keys(changes).length > 0 };
  });
  if (update.credentials !== undefined) await deps.connectors.drop(result.updated.id);
  return { target: await getTarget(deps, accountId, result.updated.id), changed: result.changed };
}

/**
 * Removes a target: its row is kept (its steps stay explainable) but its name is free and its mirrored
 * identities are deleted; then its connector is closed, which revokes its cached token.
 */
export async function removeTarget(
  deps: TargetDeps,
  ctx: CallContext,
  accountId: string,
  idOrName: string,
): Promise<TargetRow> {
  const removed = await deps.audit.transact(async (trx) => {
    const row = await findTarget(trx, accountId, idOrName, true);
    if (!row) throw notFound();
    const gone = await removeTargetRow(trx, accountId, row.id);
    await deps.audit.append(trx, {
      accountId,
      ctx,
      action: 'target.remove',
      target: { type: 'target', id: row.id },
      outcome: 'changed',
      details: { name: row.name, kind: row.kind },
    });
    return gone;
  });
  // Closing the connector this process holds revokes its cached token (a kind that cannot revoke lets it expire).
  await deps.connectors.drop(removed.id);
  return removed;
}

/** The connector of a target, from the cache (a new one after its credentials were rotated). */
export function openConnector(deps: TargetDeps, row: TargetRow): Connector {
  const version = row.credentials_rotated_at?.getTime() ?? 0;
  return deps.connectors.get(row.id, version, () => {
    const credentials = JSON.parse(deps.sealer.open(sealLabel(row), row.credentials)) as Record<string, unknown>;
    return KINDS[row.kind].create({
      config: row.config,
      credentials,
      userAgent: deps.userAgent,
      timeoutMs: deps.timeoutMs,
    });
  });
}
