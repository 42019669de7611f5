/**
 * A playbook as a document: its JSON Schema (published at /v1/schemas/playbook.json and in the OpenAPI
 * document), parsing from YAML or JSON, linting, and the content hash that versions it.
 *
 * A playbook matches signals (source, type, minimum severity and confidence, tags, the subject's groups
 * and roles) and chooses an action (`suspend`; `notify` only; or on a leaked secret's owner, response/nhi.ts:
 * `disable_app`, `rotate_secret`, `revoke_tokens`), a mode (`auto`, or `approval` by N people), an optional
 * restore-after, its dedup window and an optional blast-radius cap of its own. The highest-priority match wins.
 */
import { createHash } from 'node:crypto';
import { Type, type Static } from 'typebox';
import { Compile } from 'typebox/compile';
import { parse as parseYaml } from 'yaml';
import { canonicalJson } from '../audit/jcs.js';
import type { NhiAction } from '../storage/schema.js';
import { SEVERITIES, type Severity } from './intake/signal.js';

/** A duration as playbooks and the CLI write it: 30s, 10m, 4h, 7d. */
export const DURATION = '^[1-9][0-9]{0,6}[smhd]$';
const Duration = (description: string) =>
  Type.String({ pattern: DURATION, description: `${description} (e.g. 30s, 10m, 4h, 7d)` });
const SeveritySchema = Type.Union(SEVERITIES.map((s) => Type.Literal(s)));
const RoleSchema = Type.Union([Type.Literal('OWNER'), Type.Literal('ADMIN'), Type.Literal('MEMBER')]);
const Names = (max: number, description: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 200 }), { maxItems: max, description });

/**
 * A blast-radius cap is a set of slot rows (store/automation.ts), so it is bounded; 10,000 suspensions in a window is
 * no brake anyway.
 */
export const MAX_BREAKER_ACTIONS = 10_000;

export const PLAYBOOK_NAME = '^[a-z0-9][a-z0-9-]{0,62}$';

export const PlaybookSchema = Type.Object(
  {
    name: Type.String({
      pattern: PLAYBOOK_NAME,
      description: 'lowercase letters, digits and dashes; the playbook’s identity across versions',
    }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    enabled: Type.Optional(Type.Boolean({ description: 'default true; a disabled playbook matches nothing' })),
    priority: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 1_000_000,
        description: 'default 100; the highest-priority matching playbook wins',
      }),
    ),
    match: Type.Object(
      {
        sources: Type.Optional(Names(50, 'source ids (or app:<client_id>); any source when absent')),
        types: Type.Optional(Names(100, 'signal types; an entry ending in * matches a prefix; any type when absent')),
        min_severity: Type.Optional(SeveritySchema),
        min_confidence: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
        tags: Type.Optional(Names(32, 'every one of these tags must be on the signal')),
        subject: Type.Optional(
          Type.Object(
            {
              groups: Type.Optional(Names(100, 'the subject is in at least one of these groups (names or ids)')),
              roles: Type.Optional(
                Type.Array(RoleSchema, { maxItems: 3, description: 'the subject has one of these roles' }),
              ),
            },
            { additionalProperties: false },
          ),
        ),
      },
      { additionalProperties: false },
    ),
    action: Type.Union(
      [
        Type.Literal('suspend'),
        Type.Literal('notify'),
        Type.Literal('disable_app'),
        Type.Literal('rotate_secret'),
        Type.Literal('revoke_tokens'),
      ],
      {
        description:
          'suspend (a user), notify (record only), or, for a leaked secret’s app, source or session: ' +
          'disable_app, rotate_secret, revoke_tokens',
      },
    ),
    mode: Type.Optional(
      Type.Union([Type.Literal('auto'), Type.Literal('approval')], { description: 'default approval' }),
    ),
    approvals: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 5, description: 'distinct people needed in approval mode (default 1)' }),
    ),
    restore_after: Type.Optional(
      Duration('reactivate the subject this long after the suspension, under the restore policy'),
    ),
    approval_expires_after: Type.Optional(
      Duration(
        'how long a plan of this playbook waits for its approvals before it expires (default ' +
          'CORDON_APPROVAL_TTL_SECONDS; 1m to 7d)',
      ),
    ),
    lock: Type.Optional(
      Type.Boolean({
        description:
          "while the containment is open, the Users API's :reactivate is refused unless the app holds " +
          'containments:release (default true)',
      }),
    ),
    dedup_window: Type.Optional(Duration('one open plan per subject and playbook within this window (default 1h)')),
    targets: Type.Optional(
      Type.Union(
        [
          Type.Literal('all'),
          Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 50, uniqueItems: true }),
        ],
        {
          description:
            "where a suspension acts besides Cordon's own directory (always acted on; `cordon` may be named): " +
            '`all` enabled targets (default), or these targets by name; applying a playbook that names a target ' +
            'the account does not have is refused',
        },
      ),
    ),
    breaker: Type.Optional(
      Type.Object(
        {
          max_actions: Type.Integer({ minimum: 1, maximum: MAX_BREAKER_ACTIONS }),
          window: Duration('the sliding window the cap counts over'),
        },
        { additionalProperties: false, description: "this playbook's own blast-radius cap, besides the account's" },
      ),
    ),
  },
  { additionalProperties: false, title: 'Playbook', $id: 'https://cordon.invalid/schemas/playbook.json' },
);

