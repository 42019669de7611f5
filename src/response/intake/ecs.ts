/**
 * Elastic Security alert (ECS fields + kibana.alert.*) → CanonicalSignal, as a Kibana Webhook connector posts it.
 *
 * Field names come from Elastic's "Alert schema" page (elastic.co/guide/en/security/current/alert-schema.html:
 * kibana.alert.uuid, .original_time, .reason, .severity, .risk_score, .workflow_status, .status, .rule.*),
 * the ECS user field set (elastic.co/guide/en/ecs/current/ecs-user.html) and Kibana's "Rule action
 * variables" page (elastic.co/guide/en/kibana/current/rule-action-variables.html) for `context.alerts`.
 *
 * Accepted bodies: one alert document, or a body template's wrapper around `{{{context.alerts}}}` holding
 * one alert (`{alerts: [alert]}` or `{context: {alerts: [alert]}}`). An alert's fields may be flat dotted
 * keys as in the alerts index (`"kibana.alert.uuid": …`), nested objects, or a mix of both, and single
 * values may come wrapped in a one-element array (the search API's `fields` form).
 *
 * | canonical     | ECS / Kibana alert                                                                          |
 * |---------------|---------------------------------------------------------------------------------------------|
 * | (refused)     | kibana.alert.workflow_status "closed"; kibana.alert.status "recovered"                      |
 * | external_id   | kibana.alert.uuid ‖ _id ‖ event.id                                                           |
 * | type          | kibana.alert.rule.name (what a person writes in a playbook), cut to 200 chars ‖ rule_id     |
 * | title         | kibana.alert.rule.name ‖ kibana.alert.reason ‖ type                                          |
 * | severity      | kibana.alert.severity ‖ kibana.alert.rule.severity (low/medium/high/critical); otherwise from |
 * |               | the risk score: < 22 low, < 48 medium, < 74 high, else critical (Elastic's defaults are     |
 * |               | 21/47/73/99); neither → medium                                                              |
 * | confidence    | (kibana.alert.risk_score ‖ kibana.alert.rule.risk_score) / 100 ‖ 0.5 (the default)          |
 * | subject       | user.id → user_id, user.email → email, user.name → upn if name@domain else username          |
 * | observed_time | kibana.alert.original_time (the source event's time) ‖ @timestamp (the alert's) ‖ now       |
 * | tags          | kibana.alert.rule.tags[] + kibana.alert.rule.threat[].tactic.name + threat.tactic.name        |
 * | attributes    | rule_id: kibana.alert.rule.rule_id (the stable id across spaces and imports) ‖               |
 * |               | kibana.alert.rule.uuid; rule_uuid: kibana.alert.rule.uuid (this space's saved object)        |
 *
 * A wrapper with several alerts is refused, not mapped in part: taking the first would silently drop the
 * others, and each may name a different user. Legacy 7.x `signal.*` documents are not read.
 */
import {
  type CanonicalSignal,
  type JsonObject,
  type Severity,
  DEFAULT_CONFIDENCE,
  LIMITS,
  clampText,
  SubjectCollector,
  firstString,
  head,
  invalidSignal,
  isRecord,
  optionalNumber,
  own,
  requireRoot,
  resolvedSignal,
  shapeTags,
  shapeTitle,
  timeFromEpochMs,
  timeFromRfc3339,
} from './signal.js';

const SEVERITIES = new Set<Severity>(['low', 'medium', 'high', 'critical']);

export function mapEcs(payload: unknown, now: Date, defaultConfidence = DEFAULT_CONFIDENCE.ecs): CanonicalSignal {
  const alert = unwrap(requireRoot(payload));
  const read = (path: string) => scalar(lookup(alert, path.split('.')));

  const workflow = read('kibana.alert.workflow_status');
  if (workflow === 'closed') throw resolvedSignal('kibana.alert.workflow_status', 'closed');
  if (read('kibana.alert.status') === 'recovered') throw resolvedSignal('kibana.alert.status', 'recovered');

  const externalId = firstString(
    [
      [read('kibana.alert.uuid'), 'kibana.alert.uuid'],
      [own(alert, '_id'), '_id'],
      [read('event.id'), 'event.id'],
    ],
    LIMITS.externalId,
  );
  if (externalId === undefined) throw invalidSignal('kibana.alert.uuid', 'is required');

  const ruleUuid = firstString([[read('kibana.alert.rule.uuid'), 'kibana.alert.rule.uuid']], LIMITS.type);
  const ruleId =
    firstString([[read('kibana.alert.rule.rule_id'), 'kibana.alert.rule.rule_id']], LIMITS.type) ?? ruleUuid;
  const ruleName = firstString([[read('kibana.alert.rule.name'), 'kibana.alert.rule.name']]);
  // The name, as people know the rule; a cut name still names one rule, and ids stay in the attributes.
  const type = ruleName === undefined ? ruleId : clampText(ruleName.replace(/\s+/g, ' '), LIMITS.type);
  if (type === undefined) throw invalidSignal('kibana.alert.rule.name', 'is required');

  const riskScore = riskScoreOf(read);
  return {
    external_id: externalId,
    type,
    title: shapeTitle(ruleName ?? firstString([[read('kibana.alert.reason'), 'kibana.alert.reason']]), type),
    severity: severityOf(read, riskScore),
    confidence: riskScore === undefined ? defaultConfidence : riskScore / 100,
    subject: new SubjectCollector()
      .fromUserId(read('user.id'))
      .fromEmail(read('user.email'))
      .fromName(read('user.name'))
      .result(),
    observed_time: observedTime(read, now),
    tags: tagsOf(alert),
    attributes: {
      ...(ruleId === undefined ? {} : { rule_id: ruleId }),
      ...(ruleUuid === undefined ? {} : { rule_uuid: ruleUuid }),
    },
  };
}

