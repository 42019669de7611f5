import { isNhiAction, severityAtLeast, type Playbook } from '../playbook.js';
import type { EngineSignal, GuardStep, Subject } from '../plan.js';

/**
 * Which playbook decides: among the enabled current versions that match the signal and its subject,
 * the highest priority, then the name (so the choice is stable). The candidates are recorded.
 */
export const matchPlaybook: GuardStep = {
  name: 'match-playbook',
  async run(draft) {
    const candidates = draft.playbooks
      .filter((p) => p.enabled && playbookMatches(p, draft.signal, draft.subject))
      .sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
    const chosen = candidates[0];
    if (!chosen)
      return {
        outcome: 'stop',
        status: 'no_action',
        reason: 'no playbook matches',
        details: { considered: draft.playbooks.filter((p) => p.enabled).length },
      };
    draft.playbook = chosen;
    return {
      outcome: 'pass',
      reason: `${chosen.name} v${chosen.version} (priority ${chosen.priority})`,
      details: {
        playbook: chosen.name,
        version: chosen.version,
        content_hash: chosen.contentHash,
        action: chosen.action,
        candidates: candidates.map((p) => p.name),
      },
    };
  },
};

/**
 * Whether a playbook matches a signal and its subject: a user's (undefined: a non-human identity's, which
 * only playbooks of its actions, or notify, match; nor do they name roles or groups).
 */
export function playbookMatches(playbook: Playbook, signal: EngineSignal, subject: Subject | undefined): boolean {
  const m = playbook.match;
  if (playbook.action !== 'notify' && isNhiAction(playbook.action) !== (subject === undefined)) return false;
  if (m.sources?.length && !m.sources.includes(signal.source_id)) return false;
  if (
    m.types?.length &&
    !m.types.some((t) => (t.endsWith('*') ? signal.type.startsWith(t.slice(0, -1)) : signal.type === t))
  )
    return false;
  if (m.min_severity && !severityAtLeast(signal.severity, m.min_severity)) return false;
  if (m.min_confidence !== undefined && signal.confidence < m.min_confidence) return false;
  if (m.tags?.length && !m.tags.every((t) => signal.tags.includes(t.toLowerCase()))) return false;
  if (subject === undefined) return !m.subject?.roles?.length && !m.subject?.groups?.length;
  if (m.subject?.roles?.length && !m.subject.roles.includes(subject.role)) return false;
  if (m.subject?.groups?.length) {
    const wanted = new Set(m.subject.groups.map((g) => g.toLowerCase()));
    if (!subject.groups.some((g) => wanted.has(g.id.toLowerCase()) || wanted.has(g.name.toLowerCase()))) return false;
  }
  return true;
}
