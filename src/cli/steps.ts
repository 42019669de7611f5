/** How `cordon explain` and `cordon containments restore` print a containment's remote steps. */
import type { ExplanationView as Explanation } from '../http/views/explain.js';
import { asText, type CliIo } from './io.js';

/** Each target's steps, and each attempt with the audit index of its entry. */
export function printTargets(line: (label: string, text: string) => void, c: Explanation): void {
  const state = c.outcome.containment?.['targets_state'];
  if (state) line('targets', asText(state));
  for (const t of c.targets)
    for (const step of t.steps) {
      line('  target', `${t.name} (${t.kind}): ${step.operation} ${step.status}, step ${step.id}`);
      for (const a of step.attempts)
        line(
          '  attempt',
          `${a.attempt} ${a.outcome}${a.status === null ? '' : ` HTTP ${a.status}`}` +
            `${a.latency_ms === null ? '' : ` ${a.latency_ms} ms`}, ` +
            `audit ${a.index === null ? '(not numbered yet)' : `#${a.index}`}`,
        );
    }
}

/** What a restore did per target: the reactivate step it wrote, or why none. */
export function printRestoreTargets(io: CliIo, targets: Array<Record<string, unknown>>): void {
  for (const t of targets)
    io.stdout.write(
      `target ${asText(t['target'])}: ` +
        `${t['would'] === 'reactivate' ? `reactivate (step ${asText(t['step_id'])})` : asText(t['reason'])}\n`,
    );
}
