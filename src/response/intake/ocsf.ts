/**
 * OCSF 1.x Detection Finding (class_uid 2004) → CanonicalSignal.
 *
 * Field names come from the OCSF schema sources (github.com/ocsf/ocsf-schema, browsable at schema.ocsf.io):
 * events/findings/finding.json and detection_finding.json (activity_id, status_id, confidence_*, evidences,
 * resources, time), objects/finding_info.json, objects/analytic.json, objects/evidences.json and
 * objects/user.json; the severity_id and confidence_id enums from dictionary.json.
 *
 * | canonical     | OCSF                                                                                      |
 * |---------------|-------------------------------------------------------------------------------------------|
 * | (identity)    | class_uid must be 2004; category_uid, when given, 2; type_uid, when given, 200400 + activity_id |
 * | (refused)     | activity_id 3 (Close); status_id 4 Resolved, 5 Archived, 6 Deleted                         |
 * | external_id   | finding_info.uid, else metadata.uid                                                        |
 * | type          | finding_info.analytic.uid ‖ analytic.name ‖ finding_info.types[0] ‖ 'ocsf.detection_finding' |
 * | title         | finding_info.title ‖ analytic.name ‖ type                                                  |
 * | severity      | severity_id 1 info, 2 low, 3 medium, 4 high, 5 critical, 6 (Fatal) critical; 0, 99,       |
 * |               | absent → medium                                                                           |
 * | confidence    | confidence_score / 100 ‖ confidence_id 1 (Low) .3, 2 (Medium) .6, 3 (High) .9 ‖ 0.5 (default) |
 * | subject       | the first user object that names anyone: evidence by evidence, evidences[i].user then       |
 * |               | evidences[i].actor.user; then resources[] whose type names a user. From that one object:   |
 * |               | uid → user_id, email_addr → email, name → upn if name@domain else username                  |
 * | observed_time | time (ms epoch, the finding's creation) ‖ finding_info.created_time (ms) ‖ now             |
 * | tags          | finding_info.types[] + finding_info.analytic.category                                      |
 *
 * status_id 3 (Suppressed) is accepted: a suppressed finding is still a finding, and suppression is
 * the playbook's business. Subject fields are best effort: one that has the wrong type is skipped, since
 * an alert whose user cannot be read is still stored (as unresolved), never refused.
 */
import {
  type CanonicalSignal,
  type JsonObject,
  type Severity,
  type SubjectHints,
  DEFAULT_CONFIDENCE,
  LIMITS,
  SubjectCollector,
  firstString,
  head,
  invalidSignal,
  isRecord,
  optionalArray,
  optionalInteger,
  optionalNumber,
  optionalRecord,
  own,
  requireRoot,
  requireText,
  resolvedSignal,
  shapeTags,
  shapeTitle,
  timeFromEpochMs,
} from './signal.js';

const DETECTION_FINDING = 2004;
const FINDINGS_CATEGORY = 2;
const CLOSE = 3;
const CLOSED_STATUSES: Record<number, string> = { 4: '4 (Resolved)', 5: '5 (Archived)', 6: '6 (Deleted)' };

const SEVERITY_BY_ID: Record<number, Severity> = {
  1: 'info',
  2: 'low',
  3: 'medium',
  4: 'high',
  5: 'critical',
  6: 'critical',
};
const CONFIDENCE_BY_ID: Record<number, number> = { 1: 0.3, 2: 0.6, 3: 0.9 };

export function mapOcsf(payload: unknown, now: Date, defaultConfidence = DEFAULT_CONFIDENCE.ocsf): CanonicalSignal {
  const finding = requireRoot(payload);
  checkIdentity(finding);

  const info = optionalRecord(own(finding, 'finding_info'), 'finding_info');
  if (info === undefined) throw invalidSignal('finding_info', 'is required');
  const analytic = optionalRecord(own(info, 'analytic'), 'finding_info.analytic');
  const types = optionalArray(own(info, 'types'), 'finding_info.types') ?? [];
  const metadata = optionalRecord(own(finding, 'metadata'), 'metadata');

  // finding_info.uid is required by the schema; metadata.uid (the event's id) stands in for producers that omit it.
  const externalId =
    own(info, 'uid') === undefined && own(metadata, 'uid') !== undefined
      ? requireText(own(metadata, 'uid'), 'metadata.uid', LIMITS.externalId)
      : requireText(own(info, 'uid'), 'finding_info.uid', LIMITS.externalId);

  const analyticName = firstString([[own(analytic, 'name'), 'finding_info.analytic.name']]);
  const type =
    firstString(
      [
        [own(analytic, 'uid'), 'finding_info.analytic.uid'],
        [own(analytic, 'name'), 'finding_info.analytic.name'],
        [typeof types[0] === 'string' ? types[0] : undefined, 'finding_info.types[0]'],
      ],
      LIMITS.type,
    ) ?? 'ocsf.detection_finding';

  return {
    external_id: externalId,
    type,
    title: shapeTitle(firstString([[own(info, 'title'), 'finding_info.title']]) ?? analyticName, type),
    severity: severityOf(finding),
    confidence: confidenceOf(finding) ?? defaultConfidence,
    subject: subjectOf(finding),
    observed_time: observedTime(finding, info, now),
    tags: shapeTags([
      ...head(types, LIMITS.tags),
      firstString([[own(analytic, 'category'), 'finding_info.analytic.category']]),
    ]),
    attributes: {},
  };
}