export type PlaybookDocument = Static<typeof PlaybookSchema>;

/** A playbook with its defaults applied, as the engine uses it. */
export interface Playbook {
  name: string;
  version: number;
  contentHash: string;
  enabled: boolean;
  priority: number;
  match: PlaybookDocument['match'];
  action: PlaybookDocument['action'];
  mode: 'auto' | 'approval';
  approvals: number;
  restoreAfterSeconds: number | null;
  /** How long its plans wait for approvals (null: CORDON_APPROVAL_TTL_SECONDS). */
  approvalTtlSeconds: number | null;
  /** The containment this playbook's suspensions open holds against :reactivate (containments:release aside). */
  lock: boolean;
  dedupWindowSeconds: number;
  breaker: { maxActions: number; windowSeconds: number } | null;
  /** The remote targets its suspensions act on: every enabled one, or those named. */
  targets: 'all' | string[];
  /**
   * Whether its suspensions may reach OWNERs and ADMINs: only when the operator or a current OWNER
   * applied this version (an ADMIN manages MEMBERs only, and a playbook never does more than its author).
   */
  reachesAdmins?: boolean;
}

export interface LintProblem {
  /** JSON pointer into the document ('' for the whole). */
  path: string;
  message: string;
}

/**
 * The schema's validator, compiled on first use rather than at import: compiling it is a good part of a
 * CLI command's start (every command loads this module), and most commands lint no playbook.
 */
const compileSchema = () => Compile(PlaybookSchema);
let compiled: ReturnType<typeof compileSchema> | undefined;

/** Seconds in a duration written as the schema's pattern allows. */
export function durationSeconds(text: string): number {
  const unit = { s: 1, m: 60, h: 3600, d: 86_400 }[text.slice(-1) as 's' | 'm' | 'h' | 'd'];
  return Number(text.slice(0, -1)) * unit;
}

