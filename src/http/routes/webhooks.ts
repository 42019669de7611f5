/**
 * Webhook subscriptions, for signed-in OWNER and ADMIN users of the account in the path (the local
 * operator counts as an OWNER): create (the answer carries the signing secret, the only time it is
 * shown), list, read, remove, enable again after the worker disabled one, and the delivery log.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import type { Core } from '../../core.js';
import {
  createWebhook,
  enableWebhook,
  getWebhook,
  listWebhooks,
  MAX_URL_LENGTH,
  removeWebhook,
  webhookDeliveries,
} from '../../notify/subscriptions.js';
import { WEBHOOK_EVENTS } from '../../notify/events.js';
import { auditRefusals } from '../audited-calls.js';
import { ADMIN_ROLES, requireSession } from '../guards/session.js';
import { IdSchema, RpcStatusSchema } from '../schemas.js';
import {
  DeliverySchema,
  deliveryView,
  WebhookCreatedSchema,
  WebhookEventSchema,
  WebhookSchema,
  webhookView,
} from '../views/webhooks.js';

const Errors = { 400: RpcStatusSchema, 401: RpcStatusSchema, 403: RpcStatusSchema, 404: RpcStatusSchema };
const AccountParams = Type.Object({ account: IdSchema });
const WebhookParams = Type.Object({ account: IdSchema, webhook: IdSchema });
const NewWebhook = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: MAX_URL_LENGTH,
      description: 'https (http only on a loopback address), with no credentials in it',
    }),
    events: Type.Array(WebhookEventSchema, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true }),
    format: Type.Optional(
      Type.Union([Type.Literal('standard'), Type.Literal('slack')], { description: 'default standard' }),
    ),
  },
  { additionalProperties: false },
);
const DeliveriesQuery = Type.Object(
  { page_size: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'default 50' })) },
  { additionalProperties: false },
);

export function webhooksRoutes(app: FastifyInstance, core: Core): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const admin = requireSession(core, ADMIN_ROLES);
  const audited = auditRefusals(core);
  const base = '/v1/accounts/:account/webhooks';
  // AIP-136 custom methods (`…/webhooks/{w}:enable`): the parameter's pattern stops at the colon.
  const one = `${base}/:webhook(^[^:/]+)`;
  const tags = ['webhooks'];

  r.post(
    base,
    {
      preHandler: admin,
      ...audited('webhook.create'),
      schema: {
        summary: 'Subscribe a receiver to events (the answer carries its signing secret, shown only this once)',
        tags,
        params: AccountParams,
        body: NewWebhook,
        response: { 201: WebhookCreatedSchema, ...Errors },
      },
    },
    async (request, reply) => {
      const { webhook, secret } = await createWebhook(core.notify, request.human!.ctx, request.params.account, {
        url: request.body.url,
        events: request.body.events,
        format: request.body.format,
      });
      reply.status(201);
      return { webhook: webhookView(webhook, true), secret };
    },
  );

  r.get(
    base,
    {
      preHandler: admin,
      schema: {
        summary: "List the account's webhook subscriptions",
        tags,
        params: AccountParams,
        response: { 200: Type.Object({ webhooks: Type.Array(WebhookSchema) }), ...Errors },
      },
    },
    async (request) => ({
      webhooks: (await listWebhooks(core.notify, request.params.account)).map((w) => webhookView(w)),
    }),
  );

  r.get(
    one,
    {
      preHandler: admin,
      schema: {
        summary: 'One webhook subscription',
        tags,
        params: WebhookParams,
        response: { 200: WebhookSchema, ...Errors },
      },
    },
    async (request) => webhookView(await getWebhook(core.notify, request.params.account, request.params.webhook)),
  );

  r.delete(
    one,
    {
      preHandler: admin,
      ...audited('webhook.remove'),
      schema: {
        summary: 'Remove a webhook subscription: its deliveries still to go are dropped',
        tags,
        params: WebhookParams,
        response: { 204: Type.Null(), ...Errors },
      },
    },
    async (request, reply) => {
      await removeWebhook(core.notify, request.human!.ctx, request.params.account, request.params.webhook);
      reply.status(204);
      return null;
    },
  );

  r.post(
    `${one}::enable`,
    {
      preHandler: admin,
      ...audited('webhook.enable'),
      schema: {
        summary: 'Enable a subscription again (after failures disabled it); its failure count starts over',
        tags,
        params: WebhookParams,
        response: { 200: WebhookSchema, ...Errors },
      },
    },
    async (request) =>
      webhookView(await enableWebhook(core.notify, request.human!.ctx, request.params.account, request.params.webhook)),
  );

  r.get(
    `${one}/deliveries`,
    {
      preHandler: admin,
      schema: {
        summary: "The subscription's delivery log: its latest deliveries, newest first, with every attempt",
        tags,
        params: WebhookParams,
        querystring: DeliveriesQuery,
        response: { 200: Type.Object({ deliveries: Type.Array(DeliverySchema) }), ...Errors },
      },
    },
    async (request) => {
      const { account, webhook } = request.params;
      const rows = await webhookDeliveries(core.notify, account, webhook, request.query.page_size ?? 50);
      return { deliveries: rows.map(deliveryView) };
    },
  );
}
