/**
 * Splunk webhook alert action → CanonicalSignal.
 *
 * Field names come from Splunk's "Use a webhook alert action" page (help.splunk.com, Alerting Manual,
 * 9.x/10.0): the POST body is `{result: {…first result row…}, sid, results_link, search_name, owner, app}`,
 * and every result value is a string (a multivalue field arrives as an array of strings). The user field
 * names follow the Common Information Model (`user`, `src_user`) plus the spellings searches commonly
 * `rename … as` (`user_email`, `email`, `upn`, `user_id`); severity/urgency are the Enterprise Security
 * notable-event values (informational, low, medium, high, critical).
 *
 * | canonical     | Splunk webhook                                                                              |
 * |---------------|---------------------------------------------------------------------------------------------|
 * | external_id   | sid, or `sid/_cd` when the row carries `_cd` (its event address), since a scheduled search |
 * |               | posts once per run and the run is what the sid names                                        |
 * | type          | search_name ‖ 'splunk.alert' (the documented sample sends null)                             |
 * | title         | result.title ‖ search_name ‖ type                                                           |
 * | severity      | result.severity ‖ result.urgency: informational/info → info, low, medium, high, critical;  |
 * |               | anything else or absent → medium                                                            |
 * | confidence    | result.confidence: 0..1 as is, above 1 up to 100 divided by 100; else result.risk_score    |
 * |               | (Enterprise Security's risk score, 0..100 divided by 100; risk-based alerting sums scores |
 * |               | past 100, read as 1); neither → 0.5 (DEFAULT_CONFIDENCE.splunk)                             |
 * | subject       | user_id → user_id; user_email ‖ email → email; upn ‖ user_principal_name → upn;            |
 * |               | user ‖ src_user ‖ username → upn if name@domain, else username. `user` (the account acted on, |
 * |               | in CIM) comes before `src_user` (the account acting), as the one acted on is the one to hold |
 * | observed_time | result._time: epoch seconds ("1718012345.123") or RFC 3339 ‖ now                            |
 * | tags          | result.tags, split on commas and spaces                                                     |
 */
import {
  type CanonicalSignal,
  type Severity,
  DEFAULT_CONFIDENCE,
  LIMITS,
  SubjectCollector,
  firstString,
  head,
  invalidSignal,
  optionalNumber,
  optionalRecord,
  optionalString,
  own,
  requireRoot,
  requireText,
  shapeTags,
  shapeTitle,
  timeFromEpochMs,
  timeFromRfc3339,
} from './signal.js';

const SEVERITY_BY_NAME: Record<string, Severity> = {
  informational: 'info',
  info: 'info',
  low: 'low',
  medium: 'medium',
  high: 'high',
  critical: 'critical',
};

export function mapSplunk(payload: unknown, now: Date, defaultConfidence = DEFAULT_CONFIDENCE.splunk): CanonicalSignal {
  const body = requireRoot(payload);
  const result = optionalRecord(own(body, 'result'), 'result') ?? {};
  // A multivalue field holding one value reads as that value; several values are ambiguous and skipped below.
  const value = (name: string): unknown => {
    const raw = own(result, name);
    return Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  };

  const sid = requireText(own(body, 'sid'), 'sid', LIMITS.externalId);
  const cd = optionalString(value('_cd'), 'result._cd');
  const externalId = cd === undefined ? sid : `${sid}/${cd}`;
  if (externalId.length > LIMITS.externalId)
    throw invalidSignal('result._cd', `with sid must be at most ${LIMITS.externalId} characters`);

  const searchName = firstString([[own(body, 'search_name'), 'search_name']], LIMITS.type);
  const type = searchName ?? 'splunk.alert';

  return {
    external_id: externalId,
    type,
    title: shapeTitle(firstString([[value('title'), 'result.title']]) ?? searchName, type),
    severity: severityOf(value),
    confidence: confidenceOf(value) ?? defaultConfidence,
    subject: new SubjectCollector()
      .fromUserId(value('user_id'))
      .fromEmail(value('user_email'))
      .fromEmail(value('email'))
      .fromName(value('upn'))
      .fromName(value('user_principal_name'))
      .fromName(value('user'))
      .fromName(value('src_user'))
      .fromName(value('username'))
      .result(),
    observed_time: observedTime(value('_time'), now),
    tags: tagsOf(own(result, 'tags')),
    attributes: {},
  };
}

function severityOf(value: (name: string) => unknown): Severity {
  for (const name of ['severity', 'urgency']) {
    const text = optionalString(value(name), `result.${name}`)?.toLowerCase();
    if (text !== undefined && Object.hasOwn(SEVERITY_BY_NAME, text)) return SEVERITY_BY_NAME[text] as Severity;
  }
  return 'medium';
}

function confidenceOf(value: (name: string) => unknown): number | undefined {
  const confidence = optionalNumber(value('confidence'), 'result.confidence');
  if (confidence !== undefined) {
    if (confidence < 0 || confidence > 100)
      throw invalidSignal('result.confidence', 'must be between 0 and 1, or 0 and 100');
    // "1" reads as certainty on the 0..1 scale, not as 1 %.
    return confidence > 1 ? confidence / 100 : confidence;
  }
  const risk = optionalNumber(value('risk_score'), 'result.risk_score');
  if (risk === undefined) return undefined;
  if (risk < 0) throw invalidSignal('result.risk_score', 'must not be negative');
  // Risk-based alerting adds up the risk of one object: a total past 100 is past the usual threshold.
  return Math.min(risk, 100) / 100;
}

function observedTime(raw: unknown, now: Date): string {
  const text = optionalString(raw, 'result._time');
  if (text === undefined) return now.toISOString();
  // _time is epoch seconds with a fraction unless the search formatted it (strftime, convert ctime).
  // Milliseconds from the digits, not `Number(text) * 1000`, which rounds 1718012345.123 to …122.999.
  const epoch = /^(\d{1,12})(?:\.(\d+))?$/.exec(text);
  if (epoch)
    return timeFromEpochMs(
      Number(epoch[1]) * 1000 + Number((epoch[2] ?? '').padEnd(3, '0').slice(0, 3)),
      'result._time',
    );
  return timeFromRfc3339(text, 'result._time');
}

function tagsOf(raw: unknown): string[] {
  const values = Array.isArray(raw) ? head(raw, LIMITS.tags) : [raw];
  const tags: string[] = [];
  for (const entry of values) {
    // Split a bounded prefix only: the tag cap makes the rest of a huge string irrelevant.
    if (typeof entry === 'string') tags.push(...entry.slice(0, LIMITS.tags * (LIMITS.tag + 1)).split(/[\s,]+/));
  }
  return shapeTags(tags);
}
