/**
 * Whether a verified access token still stands (not revoked, its app enabled, its signing key neither
 * revoked nor retired past its window), checked in the database on every request so that a revocation,
 * a disabled app or a revoked key holds on the very next request on every node. Checks of one
 * event-loop turn share one query (see TurnBatch), which also reads the app's constraints, so that the
 * Users API need not read them again inside its transaction.
 */
import { TurnBatch } from '../storage/turn-batch.js';
import type { Executor } from '../store/executor.js';
import { tokenStandings, type AppConstraints, type TokenRef, type TokenStandingRow } from '../store/tokens.js';
import { retiredKeyWindow } from './keys.js';

export type Standing = { stands: true; constraints: AppConstraints } | { stands: false; keyGone: boolean };

export class TokenStanding {
  private readonly batch: TurnBatch<string, TokenStandingRow>;

  constructor(db: Executor, options: { tokenTtl: number }) {
    const keyWindowSeconds = retiredKeyWindow(options.tokenTtl);
    this.batch = new TurnBatch(async (keys) => {
      const refs: TokenRef[] = keys.map((key) => {
        const [accountId, jti, clientId, kid, iat] = JSON.parse(key) as [string, string, string, string, number];
        return { accountId, jti, clientId, kid, iat };
      });
      const answers = await tokenStandings(db, refs, keyWindowSeconds);
      return new Map(keys.map((key, i) => [key, answers[i]!]));
    });
  }

  /** True when the token was not revoked, its app exists and is enabled, and its key is in force. */
  async stands(token: TokenRef): Promise<boolean> {
    return (await this.check(token)).stands;
  }

  /** The app's constraints when the token stands (as `stands`); when not, whether its key is why. */
  async check(token: TokenRef): Promise<Standing> {
    const standing = await this.batch.get(
      JSON.stringify([token.accountId, token.jti, token.clientId, token.kid, token.iat]),
    );
    if (standing !== undefined && !standing.revoked && standing.appActive && standing.keyInForce)
      return { stands: true, constraints: standing.constraints! };
    return { stands: false, keyGone: standing !== undefined && !standing.keyInForce };
  }
}
