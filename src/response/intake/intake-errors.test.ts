import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AppError, toRpcStatus } from '../../errors.js';
import { type IntakeFormat, mapSignal } from './index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/signals');
const NOW = new Date('2025-03-14T09:26:53.000Z');
const SECRET = 'Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.s3cr3t';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a vendor payload, edited in place at any depth
function variant(name: string, change: (payload: any) => void): unknown {
  const payload = JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8'));
  change(payload);
  return payload;
}

function caught(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected INVALID_SIGNAL, got a signal');
}

/** The whole google.rpc.Status body the client gets, and the HTTP status. */
function expectInvalid(
  format: IntakeFormat,
  payload: unknown,
  message: string,
  metadata: Record<string, string>,
): void {
  const error = caught(() => mapSignal(format, payload, NOW));
  expect(error.httpStatus).toBe(400);
  expect(toRpcStatus(error)).toStrictEqual({
    code: 3,
    message,
    details: [
      { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'INVALID_SIGNAL', domain: 'cordon', metadata },
    ],
  });
}

describe('INVALID_SIGNAL: the client learns which field is wrong', () => {
  it('refuses a body that is not an object, in every format', () => {
    for (const format of ['canonical', 'ocsf', 'ecs', 'splunk', 'azure'] as const) {
      for (const body of [null, [], 'alert', 42])
        expectInvalid(
          format,
          body,
          'invalid_signal: (body) must be a JSON object, not ' +
            (body === null ? 'null' : Array.isArray(body) ? 'an array' : `a ${typeof body}`),
          { field: '(body)' },
        );
    }
  });

  it('refuses OCSF events of another class, without a finding id, or with wrong types', () => {
    const base = 'ocsf-2004-impossible-travel.json';
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.class_uid = 3002)),
      'invalid_signal: class_uid must be 2004 (Detection Finding)',
      { field: 'class_uid' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => delete p.class_uid),
      'invalid_signal: class_uid is required',
      { field: 'class_uid' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.category_uid = 4)),
      'invalid_signal: category_uid must be 2 (Findings)',
      { field: 'category_uid' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.type_uid = 200402)),
      'invalid_signal: type_uid must be class_uid * 100 + activity_id',
      { field: 'type_uid' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (delete p.finding_info.uid, delete p.metadata.uid)),
      'invalid_signal: finding_info.uid is required',
      { field: 'finding_info.uid' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => delete p.finding_info),
      'invalid_signal: finding_info is required',
      { field: 'finding_info' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.time = '2025-03-14T08:00:00Z')),
      'invalid_signal: time must be a number, not a string',
      { field: 'time' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.time = 1e300)),
      'invalid_signal: time must be a time between 1970 and 9999',
      { field: 'time' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.severity_id = 'High')),
      'invalid_signal: severity_id must be an integer, not a string',
      { field: 'severity_id' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.confidence_score = 250)),
      'invalid_signal: confidence_score must be between 0 and 100',
      { field: 'confidence_score' },
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.finding_info.analytic.uid = 'x'.repeat(201))),
      'invalid_signal: finding_info.analytic.uid must be at most 200 characters',
      { field: 'finding_info.analytic.uid' },
    );
  });

  it('refuses ECS alerts without an alert id or any of rule name, rule_id and uuid', () => {
    const base = 'ecs-kibana-credential-access.json';
    expectInvalid(
      'ecs',
      variant(base, (p) => (delete p['kibana.alert.uuid'], delete p._id)),
      'invalid_signal: kibana.alert.uuid is required',
      { field: 'kibana.alert.uuid' },
    );
    expectInvalid(
      'ecs',
      variant(
        base,
        (p) => (
          delete p['kibana.alert.rule.rule_id'],
          delete p['kibana.alert.rule.uuid'],
          delete p['kibana.alert.rule.name']
        ),
      ),
      'invalid_signal: kibana.alert.rule.name is required',
      { field: 'kibana.alert.rule.name' },
    );
    expectInvalid(
      'ecs',
      variant(base, (p) => (p['kibana.alert.original_time'] = 'yesterday')),
      'invalid_signal: kibana.alert.original_time must be an RFC 3339 date-time with a time zone',
      { field: 'kibana.alert.original_time' },
    );
    expectInvalid(
      'ecs',
      variant(base, (p) => (p['kibana.alert.original_time'] = '2025-03-14T09:03:58')),
      'invalid_signal: kibana.alert.original_time must be an RFC 3339 date-time with a time zone',
      { field: 'kibana.alert.original_time' },
    );
    expectInvalid(
      'ecs',
      variant(base, (p) => (p['kibana.alert.risk_score'] = 'high')),
      'invalid_signal: kibana.alert.risk_score must be a number, not a string',
      { field: 'kibana.alert.risk_score' },
    );
    const two = variant('ecs-kibana-webhook-context-alerts.json', (p) => p.context.alerts.push(p.context.alerts[0]));
    expectInvalid(
      'ecs',
      two,
      'invalid_signal: context.alerts must hold exactly one alert: send one alert per request',
      { field: 'context.alerts' },
    );
  });

  it('refuses Splunk posts without a sid, and wrong result types', () => {
    const base = 'splunk-webhook-brute-force.json';
    expectInvalid(
      'splunk',
      variant(base, (p) => delete p.sid),
      'invalid_signal: sid is required',
      { field: 'sid' },
    );
    expectInvalid(
      'splunk',
      variant(base, (p) => (p.result = 'count=57')),
      'invalid_signal: result must be an object, not a string',
      { field: 'result' },
    );
    expectInvalid(
      'splunk',
      variant(base, (p) => (p.result._time = 'Fri Mar 14 08:53:00 2025')),
      'invalid_signal: result._time must be an RFC 3339 date-time with a time zone',
      { field: 'result._time' },
    );
    expectInvalid(
      'splunk',
      variant(base, (p) => (p.result.confidence = '250')),
      'invalid_signal: result.confidence must be between 0 and 1, or 0 and 100',
      { field: 'result.confidence' },
    );
    expectInvalid(
      'splunk',
      variant(base, (p) => (p.result.risk_score = '-5')),
      'invalid_signal: result.risk_score must not be negative',
      { field: 'result.risk_score' },
    );
  });

  it('refuses Azure payloads of another schema or without an alert id', () => {
    const base = 'azure-common-log-alert.json';
    expectInvalid(
      'azure',
      variant(base, (p) => (p.schemaId = 'Microsoft.Insights/LogAlert')),
      'invalid_signal: schemaId must be "azureMonitorCommonAlertSchema"',
      { field: 'schemaId' },
    );
    expectInvalid(
      'azure',
      variant(base, (p) => delete p.data.essentials.alertId),
      'invalid_signal: data.essentials.alertId is required',
      { field: 'data.essentials.alertId' },
    );
    expectInvalid(
      'azure',
      variant(base, (p) => delete p.data.essentials),
      'invalid_signal: data.essentials is required',
      { field: 'data.essentials' },
    );
    expectInvalid(
      'azure',
      variant(base, (p) => (p.data.essentials.firedDateTime = 3)),
      'invalid_signal: data.essentials.firedDateTime must be a string, not a number',
      { field: 'data.essentials.firedDateTime' },
    );
  });

  it('refuses canonical bodies that break the contract', () => {
    const base = 'canonical-basic.json';
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.severty = 'high')),
      'invalid_signal: severty is not a known field (known: external_id, type, title, severity, confidence, subject, ' +
        'observed_time, tags, secret)',
      { field: 'severty' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p[SECRET] = 1)),
      'invalid_signal: (unnamed field) is not a known field (known: external_id, type, title, severity, confidence, ' +
        'subject, observed_time, tags, secret)',
      { field: '(unnamed field)' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.subject.phone = '+1')),
      'invalid_signal: subject.phone is not a known field (known: user_id, email, upn, username)',
      { field: 'subject.phone' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => delete p.subject),
      'invalid_signal: subject is required (send {} when the alert names no user)',
      { field: 'subject' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.severity = 'urgent')),
      'invalid_signal: severity must be one of info, low, medium, high, critical',
      { field: 'severity' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.confidence = '0.8')),
      'invalid_signal: confidence must be a number between 0 and 1',
      { field: 'confidence' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.confidence = 80)),
      'invalid_signal: confidence must be a number between 0 and 1',
      { field: 'confidence' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.subject.upn = 'alice')),
      'invalid_signal: subject.upn must look like name@domain',
      { field: 'subject.upn' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.subject.username = '  ')),
      'invalid_signal: subject.username must not be empty',
      { field: 'subject.username' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.tags = Array.from({ length: 33 }, (_, i) => `t${i}`))),
      'invalid_signal: tags must hold at most 32 tags',
      { field: 'tags' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.tags = ['ok', 7])),
      'invalid_signal: tags[1] must be a string, not a number',
      { field: 'tags[1]' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.title = 't'.repeat(501))),
      'invalid_signal: title must be at most 500 characters',
      { field: 'title' },
    );
    expectInvalid(
      'canonical',
      variant(base, (p) => (p.external_id = '')),
      'invalid_signal: external_id is required',
      { field: 'external_id' },
    );
  });

  it('refuses an unknown format', () => {
    expectInvalid(
      'syslog' as IntakeFormat,
      {},
      'invalid_signal: format must be one of canonical, ocsf, ecs, splunk, azure',
      { field: 'format' },
    );
  });
});

