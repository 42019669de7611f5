/**
 * The connectors this process holds open, one per target, so that a connector's cached access token
 * serves every call to its target. A connector is keyed by its target's id and the time its credentials
 * were last rotated: after a rotation (here or on another node) the next `get` makes a new one, and the
 * old one is closed (its token revoked where the kind can).
 */
import { readFileSync } from 'node:fs';
import type { Connector } from './connector.js';

interface Held {
  /** The credentials' version: when they were last rotated (ms; 0 for the first ones). */
  version: number;
  connector: Connector;
}

export class ConnectorCache {
  private readonly held = new Map<string, Held>();

  /**
   * The connector for `targetId` with credentials of `version` or newer, made by `make` when none is held.
   * A caller holding a row read before a rotation gets the connector of the newer credentials.
   */
  get(targetId: string, version: number, make: () => Connector): Connector {
    const held = this.held.get(targetId);
    if (held && held.version >= version) return held.connector;
    const connector = make();
    if (held) void this.closeQuietly(held.connector);
    this.held.set(targetId, { version, connector });
    return connector;
  }

  /** Forgets the target's connector and closes it (revoking its token); resolves once closed. */
  async drop(targetId: string): Promise<void> {
    const held = this.held.get(targetId);
    this.held.delete(targetId);
    if (held) await this.closeQuietly(held.connector);
  }

  /** Closes every connector (the process is stopping). */
  async closeAll(): Promise<void> {
    const all = [...this.held.values()];
    this.held.clear();
    await Promise.all(all.map((h) => this.closeQuietly(h.connector)));
  }

  /** Whether a connector is held for the target (tests). */
  holds(targetId: string): boolean {
    return this.held.has(targetId);
  }

  private async closeQuietly(connector: Connector): Promise<void> {
    try {
      await connector.close();
    } catch {
      // A token that cannot be revoked expires on its own; closing must not fail the caller.
    }
  }
}

let version: string | undefined;

/** This build's version, from the package.json above this module (src/ or dist/ alike). */
export function cordonVersion(): string {
  if (version) return version;
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const parsed = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (parsed.version && parsed.name === 'cordon') return (version = parsed.version);
    } catch {
      // not there: try one level up
    }
  }
  return (version = '0.0.0');
}

/** The User-Agent every call to a target carries. */
export const userAgent = (): string => `Cordon/${cordonVersion()}`;