/** The alert inside a `{{{context.alerts}}}` wrapper, or the body itself. */
function unwrap(body: JsonObject): JsonObject {
  const context = own(body, 'context');
  const [alerts, field] = Array.isArray(own(body, 'alerts'))
    ? [own(body, 'alerts') as unknown[], 'alerts']
    : isRecord(context) && Array.isArray(own(context, 'alerts'))
      ? [own(context, 'alerts') as unknown[], 'context.alerts']
      : [undefined, ''];
  if (alerts === undefined) return body;
  if (alerts.length !== 1) throw invalidSignal(field, 'must hold exactly one alert: send one alert per request');
  const [alert] = alerts;
  if (!isRecord(alert)) throw invalidSignal(`${field}[0]`, 'must be an object');
  return alert;
}

/**
 * A dotted field, whichever way the document spells it: `{"kibana.alert.rule.name": …}`,
 * `{kibana: {alert: {rule: {name: …}}}}` or any mix (`{"kibana.alert": {"rule.name": …}}`). Tries every
 * split of the path, longest key first; paths here have at most five segments, so at most 16 lookups.
 */
function lookup(object: JsonObject, segments: readonly string[]): unknown {
  for (let take = segments.length; take >= 1; take--) {
    const value = own(object, segments.slice(0, take).join('.'));
    if (value === undefined) continue;
    if (take === segments.length) return value;
    if (isRecord(value)) {
      const found = lookup(value, segments.slice(take));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** `["x"]` (the search API's `fields` form) reads as `"x"`; longer arrays stay arrays. */
function scalar(value: unknown): unknown {
  return Array.isArray(value) && value.length === 1 ? value[0] : value;
}

function riskScoreOf(read: (path: string) => unknown): number | undefined {
  for (const field of ['kibana.alert.risk_score', 'kibana.alert.rule.risk_score']) {
    const score = optionalNumber(read(field), field);
    if (score === undefined) continue;
    if (score < 0 || score > 100) throw invalidSignal(field, 'must be between 0 and 100');
    return score;
  }
  return undefined;
}

function severityOf(read: (path: string) => unknown, riskScore: number | undefined): Severity {
  for (const field of ['kibana.alert.severity', 'kibana.alert.rule.severity']) {
    const value = firstString([[read(field), field]])?.toLowerCase();
    if (value !== undefined && SEVERITIES.has(value as Severity)) return value as Severity;
  }
  if (riskScore === undefined) return 'medium';
  return riskScore < 22 ? 'low' : riskScore < 48 ? 'medium' : riskScore < 74 ? 'high' : 'critical';
}

function observedTime(read: (path: string) => unknown, now: Date): string {
  for (const field of ['kibana.alert.original_time', '@timestamp']) {
    const value = read(field);
    if (value === undefined) continue;
    // Elasticsearch keeps a date as sent: an ISO string, or epoch milliseconds for epoch_millis mappings.
    if (typeof value === 'number') return timeFromEpochMs(value, field);
    if (typeof value === 'string') return timeFromRfc3339(value.trim(), field);
    throw invalidSignal(field, 'must be an RFC 3339 date-time');
  }
  return now.toISOString();
}

function tagsOf(alert: JsonObject): string[] {
  const ruleTags = lookup(alert, ['kibana', 'alert', 'rule', 'tags']);
  const threats = lookup(alert, ['kibana', 'alert', 'rule', 'threat']);
  const tactics: unknown[] = [];
  for (const threat of Array.isArray(threats) ? head(threats) : []) {
    const tactic = isRecord(threat) ? own(threat, 'tactic') : undefined;
    if (isRecord(tactic)) tactics.push(own(tactic, 'name'));
  }
  // ECS threat.tactic.name is copied from the source event; a list when several tactics apply.
  const ecsTactics = lookup(alert, ['threat', 'tactic', 'name']);
  return shapeTags([
    ...(Array.isArray(ruleTags) ? head(ruleTags as unknown[], LIMITS.tags) : []),
    ...tactics,
    ...(Array.isArray(ecsTactics) ? head(ecsTactics as unknown[]) : [ecsTactics]),
  ]);
}