describe('INVALID_SIGNAL: resolves and closes are not signals', () => {
  const resolved = (field: string, state: string) =>
    [
      `invalid_signal: resolved or closed alerts are not accepted (${field} is ${state})`,
      { field, reason: 'resolved' },
    ] as const;

  it('refuses OCSF Close activities and resolved, archived or deleted findings', () => {
    const base = 'ocsf-2004-impossible-travel.json';
    expectInvalid(
      'ocsf',
      variant(base, (p) => ((p.activity_id = 3), (p.type_uid = 200403))),
      ...resolved('activity_id', '3 (Close)'),
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (delete p.activity_id, (p.type_uid = 200403))),
      ...resolved('activity_id', '3 (Close)'),
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.status_id = 4)),
      ...resolved('status_id', '4 (Resolved)'),
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.status_id = 5)),
      ...resolved('status_id', '5 (Archived)'),
    );
    expectInvalid(
      'ocsf',
      variant(base, (p) => (p.status_id = 6)),
      ...resolved('status_id', '6 (Deleted)'),
    );
    expect(
      mapSignal(
        'ocsf',
        variant(base, (p) => (p.status_id = 3)),
        NOW,
      ).severity,
    ).toBe('high'); // Suppressed is still a finding
  });

  it('refuses closed or recovered Elastic alerts', () => {
    expectInvalid(
      'ecs',
      variant('ecs-kibana-credential-access.json', (p) => (p['kibana.alert.workflow_status'] = 'closed')),
      ...resolved('kibana.alert.workflow_status', 'closed'),
    );
    expectInvalid(
      'ecs',
      variant('ecs-kibana-webhook-context-alerts.json', (p) => (p.context.alerts[0].kibana.alert.status = 'recovered')),
      ...resolved('kibana.alert.status', 'recovered'),
    );
  });

  it('refuses Azure alerts whose monitor condition is Resolved', () => {
    expectInvalid(
      'azure',
      variant('azure-common-log-alert.json', (p) => (p.data.essentials.monitorCondition = 'Resolved')),
      ...resolved('data.essentials.monitorCondition', 'Resolved'),
    );
  });
});

describe('INVALID_SIGNAL never echoes a value', () => {
  it('names the field but not what was in it, in the description, the metadata and the log detail', () => {
    const cases: Array<[IntakeFormat, unknown]> = [
      ['ocsf', variant('ocsf-2004-impossible-travel.json', (p) => (p.time = SECRET))],
      [
        'ecs',
        variant(
          'ecs-kibana-credential-access.json',
          (p) => ((p['@timestamp'] = SECRET), delete p['kibana.alert.original_time']),
        ),
      ],
      ['splunk', variant('splunk-webhook-brute-force.json', (p) => (p.result._time = SECRET))],
      ['azure', variant('azure-common-log-alert.json', (p) => (p.schemaId = SECRET))],
      ['canonical', variant('canonical-basic.json', (p) => (p.severity = SECRET))],
      ['canonical', variant('canonical-basic.json', (p) => (p.subject = { [SECRET]: 'x' }))],
    ];
    for (const [format, payload] of cases) {
      const error = caught(() => mapSignal(format, payload, NOW));
      expect(JSON.stringify([error.message, error.description, error.detail, error.metadata])).not.toContain('s3cr3t');
    }
  });
});
