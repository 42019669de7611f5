/**
 * Azure Monitor common alert schema → CanonicalSignal.
 *
 * Field names come from Microsoft Learn: "Common alert schema" (learn.microsoft.com/azure/azure-monitor/
 * alerts/alerts-common-schema: schemaId, data.essentials.*, alertContext, customProperties) and "Sample
 * payloads for log search alerts using webhook actions" (…/alerts/alerts-log-webhook: the Log Alerts V2
 * `alertContext.condition.allOf[].dimensions[]` name/value pairs, and the older `Dimensions[]` and
 * `SearchResults.tables[].columns/rows` of log alerts). Dimension names such as UserPrincipalName,
 * AccountUpn, Account and UserId are the columns of the Entra ID sign-in and Sentinel tables that a log
 * search rule splits by.
 *
 * | canonical     | common alert schema                                                                          |
 * |---------------|----------------------------------------------------------------------------------------------|
 * | (identity)    | schemaId must be "azureMonitorCommonAlertSchema"; data.essentials must be an object          |
 * | (refused)     | data.essentials.monitorCondition "Resolved"                                                  |
 * | external_id   | data.essentials.alertId                                                                      |
 * | type, title   | data.essentials.alertRule (the description, free text from the rule, is not a title)         |
 * | severity      | essentials.severity Sev0 critical, Sev1 high, Sev2 medium, Sev3 low, Sev4 info; other → medium |
 * | confidence    | data.customProperties.confidence, 0..1 as is, 1..100 divided by 100 ‖ 0.5                   |
 * | subject       | the first of these that names a user, each read through USER_FIELDS below:                  |
 * |               | 1. data.customProperties (set by the rule's author, so the most deliberate)                 |
 * |               | 2. alertContext.condition.allOf[].dimensions[] (Log Alerts V2: the split the alert fired for) |
 * |               | 3. alertContext.Dimensions[] (older log alerts)                                              |
 * |               | 4. alertContext.SearchResults.tables[0], only when its first rows all name the same user     |
 * | observed_time | data.essentials.firedDateTime ‖ now                                                          |
 * | tags          | data.essentials.monitoringService + data.essentials.signalType                               |
 *
 * alertTargetIDs name the Azure resources (a workspace, a VM), never a user, so they are not read.
 */
import {
  type CanonicalSignal,
  type JsonObject,
  type Severity,
  type SubjectHints,
  DEFAULT_CONFIDENCE,
  LIMITS,
  SubjectCollector,
  head,
  invalidSignal,
  isRecord,
  optionalNumber,
  optionalRecord,
  optionalString,
  own,
  requireRoot,
  requireText,
  resolvedSignal,
  shapeTags,
  shapeTitle,
  timeFromRfc3339,
} from './signal.js';

const SCHEMA_ID = 'azureMonitorCommonAlertSchema';
const SEVERITY_BY_NAME: Record<string, Severity> = {
  sev0: 'critical',
  sev1: 'high',
  sev2: 'medium',
  sev3: 'low',
  sev4: 'info',
};

type Slot = 'id' | 'email' | 'name';
/** Field / dimension / column names (compared lowercased) that name a user, in order of preference. */
const USER_FIELDS: ReadonlyArray<[name: string, slot: Slot]> = [
  ['user_id', 'id'],
  ['userid', 'id'],
  ['accountobjectid', 'id'],
  ['user_email', 'email'],
  ['useremail', 'email'],
  ['email', 'email'],
  ['user_upn', 'name'],
  ['userprincipalname', 'name'],
  ['accountupn', 'name'],
  ['upn', 'name'],
  ['account', 'name'],
  ['accountname', 'name'],
  ['username', 'name'],
  ['user_name', 'name'],
];

export function mapAzure(payload: unknown, now: Date, defaultConfidence = DEFAULT_CONFIDENCE.azure): CanonicalSignal {
  const body = requireRoot(payload);
  const schemaId = optionalString(own(body, 'schemaId'), 'schemaId');
  if (schemaId !== SCHEMA_ID) throw invalidSignal('schemaId', `must be "${SCHEMA_ID}"`);
  const data = optionalRecord(own(body, 'data'), 'data');
  const essentials = optionalRecord(own(data, 'essentials'), 'data.essentials');
  if (data === undefined || essentials === undefined) throw invalidSignal('data.essentials', 'is required');

  const condition = optionalString(own(essentials, 'monitorCondition'), 'data.essentials.monitorCondition');
  if (condition?.toLowerCase() === 'resolved') throw resolvedSignal('data.essentials.monitorCondition', 'Resolved');

  const type = requireText(own(essentials, 'alertRule'), 'data.essentials.alertRule', LIMITS.type);
  const severity = optionalString(own(essentials, 'severity'), 'data.essentials.severity')?.toLowerCase();
  const customProperties = optionalRecord(own(data, 'customProperties'), 'data.customProperties');
  const fired = optionalString(own(essentials, 'firedDateTime'), 'data.essentials.firedDateTime');

  return {
    external_id: requireText(own(essentials, 'alertId'), 'data.essentials.alertId', LIMITS.externalId),
    type,
    title: shapeTitle(type, type),
    severity:
      (severity !== undefined && Object.hasOwn(SEVERITY_BY_NAME, severity) ? SEVERITY_BY_NAME[severity] : undefined) ??
      'medium',
    confidence: confidenceOf(own(customProperties, 'confidence')) ?? defaultConfidence,
    subject: subjectOf(customProperties, own(data, 'alertContext')),
    observed_time: fired === undefined ? now.toISOString() : timeFromRfc3339(fired, 'data.essentials.firedDateTime'),
    tags: shapeTags([own(essentials, 'monitoringService'), own(essentials, 'signalType')]),
    attributes: {},
  };
}

