/**
 * Signal intake and detection sources.
 *
 * - `POST /v1/accounts/{account}/signals`: canonical JSON from an OAuth app holding `signals:write`
 *   (the source is `app:<client_id>`).
 * - `POST /v1/accounts/{account}/sources/{source}/signals`: a registered source, in its format (OCSF
 *   2004, ECS/Kibana, Splunk webhook, Azure Monitor common schema, or canonical), authenticated its way.
 *   The body is read as bytes: an HMAC signature covers exactly what was sent.
 * - `POST /v1/accounts/{account}/signals:plan`: a dry run for people: the full plan, nothing written.
 * - Sources: register (the secret or URL token answered once), list, disable (OWNER / ADMIN).
 *
 * Every intake call is audited: a stored signal with its plan in the plan's transaction, a duplicate as
 * unchanged, and a refusal (unknown source, bad credentials, malformed payload) on its own.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { AppError } from '../../errors.js';
import { requestOrigin, requirePermission } from '../guards/app-token.js';
import { planSignal, receiveSignal, type Reception } from '../../response/engine.js';
import { mapSignal } from '../../response/intake/index.js';
import { INTAKE_FORMATS, invalidSignal, type IntakeFormat } from '../../response/intake/signal.js';
import {
  createSource,
  disableSignalSource,
  enabledSource,
  verifySignature,
  verifyUrlToken,
} from '../../response/sources.js';
import { findPlanOfSignal } from '../../store/plans.js';
import { findSignal, findSource, listSources, type SignalSource } from '../../store/signals.js';
import { auditRefusals, callerContext } from '../audited-calls.js';
import { APP_INTAKE, intakeMetrics, UNKNOWN_SOURCE } from '../intake-metrics.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import { DryRunSchema, PlanSchema, dryRunView, planView } from '../views/plans.js';
import {
  ReceptionSchema,
  receptionView,
  SignalSchema,
  signalView,
  SourceSchema,
  sourceView,
} from '../views/signals.js';

const Errors = {
  400: RpcStatusSchema,
  401: RpcStatusSchema,
  403: RpcStatusSchema,
  404: RpcStatusSchema,
  409: RpcStatusSchema,
  413: RpcStatusSchema,
};
const AccountParams = Type.Object({ account: IdSchema });
const SourceParams = Type.Object({ account: IdSchema, source: IdSchema });
const FormatSchema = Type.Union(INTAKE_FORMATS.map((f) => Type.Literal(f)));
const NewSourceBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    format: FormatSchema,
    auth: Type.Union([Type.Literal('oauth'), Type.Literal('hmac'), Type.Literal('url_token')]),
    client_id: Type.Optional(
      Type.String({ maxLength: 100, description: 'oauth only: the one app allowed to post here' }),
    ),
    default_confidence: Type.Optional(
      Type.Number({
        minimum: 0,
        maximum: 1,
        description: "the confidence of this source's alerts that carry none (default: the format's, 0.5)",
      }),
    ),
  },
  { additionalProperties: false },
);
const DryRunBody = Type.Object(
  {
    format: Type.Optional(FormatSchema),
    source_id: Type.Optional(
      Type.String({ maxLength: 200, description: 'the source the signal would come from (playbooks may match on it)' }),
    ),
    signal: Type.Unknown({ description: 'the payload, in `format` (canonical by default)' }),
  },
  { additionalProperties: false },
);

function answer(reply: FastifyReply, reception: Reception) {
  reply.header('server-timing', reception.timings.map(([name, ms]) => `${name};dur=${ms.toFixed(2)}`).join(', '));
  return receptionView(reception);
}

export function signalsRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const audited = auditRefusals(core);
  const intake = intakeMetrics(core);
  const admin = requireSession(core, ADMIN_ROLES);
  const tags = ['signals'];
  const base = '/v1/accounts/:account';

  r.post(
    `${base}/signals`,
    {
      preValidation: requirePermission(core, 'signals:write'),
      ...intake.hooks(audited('signal.receive'), APP_INTAKE),
      schema: {
        summary: 'Submit a signal in canonical JSON (apps holding signals:write)',
        tags,
        params: AccountParams,
        body: Type.Unknown({ description: 'a canonical signal' }),
        response: { 200: ReceptionSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const { principal } = request;
      const signal = mapSignal('canonical', request.body);
      const reception = await receiveSignal(core.response, {
        accountId: request.params.account,
        sourceId: `app:${principal!.claims.client_id}`,
        signal,
        rawText: JSON.stringify(request.body),
        ctx: principal!.ctx,
      });
      intake.received(request, reception.duplicate, APP_INTAKE);
      return answer(reply, reception);
    },
  );

  // A registered source's endpoint reads its body as bytes (the signature covers them), in its own
  // encapsulated context so that no other route loses the JSON parser.
  void app.register(async (child) => {
    child.removeAllContentTypeParsers();
    child.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const bearer = requirePermission(core, 'signals:write');
    child.withTypeProvider<TypeBoxTypeProvider>().post(
      `${base}/sources/:source/signals`,
      {
        ...intake.hooks(audited('signal.receive'), UNKNOWN_SOURCE),
        schema: {
          summary: "Submit a signal to a registered source, in the source's format and with its authentication",
          description:
            'oauth sources: `Authorization: Bearer`; hmac sources: `X-Cordon-Timestamp` (Unix seconds) and ' +
            '`X-Cordon-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, within 5 minutes, each ' +
            'signature once; url_token sources (Splunk): `?token=`.',
          tags,
          params: SourceParams,
          querystring: Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }),
          body: Type.Unknown(),
          response: { 200: ReceptionSchema, ...Errors },
        },
      },
      async (request, reply) => {
        const { account, source: sourceId } = request.params;
        const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const source = await enabledSource(core.database.db, account, sourceId);
        intake.source(request, source);
        await authenticateSource(source, request, body);
        let payload: unknown;
        try {
          payload = JSON.parse(body.toString('utf8'));
        } catch {
          throw invalidSignal('body', 'must be a JSON document');
        }
        const signal = mapSignal(source.format, payload, new Date(), source.default_confidence ?? undefined);
        const reception = await receiveSignal(core.response, {
          accountId: account,
          sourceId: source.id,
          signal,
          rawText: body.toString('utf8'),
          ctx: callerContext(request),
        });
        intake.received(request, reception.duplicate, UNKNOWN_SOURCE);
        return answer(reply, reception);
      },
    );

    async function authenticateSource(source: SignalSource, request: FastifyRequest, body: Buffer): Promise<void> {
      if (source.auth === 'oauth') {
        await bearer(request);
        if (source.client_id !== null && source.client_id !== request.principal!.claims.client_id) {
          throw new AppError('PERMISSION_DENIED', { description: 'this source takes signals from another app' });
        }
        return;
      }
      const authz = { method: source.auth, source_id: source.id, ...requestOrigin(request) };
      if (source.auth === 'hmac') {
        const header = (name: string) =>
          typeof request.headers[name] === 'string' ? request.headers[name] : undefined;
        await verifySignature(core.response, source, {
          timestamp: header('x-cordon-timestamp'),
          signature: header('x-cordon-signature'),
          body,
        });
      } else {
        verifyUrlToken(source, (request.query as { token?: string }).token);
      }
      request.source = { ctx: { actor: { type: 'source', id: source.id }, authz } };
    }
  });

  r.post(
    `${base}/signals::plan`,
    {
      preValidation: admin,
      schema: {
        summary: 'Dry run: the plan a signal would get, with every verdict; writes nothing, changes nothing',
        tags,
        params: AccountParams,
        body: DryRunBody,
        response: { 200: DryRunSchema, ...Errors },
      },
    },
    async (request) => {
      const format: IntakeFormat = request.body.format ?? 'canonical';
      // A registered source's own default confidence applies to the dry run as to its intake.
      const { source_id: sourceId } = request.body;
      const source =
        sourceId !== undefined && /^[A-Z2-7]{26}$/.test(sourceId)
          ? await findSource(core.database.db, request.params.account, sourceId)
          : undefined;
      const signal = mapSignal(format, request.body.signal, new Date(), source?.default_confidence ?? undefined);
      return dryRunView(
        await planSignal(core.response, request.params.account, request.body.source_id ?? 'dry-run', signal),
      );
    },
  );

  r.get(
    `${base}/signals/:signal`,
    {
      preValidation: admin,
      schema: {
        summary: 'A signal and its plan',
        tags,
        params: Type.Object({ account: IdSchema, signal: IdSchema }),
        response: {
          200: Type.Object({ signal: SignalSchema, plan: Type.Union([PlanSchema, Type.Null()]) }),
          ...Errors,
        },
      },
    },
    async (request) => {
      const { account, signal: id } = request.params;
      const signal = await findSignal(core.database.db, account, id);
      if (!signal) throw new AppError('SIGNAL_NOT_FOUND', { metadata: { signal_id: id } });
      const plan = await findPlanOfSignal(core.database.db, account, id);
      return { signal: signalView(signal), plan: plan ? planView(plan) : null };
    },
  );

  const sources = `${base}/sources`;
  r.post(
    sources,
    {
      preValidation: admin,
      ...audited('source.create'),
      schema: {
        summary: 'Register a detection source; an hmac secret or URL token is answered once',
        tags,
        params: AccountParams,
        body: NewSourceBody,
        response: {
          200: Type.Object({
            source: SourceSchema,
            secret: Type.Optional(Type.String({ description: 'shown once: the HMAC secret or the URL token' })),
          }),
          ...Errors,
        },
      },
    },
    async (request, reply) => {
      const { source, secret } = await createSource(
        core.response,
        callerContext(request),
        request.params.account,
        request.body,
      );
      reply.header('cache-control', 'no-store');
      return { source: sourceView(source, core.issuer), ...(secret ? { secret } : {}) };
    },
  );
  r.get(
    sources,
    {
      preValidation: admin,
      schema: {
        summary: 'Detection sources',
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ sources: Type.Array(SourceSchema) }), ...Errors },
      },
    },
    async (request) => ({
      sources: (await listSources(core.database.db, request.params.account)).map((s) => sourceView(s, core.issuer)),
    }),
  );
  r.post(
    `${sources}/:source(^[^:]+)::disable`,
    {
      preValidation: admin,
      ...audited('source.disable'),
      schema: {
        summary: 'Disable a source: its credentials stop working at once',
        tags,
        params: SourceParams,
        response: { 200: SourceSchema, ...Errors },
      },
    },
    async (request) =>
      sourceView(
        await disableSignalSource(core.response, callerContext(request), request.params.account, request.params.source),
        core.issuer,
      ),
  );
}
