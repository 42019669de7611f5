/**
 * Whether a verified access token still stands (not revoked, its app enabled), checked in the database
 * on every request so that a revocation or a disabled app holds on the very next request on every node.
 * Checks of one event-loop turn share one query (see TurnBatch), which also reads the app's constraints,
 * so that the Users API need not read them again inside its transaction.
 */
import { TurnBatch } from '../storage/turn-batch.js';
import type { Executor } from '../store/executor.js';
import { tokenStandings, type AppConstraints, type TokenRef, type TokenStandingRow } from '../store/tokens.js';

export class TokenStanding {
  private readonly batch: TurnBatch<string, TokenStandingRow>;

  constructor(db: Executor) {
    this.batch = new TurnBatch(async (keys) => {
      const refs: TokenRef[] = keys.map((key) => {
        const [accountId, jti, clientId] = JSON.parse(key) as [string, string, string];
        return { accountId, jti, clientId };
      });
      const answers = await tokenStandings(db, refs);
      return new Map(keys.map((key, i) => [key, answers[i]!]));
    });
  }

  /** True when the token was not revoked and its app exists and is enabled. */
  async stands(token: TokenRef): Promise<boolean> {
    return (await this.check(token)) !== undefined;
  }

  /** The app's constraints when the token stands (as `stands`), undefined when it does not. */
  async check(token: TokenRef): Promise<AppConstraints | undefined> {
    const standing = await this.batch.get(JSON.stringify([token.accountId, token.jti, token.clientId]));
    return standing !== undefined && !standing.revoked && standing.appActive ? standing.constraints : undefined;
  }
}