function checkIdentity(finding: JsonObject): void {
  const classUid = optionalInteger(own(finding, 'class_uid'), 'class_uid');
  if (classUid === undefined) throw invalidSignal('class_uid', 'is required');
  if (classUid !== DETECTION_FINDING)
    throw invalidSignal('class_uid', `must be ${DETECTION_FINDING} (Detection Finding)`);
  const category = optionalInteger(own(finding, 'category_uid'), 'category_uid');
  if (category !== undefined && category !== FINDINGS_CATEGORY)
    throw invalidSignal('category_uid', `must be ${FINDINGS_CATEGORY} (Findings)`);
  const activity = optionalInteger(own(finding, 'activity_id'), 'activity_id');
  const typeUid = optionalInteger(own(finding, 'type_uid'), 'type_uid');
  // type_uid = class_uid * 100 + activity_id (OCSF base event); a mismatch means a mangled event.
  if (typeUid !== undefined && activity !== undefined && typeUid !== DETECTION_FINDING * 100 + activity) {
    throw invalidSignal('type_uid', 'must be class_uid * 100 + activity_id');
  }
  if (activity === CLOSE || typeUid === DETECTION_FINDING * 100 + CLOSE)
    throw resolvedSignal('activity_id', '3 (Close)');
  const status = optionalInteger(own(finding, 'status_id'), 'status_id');
  const closed = status === undefined ? undefined : CLOSED_STATUSES[status];
  if (closed !== undefined) throw resolvedSignal('status_id', closed);
}

function severityOf(finding: JsonObject): Severity {
  const id = optionalInteger(own(finding, 'severity_id'), 'severity_id');
  return (id !== undefined && Object.hasOwn(SEVERITY_BY_ID, id) ? SEVERITY_BY_ID[id] : undefined) ?? 'medium';
}

function confidenceOf(finding: JsonObject): number | undefined {
  const score = optionalNumber(own(finding, 'confidence_score'), 'confidence_score');
  if (score !== undefined) {
    if (score < 0 || score > 100) throw invalidSignal('confidence_score', 'must be between 0 and 100');
    return score / 100;
  }
  const id = optionalInteger(own(finding, 'confidence_id'), 'confidence_id');
  return id !== undefined && Object.hasOwn(CONFIDENCE_BY_ID, id) ? CONFIDENCE_BY_ID[id] : undefined;
}

function observedTime(finding: JsonObject, info: JsonObject, now: Date): string {
  for (const [value, field] of [
    [own(finding, 'time'), 'time'],
    [own(info, 'created_time'), 'finding_info.created_time'],
  ] as const) {
    const ms = optionalNumber(value, field);
    if (ms !== undefined) return timeFromEpochMs(ms, field);
  }
  return now.toISOString();
}

/** The first user object that names anyone; its hints are taken together, never mixed with another's. */
function subjectOf(finding: JsonObject): SubjectHints {
  const evidences = own(finding, 'evidences');
  const resources = own(finding, 'resources');
  const users: unknown[] = [];
  for (const evidence of Array.isArray(evidences) ? head(evidences) : []) {
    if (!isRecord(evidence)) continue;
    users.push(own(evidence, 'user'));
    const actor = own(evidence, 'actor');
    if (isRecord(actor)) users.push(own(actor, 'user'));
  }
  for (const resource of Array.isArray(resources) ? head(resources) : []) {
    // resource_details: an affected resource of a user type (e.g. "AWS::IAM::User") names the user.
    const type = isRecord(resource) ? own(resource, 'type') : undefined;
    if (typeof type === 'string' && /user/i.test(type)) users.push(resource);
  }
  for (const user of users) {
    if (!isRecord(user)) continue;
    const hints = new SubjectCollector()
      .fromUserId(own(user, 'uid'))
      .fromEmail(own(user, 'email_addr'))
      .fromName(own(user, 'name'));
    if (!hints.empty) return hints.result();
  }
  return {};
}
