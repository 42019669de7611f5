/**
 * Plans waiting for approval, made the way production makes them: a registered source, a playbook in
 * approval mode, and a signal about a subject received by the engine (as the intake routes call it).
 */
import type { CallContext } from '../../src/audit/entry.js';
import type { Core } from '../../src/core.js';
import type { Severity } from '../../src/response/intake/signal.js';
import { receiveSignal, type Reception } from '../../src/response/engine.js';
import { applyPlaybooks } from '../../src/response/playbooks.js';
import { createSource } from '../../src/response/sources.js';
import { testCtx } from './fixtures.js';

export const DETECTOR: CallContext = {
  actor: { type: 'app', id: 'siem' },
  authz: { method: 'client_credentials', client_id: 'siem' },
};

export interface PlanMaker {
  sourceId: string;
  /** A signal about `email` that the playbook `playbook` matches: its reception (signal and plan). */
  signal(
    email: string,
    options?: { playbook?: string; title?: string; severity?: Severity; ctx?: CallContext },
  ): Promise<Reception>;
}

let n = 0;

/** A source named `name`, and approval-mode playbooks (`needs-one` needs one person, `needs-two` two). */
export async function planMaker(core: Core, accountId: string, name = 'edr'): Promise<PlanMaker> {
  const { source } = await createSource(core.response, testCtx, accountId, { name, format: 'canonical', auth: 'hmac' });
  await applyPlaybooks(
    core.response,
    testCtx,
    accountId,
    (['needs-one', 'needs-two'] as const).map((playbook, i) => ({
      name: playbook,
      description: `suspends after ${i + 1} approval${i ? 's' : ''}`,
      priority: 10,
      match: { types: [`test.${playbook}`] },
      action: 'suspend',
      mode: 'approval',
      approvals: i + 1,
    })),
  );
  return {
    sourceId: source.id,
    signal: (email, options = {}) => {
      const playbook = options.playbook ?? 'needs-one';
      const raw = { alert: `raw-${++n}`, user: email, detail: 'impossible travel <b>' };
      return receiveSignal(core.response, {
        accountId,
        sourceId: source.id,
        signal: {
          external_id: `alert-${n}`,
          type: `test.${playbook}`,
          title: options.title ?? `Impossible travel ${n}`,
          severity: options.severity ?? 'high',
          confidence: 0.9,
          subject: { email },
          observed_time: new Date().toISOString(),
          tags: [],
        },
        rawText: JSON.stringify(raw),
        ctx: options.ctx ?? DETECTOR,
      });
    },
  };
}
