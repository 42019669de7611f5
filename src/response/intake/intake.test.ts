import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type IntakeFormat, mapSignal } from './index.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../../test/fixtures/signals');
const NOW = new Date('2025-03-14T09:26:53.000Z');

const load = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path.join(FIXTURES, name), 'utf8')) as Record<string, unknown>;
const formatOf = (name: string) => name.split('-')[0] as IntakeFormat;
const samples = readdirSync(FIXTURES).filter((name) => name.endsWith('.json') && !name.endsWith('.expected.json'));

describe('intake fixtures', () => {
  it('has at least two realistic samples per SIEM format, each with its expected result', () => {
    for (const format of ['ocsf', 'ecs', 'splunk', 'azure'])
      expect(samples.filter((name) => formatOf(name) === format).length).toBeGreaterThanOrEqual(2);
    for (const name of samples) expect(readdirSync(FIXTURES)).toContain(name.replace(/\.json$/, '.expected.json'));
  });

  it.each(samples)('%s maps to exactly its .expected.json', (name) => {
    expect(mapSignal(formatOf(name), load(name), NOW)).toStrictEqual(load(name.replace(/\.json$/, '.expected.json')));
  });
});

/** A fixture with a change applied to a copy. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a vendor payload, edited in place at any depth
function variant(name: string, change: (payload: any) => void): unknown {
  const payload = structuredClone(load(name));
  change(payload);
  return payload;
}

describe('OCSF detection finding', () => {
  const base = 'ocsf-2004-impossible-travel.json';

  it('maps severity_id 1..6 and falls back to medium for 0, 99 and absence', () => {
    const cases: Array<[unknown, string]> = [
      [1, 'info'],
      [2, 'low'],
      [3, 'medium'],
      [4, 'high'],
      [5, 'critical'],
      [6, 'critical'],
      [0, 'medium'],
      [99, 'medium'],
      [undefined, 'medium'],
    ];
    for (const [id, severity] of cases)
      expect(
        mapSignal(
          'ocsf',
          variant(base, (p) => (p.severity_id = id)),
          NOW,
        ).severity,
      ).toBe(severity);
  });

  it('takes confidence_score over confidence_id, and maps the ids Low/Medium/High to .3/.6/.9', () => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a vendor payload, edited in place at any depth
    const confidence = (change: (p: any) => void) => mapSignal('ocsf', variant(base, change), NOW).confidence;
    expect(confidence(() => {})).toBe(0.85);
    expect(confidence((p) => delete p.confidence_score)).toBe(0.9);
    expect(confidence((p) => ((p.confidence_score = undefined), (p.confidence_id = 1)))).toBe(0.3);
    expect(confidence((p) => ((p.confidence_score = null), (p.confidence_id = 99)))).toBe(0.5);
  });

  it('falls back for type and title, and to metadata.uid for the id', () => {
    const mapped = mapSignal(
      'ocsf',
      variant(base, (p) => {
        delete p.finding_info.analytic;
        delete p.finding_info.title;
        delete p.finding_info.uid;
      }),
      NOW,
    );
    expect(mapped).toMatchObject({
      external_id: '7a0c55d2-1e0b-4b8e-a3c1-5f2d9e6b7a41',
      type: 'Impossible Travel',
      title: 'Impossible Travel',
    });
    const bare = mapSignal(
      'ocsf',
      variant(base, (p) => ((p.finding_info = { uid: 'x-1' }), delete p.time)),
      NOW,
    );
    expect(bare).toMatchObject({
      type: 'ocsf.detection_finding',
      title: 'ocsf.detection_finding',
      tags: [],
      observed_time: NOW.toISOString(),
    });
  });

  it("takes the first evidence that names a user (its user, else its actor's), then a user-type resource", () => {
    const withTarget = variant(base, (p) => (p.evidences[1].user = { uid: 'S-1-5-21-1', name: 'CORP\\svc-backup' }));
    // evidences[0] has only an actor; evidences[1] has both: the scan goes evidence by evidence.
    expect(mapSignal('ocsf', withTarget, NOW).subject).toEqual({
      user_id: '00u8x2kq4hTGdPqZ5d7',
      email: 'ada.lovelace@example.com',
      upn: 'ada.lovelace@example.com',
    });
    const resourceOnly = variant(base, (p) => {
      p.evidences = [{ src_endpoint: { ip: '203.0.113.54' } }];
      p.resources = [
        { type: 'Host', name: 'ws-1' },
        { type: 'AWS::IAM::User', uid: 'AIDAEXAMPLE', name: 'deploy-bot' },
      ];
    });
    expect(mapSignal('ocsf', resourceOnly, NOW).subject).toEqual({ user_id: 'AIDAEXAMPLE', username: 'deploy-bot' });
  });

  it('uses finding_info.created_time when time is absent', () => {
    expect(
      mapSignal(
        'ocsf',
        variant(base, (p) => delete p.time),
        NOW,
      ).observed_time,
    ).toBe('2025-03-14T07:59:55.000Z');
  });
});

describe('ECS / Kibana alert', () => {
  const flat = 'ecs-kibana-credential-access.json';

  it('derives severity from the risk score when no severity is given (Elastic defaults 21/47/73/99)', () => {
    const severity = (score: number | undefined) =>
      mapSignal(
        'ecs',
        variant(flat, (p) => {
          delete p['kibana.alert.severity'];
          delete p['kibana.alert.rule.severity'];
          delete p['kibana.alert.rule.risk_score'];
          p['kibana.alert.risk_score'] = score;
        }),
        NOW,
      );
    expect([21, 47, 73, 99].map((score) => severity(score).severity)).toEqual(['low', 'medium', 'high', 'critical']);
    expect(severity(21).confidence).toBe(0.21);
    expect(severity(undefined)).toMatchObject({ severity: 'medium', confidence: 0.5 });
  });

  it('reads a single alert, the search API fields form and mixed dotted/nested keys alike', () => {
    const fieldsForm = variant(flat, (p) => {
      for (const key of Object.keys(p))
        if (key.startsWith('kibana.') || key.startsWith('user.'))
          p[key] = [p[key]].flat().length === 1 ? [p[key]].flat() : p[key];
    });
    expect(mapSignal('ecs', fieldsForm, NOW)).toStrictEqual(mapSignal('ecs', load(flat), NOW));
    const mixed = {
      'kibana.alert': { uuid: 'a-1', 'rule.rule_id': 'r-1', rule: { name: 'R' } },
      user: { name: 'ops' },
    };
    expect(mapSignal('ecs', mixed, NOW)).toMatchObject({
      external_id: 'a-1',
      type: 'R',
      title: 'R',
      subject: { username: 'ops' },
      attributes: { rule_id: 'r-1' },
    });
  });

  it('falls back to _id, the rule uuid (type without a name, and rule_id), the reason and @timestamp', () => {
    const mapped = mapSignal(
      'ecs',
      variant(flat, (p) => {
        delete p['kibana.alert.uuid'];
        delete p['kibana.alert.rule.rule_id'];
        delete p['kibana.alert.rule.name'];
        delete p['kibana.alert.original_time'];
      }),
      NOW,
    );
    expect(mapped).toMatchObject({
      external_id: 'c0d6a8a3e27f4b7d9b8a6f5e4d3c2b1a0f9e8d7c6b5a49382716f5e4d3c2b1a0',
      type: '3d1f0c52-6b8e-11ef-9a2d-0242ac120002',
      attributes: {
        rule_id: '3d1f0c52-6b8e-11ef-9a2d-0242ac120002',
        rule_uuid: '3d1f0c52-6b8e-11ef-9a2d-0242ac120002',
      },
      title:
        'authentication event with source 203.0.113.77 by grace.hopper@example.com created high alert Successful ' +
        'Sign-in After Repeated MFA Failures.',
      observed_time: '2025-03-14T09:05:12.481Z',
    });
  });

  it('takes the one alert of an {alerts: […]} wrapper too', () => {
    const wrapped = { alerts: [load(flat)] };
    expect(mapSignal('ecs', wrapped, NOW)).toStrictEqual(mapSignal('ecs', load(flat), NOW));
  });
});

describe('Splunk webhook', () => {
  const base = 'splunk-webhook-brute-force.json';
  const result = (fields: Record<string, unknown>) =>
    mapSignal(
      'splunk',
      variant(base, (p) => (p.result = fields)),
      NOW,
    );

  it('maps severity or urgency names and defaults to medium', () => {
    expect(result({ severity: 'Informational' }).severity).toBe('info');
    expect(result({ urgency: 'low' }).severity).toBe('low');
    expect(result({ severity: 'unknown', urgency: 'critical' }).severity).toBe('critical');
    expect(result({}).severity).toBe('medium');
  });

  it('scales a 0..100 confidence and keeps a 0..1 one; else the risk score, capped at 100; else 0.5', () => {
    const given = ['0.4', '40', '1'].map((confidence) => ({ confidence }));
    const risk = [{ confidence: '0.9', risk_score: '20' }, { risk_score: '80' }, { risk_score: '280' }, {}];
    const confidences = [...given, ...risk].map((fields) => result(fields).confidence);
    expect(confidences).toEqual([0.4, 0.4, 1, 0.9, 0.8, 1, 0.5]);
  });

  it('prefers the acted-on user to the actor, and never files a non-address in email', () => {
    expect(result({ user: 'alice', src_user: 'helpdesk-admin' }).subject).toEqual({ username: 'alice' });
    expect(result({ src_user: 'helpdesk-admin@example.com' }).subject).toEqual({ upn: 'helpdesk-admin@example.com' });
    expect(result({ email: 'not an address', user_id: '1042' }).subject).toEqual({ user_id: '1042' });
    expect(result({ user: ['a', 'b'] }).subject).toEqual({});
  });

  it('reads _time as epoch seconds without float drift, and falls back to now', () => {
    expect(result({ _time: '1718012345.123' }).observed_time).toBe('2024-06-10T09:39:05.123Z');
    expect(result({ _time: '1718012345' }).observed_time).toBe('2024-06-10T09:39:05.000Z');
    expect(result({}).observed_time).toBe(NOW.toISOString());
  });

  it("falls back to a generic type when search_name is null, as in Splunk's own sample", () => {
    expect(
      mapSignal(
        'splunk',
        variant(base, (p) => (p.search_name = null)),
        NOW,
      ),
    ).toMatchObject({ type: 'splunk.alert', title: 'splunk.alert' });
  });
});

describe('Azure Monitor common alert schema', () => {
  const base = 'azure-common-log-alert.json';
  const sentinel = 'azure-common-sentinel-style.json';

  it('maps Sev0..Sev4', () => {
    const severities = ['Sev0', 'Sev1', 'Sev2', 'Sev3', 'Sev4', 'Sev9'].map(
      (sev) =>
        mapSignal(
          'azure',
          variant(base, (p) => (p.data.essentials.severity = sev)),
          NOW,
        ).severity,
    );
    expect(severities).toEqual(['critical', 'high', 'medium', 'low', 'info', 'medium']);
  });

  it('accepts the Sentinel-style dimension names', () => {
    const subject = (name: string, value: string) =>
      mapSignal(
        'azure',
        variant(
          base,
          (p) =>
            (p.data.alertContext.condition.allOf[0].dimensions = [
              { name: 'Computer', value: 'dc-01' },
              { name, value },
            ]),
        ),
        NOW,
      ).subject;
    expect(subject('AccountUpn', 'a@example.com')).toEqual({ upn: 'a@example.com' });
    expect(subject('Account', 'CORP\\alice')).toEqual({ username: 'CORP\\alice' });
    expect(subject('UserId', '0b1c')).toEqual({ user_id: '0b1c' });
    expect(subject('Computer2', 'x')).toEqual({});
  });

  it('prefers customProperties, then dimensions, then search results that agree on one user', () => {
    const noCustom = variant(sentinel, (p) => (p.data.customProperties = null));
    expect(mapSignal('azure', noCustom, NOW).subject).toEqual({ upn: 'k.johnson@example.com' });
    const mixedRows = variant(sentinel, (p) => {
      p.data.customProperties = null;
      p.data.alertContext.SearchResults.tables[0].rows[1][1] = 'someone.else@example.com';
    });
    expect(mapSignal('azure', mixedRows, NOW).subject).toEqual({});
    const legacyDimensions = variant(sentinel, (p) => {
      p.data.customProperties = { confidence: '70' };
      p.data.alertContext.Dimensions = [{ name: 'UserPrincipalName', value: 'dim.user@example.com' }];
    });
    expect(mapSignal('azure', legacyDimensions, NOW)).toMatchObject({
      subject: { upn: 'dim.user@example.com' },
      confidence: 0.7,
    });
  });
});