/** Parses playbook files' text: JSON, or YAML (of which JSON is a subset); one document or a list. */
export function parsePlaybookText(text: string): unknown[] {
  let value: unknown;
  try {
    value = parseYaml(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (error) {
    throw new PlaybookTextError(`not YAML or JSON: ${(error as Error).message.split('\n')[0]}`);
  }
  return Array.isArray(value) ? value : [value];
}

export class PlaybookTextError extends Error {}

/** Everything wrong with a playbook document: its schema first, then the rules the schema cannot say. */
export function lintPlaybook(document: unknown): LintProblem[] {
  const check = (compiled ??= compileSchema());
  if (!check.Check(document)) return schemaProblems([...check.Errors(document)]);
  const problems: LintProblem[] = [];
  const mode = document.mode ?? 'approval';
  if (document.approvals !== undefined && mode !== 'approval')
    problems.push({ path: '/approvals', message: 'approvals only apply in approval mode' });
  // A restore-after, a lock and remote targets are a suspension's: notify and the NHI actions suspend nobody.
  if (document.action !== 'suspend')
    for (const key of ['restore_after', 'lock', 'targets'] as const)
      if (document[key] !== undefined)
        problems.push({ path: `/${key}`, message: `applies to suspend only: ${document.action} suspends nobody` });
  if (document.approval_expires_after !== undefined) {
    const seconds = durationSeconds(document.approval_expires_after);
    if (document.action === 'notify')
      problems.push({ path: '/approval_expires_after', message: 'a notify playbook asks for no approval' });
    else if (seconds < 60 || seconds > 604_800)
      problems.push({ path: '/approval_expires_after', message: 'must be from 1m to 7d' });
  }
  if (document.action === 'notify' && document.mode !== undefined)
    problems.push({ path: '/mode', message: 'a notify playbook takes no mode: it only records' });
  if (isNhiAction(document.action) && document.match.subject !== undefined)
    problems.push({ path: '/match/subject', message: `${document.action} acts on a non-human identity` });
  if (document.action === 'suspend' && document.mode === 'auto' && matchesEverything(document.match)) {
    problems.push({
      path: '/match',
      message:
        'an auto-mode suspend playbook must narrow its match (a source, type, severity, confidence, tag or subject)',
    });
  }
  return problems;
}

/**
 * Schema errors as a person reads them: one problem per place, a union of constants said as "must be
 * one of …" rather than once per constant.
 */
export function schemaProblems(
  errors: Array<{ keyword: string; instancePath: string; message: string; params: unknown }>,
): LintProblem[] {
  const byPath = new Map<string, typeof errors>();
  for (const e of errors)
    if (e.keyword !== 'boolean') byPath.set(e.instancePath, [...(byPath.get(e.instancePath) ?? []), e]);
  const problems: LintProblem[] = [];
  for (const [path, found] of byPath) {
    const allowed = found
      .filter((e) => e.keyword === 'const')
      .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
    if (allowed.length > 0 && found.some((e) => e.keyword === 'anyOf'))
      problems.push({ path, message: `must be one of ${allowed.join(', ')}` });
    else for (const message of new Set(found.map((e) => e.message))) problems.push({ path, message });
  }
  return problems.slice(0, 20);
}

function matchesEverything(match: PlaybookDocument['match']): boolean {
  return (
    !match.sources?.length &&
    !match.types?.length &&
    match.min_severity === undefined &&
    match.min_confidence === undefined &&
    !match.tags?.length &&
    !match.subject?.groups?.length &&
    !match.subject?.roles?.length
  );
}

/** The actions on a non-human identity (response/nhi.ts). */
const NHI: readonly string[] = ['disable_app', 'rotate_secret', 'revoke_tokens'] satisfies NhiAction[];
export const isNhiAction = (action: string): action is NhiAction => NHI.includes(action);

/** The content hash that versions a playbook (or a policy): SHA-256 of its RFC 8785 canonical JSON. */
export function contentHash(document: unknown): string {
  return createHash('sha256').update(canonicalJson(document)).digest('hex');
}

/** The playbook as the engine uses it, from a stored (valid) document. */
export function toPlaybook(document: PlaybookDocument, version: number, hash: string): Playbook {
  const mode = document.action === 'notify' ? 'auto' : (document.mode ?? 'approval');
  return {
    name: document.name,
    version,
    contentHash: hash,
    enabled: document.enabled ?? true,
    priority: document.priority ?? 100,
    match: document.match,
    action: document.action,
    mode,
    approvals: mode === 'approval' ? (document.approvals ?? 1) : 0,
    restoreAfterSeconds: document.restore_after ? durationSeconds(document.restore_after) : null,
    approvalTtlSeconds: document.approval_expires_after ? durationSeconds(document.approval_expires_after) : null,
    lock: document.lock ?? true,
    dedupWindowSeconds: durationSeconds(document.dedup_window ?? '1h'),
    breaker: document.breaker
      ? { maxActions: document.breaker.max_actions, windowSeconds: durationSeconds(document.breaker.window) }
      : null,
    targets: document.targets ?? 'all',
  };
}

export function severityAtLeast(severity: Severity, min: Severity): boolean {
  return SEVERITIES.indexOf(severity) >= SEVERITIES.indexOf(min);
}