function confidenceOf(raw: unknown): number | undefined {
  const confidence = optionalNumber(raw, 'data.customProperties.confidence');
  if (confidence === undefined) return undefined;
  if (confidence < 0 || confidence > 100)
    throw invalidSignal('data.customProperties.confidence', 'must be between 0 and 1, or 0 and 100');
  return confidence > 1 ? confidence / 100 : confidence;
}

/** Hints from one name → value lookup, through USER_FIELDS. */
function hintsFrom(valueOf: (lowercaseName: string) => unknown): SubjectHints {
  const hints = new SubjectCollector();
  for (const [name, slot] of USER_FIELDS) {
    const value = valueOf(name);
    if (slot === 'id') hints.fromUserId(value);
    else if (slot === 'email') hints.fromEmail(value);
    else hints.fromName(value);
  }
  return hints.result();
}

/** `[{name, value}, …]` pairs (first few only) as a lowercase-name lookup; the first pair of a name wins. */
function pairLookup(pairs: readonly unknown[], into = new Map<string, unknown>()): Map<string, unknown> {
  for (const pair of head(pairs)) {
    const name = isRecord(pair) ? own(pair, 'name') : undefined;
    if (typeof name === 'string' && !into.has(name.toLowerCase()))
      into.set(name.toLowerCase(), own(pair as JsonObject, 'value'));
  }
  return into;
}

function subjectOf(customProperties: JsonObject | undefined, context: unknown): SubjectHints {
  const sources: Array<() => SubjectHints> = [];
  if (customProperties !== undefined) {
    const byName = new Map<string, unknown>();
    // Own keys of a plain object; Object.keys never yields inherited or __proto__-as-prototype entries.
    for (const key of Object.keys(customProperties).slice(0, 64)) {
      if (!byName.has(key.toLowerCase())) byName.set(key.toLowerCase(), own(customProperties, key));
    }
    sources.push(() => hintsFrom((name) => byName.get(name)));
  }
  if (isRecord(context)) {
    const condition = own(context, 'condition');
    const allOf = isRecord(condition) ? own(condition, 'allOf') : undefined;
    const dimensions = new Map<string, unknown>();
    for (const criterion of Array.isArray(allOf) ? head(allOf) : []) {
      const pairs = isRecord(criterion) ? own(criterion, 'dimensions') : undefined;
      if (Array.isArray(pairs)) pairLookup(pairs, dimensions);
    }
    sources.push(() => hintsFrom((name) => dimensions.get(name)));
    const legacy = own(context, 'Dimensions');
    if (Array.isArray(legacy)) {
      const byName = pairLookup(legacy);
      sources.push(() => hintsFrom((name) => byName.get(name)));
    }
    sources.push(() => searchResultHints(own(context, 'SearchResults')));
  }
  for (const source of sources) {
    const hints = source();
    if (Object.keys(hints).length > 0) return hints;
  }
  return {};
}

/** The user named by the first rows of the first result table, if those rows agree; a mixed table names no one. */
function searchResultHints(results: unknown): SubjectHints {
  const tables = isRecord(results) ? own(results, 'tables') : undefined;
  const table: unknown = Array.isArray(tables) ? tables[0] : undefined;
  if (!isRecord(table)) return {};
  const columns = own(table, 'columns');
  const rows = own(table, 'rows');
  if (!Array.isArray(columns) || !Array.isArray(rows)) return {};
  const index = new Map<string, number>();
  head(columns, 64).forEach((column, i) => {
    const name = isRecord(column) ? own(column, 'name') : undefined;
    if (typeof name === 'string' && !index.has(name.toLowerCase())) index.set(name.toLowerCase(), i);
  });
  let agreed: SubjectHints | undefined;
  for (const row of head(rows)) {
    if (!Array.isArray(row)) return {};
    const hints = hintsFrom((name) => {
      const i = index.get(name);
      return i === undefined ? undefined : row[i];
    });
    if (agreed !== undefined && JSON.stringify(agreed) !== JSON.stringify(hints)) return {};
    agreed = hints;
  }
  return agreed ?? {};
}
