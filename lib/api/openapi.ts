// Builds the OpenAPI 3.1 document from the zod schemas the handlers validate with, so it cannot drift.
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  accountIdSchema,
  adminListSchema,
  remindersSchema,
  sweepStartSchema,
  auditSchema,
  bannerSchema,
  errorBodySchema,
  healthSchema,
  mpnBodySchema,
  preflightSchema,
  startBodySchema,
  statusSchema,
  workEmailBodySchema,
  attestBodySchema,
  checklistSchema,
  checklistStartSchema,
  offerIdSchema,
} from './schemas.js';

type Document = ReturnType<OpenApiGeneratorV31['generateDocument']>;

const jsonContent = <T>(schema: T) => ({ 'application/json': { schema } });

/** Registers every route of the portal contract. */
export function buildRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.register('Error', errorBodySchema);
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  registry.registerPath({
    method: 'get',
    path: '/api/health',
    summary: 'Liveness: answers when the app is up.',
    responses: { 200: { description: 'The app is up.', content: jsonContent(healthSchema) } },
  });
  registry.registerPath({
    method: 'get',
    path: '/api/openapi.json',
    summary: 'This document.',
    responses: { 200: { description: 'OpenAPI 3.1 of this API.' } },
  });
  const params = z.object({ accountId: accountIdSchema });
  const errors = {
    400: {
      description: 'Invalid input (`invalid-request`, with `issues`); nothing changed.',
      content: jsonContent(errorBodySchema),
    },
    401: {
      description: 'Missing, malformed, expired or foreign token.',
      content: jsonContent(errorBodySchema),
    },
    403: {
      description: 'Not an owner of this account (or no such account).',
      content: jsonContent(errorBodySchema),
    },
    503: {
      description:
        'A partner service is down or asked for a pause (`partner-unavailable`); `Retry-After` says when to try again.',
      content: jsonContent(errorBodySchema),
    },
  };
  const accountNotFound = {
    404: {
      description: '`account-not-found`: an admin named an account CPP does not have.',
      content: jsonContent(errorBodySchema),
    },
  };
  const account = '/api/accounts/{accountId}';
  const route = (
    method: 'get' | 'post',
    path: string,
    summary: string,
    responses: Record<
      number,
      { description: string; content?: Record<string, { schema: unknown }> }
    >,
    body?: z.ZodType,
  ): void => {
    registry.registerPath({
      method,
      path,
      summary,
      security: [{ bearer: [] }],
      request: {
        ...(path.includes('{offerId}')
          ? { params: params.extend({ offerId: offerIdSchema }) }
          : path.includes('{accountId}')
            ? { params }
            : {}),
        ...(body ? { body: { content: jsonContent(body) } } : {}),
      },
      responses: {
        ...errors,
        ...(path.includes('{accountId}') ? accountNotFound : {}),
        ...(body
          ? { 413: { description: 'Body over 64 KiB.', content: jsonContent(errorBodySchema) } }
          : {}),
        ...responses,
      },
    });
  };
  route('get', `${account}/banner`, 'The migration banner of an account (R-BAN-2).', {
    200: { description: 'migrated or action-required', content: jsonContent(bannerSchema) },
  });
  route(
    'post',
    `${account}/preflight`,
    'Runs the checks of a migration without changing anything (R-OPS-1).',
    {
      200: {
        description: 'What would block, and what would be copied.',
        content: jsonContent(preflightSchema),
      },
    },
    startBodySchema,
  );
  route(
    'post',
    `${account}/migration`,
    'Starts the migration, or returns the one there is (R-BAN-3).',
    {
      202: {
        description: 'Started; `Location` is the status URL.',
        content: jsonContent(statusSchema),
      },
      200: { description: 'Already running or completed.', content: jsonContent(statusSchema) },
      409: { description: '`already-migrated`', content: jsonContent(errorBodySchema) },
    },
    startBodySchema,
  );
  route('get', `${account}/migration`, 'The migration status.', {
    200: { description: 'Status', content: jsonContent(statusSchema) },
    404: {
      description:
        '`not-started`; `account-not-found` for an admin naming an account CPP does not have.',
      content: jsonContent(errorBodySchema),
    },
  });
  route(
    'post',
    `${account}/migration/work-email`,
    'Gives the work e-mail address (R-TEN-1).',
    {
      202: { description: 'Accepted', content: jsonContent(statusSchema) },
      409: { description: '`not-waiting-for-work-email`', content: jsonContent(errorBodySchema) },
    },
    workEmailBodySchema,
  );
  route(
    'post',
    `${account}/migration/mpn`,
    'Gives the MPN ID (R-MPN-1).',
    {
      202: { description: 'Accepted', content: jsonContent(statusSchema) },
      409: { description: '`not-waiting-for-mpn`', content: jsonContent(errorBodySchema) },
    },
    mpnBodySchema,
  );
  route('post', `${account}/migration/cancel`, 'Cancels the migration before switch-over.', {
    202: { description: 'Accepted', content: jsonContent(statusSchema) },
    409: { description: '`too-late-to-cancel`', content: jsonContent(errorBodySchema) },
  });
  route('get', `${account}/migration/audit`, 'The audit trail (R-OPS-2).', {
    200: { description: 'A page of entries.', content: jsonContent(auditSchema) },
  });
  route('get', '/api/admin/migrations', 'Every migration, by status (Migration.Admin only).', {
    200: { description: 'A page of statuses.', content: jsonContent(adminListSchema) },
  });
  route('get', `${account}/d365`, 'The Dynamics 365 / PowerApps checklist (R-D365).', {
    200: { description: 'Checklist', content: jsonContent(checklistSchema) },
  });
  route(
    'post',
    `${account}/d365`,
    'Starts the checklist workflow (idempotent); on a running one, reads again what can be read and resubmits offers that failed.',
    {
      202: { description: 'Checklist', content: jsonContent(checklistSchema) },
      409: {
        description: '`no-d365-offers`: the account has no Dynamics 365 or PowerApps offer.',
        content: jsonContent(errorBodySchema),
      },
    },
    checklistStartSchema,
  );
  route(
    'post',
    `${account}/d365/attest`,
    'The owner confirms a step nothing can be read for.',
    {
      202: { description: 'Checklist', content: jsonContent(checklistSchema) },
      409: { description: '`not-started`', content: jsonContent(errorBodySchema) },
    },
    attestBodySchema,
  );
  route('post', `${account}/d365/offers/{offerId}/go-live`, 'Go live with an approved offer.', {
    202: { description: 'Checklist', content: jsonContent(checklistSchema) },
    404: { description: '`offer-not-found`', content: jsonContent(errorBodySchema) },
    409: {
      description: '`not-ready-to-go-live` unless the offer is `ready-to-go-live`; `not-started`.',
      content: jsonContent(errorBodySchema),
    },
  });
  route('get', `${account}/reminders`, 'The deadline reminders sent for an account (R-DUE).', {
    200: {
      description: 'What was sent, with the deadline and the days left.',
      content: jsonContent(remindersSchema),
    },
  });
  route(
    'post',
    '/api/admin/reminders/run',
    "Runs the day's reminder sweep now, as the timer would (Migration.Admin only).",
    {
      202: {
        description: 'The sweep of the day: started now, or the one already there.',
        content: jsonContent(sweepStartSchema),
      },
    },
  );
  return registry;
}

let cached: Document | undefined;

/** The document, generated once per process. */
export function openApiDocument(): Document {
  cached ??= new OpenApiGeneratorV31(buildRegistry().definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'CPP to Partner Center migration',
      version: '1.0.0',
      description:
        'The API the portal calls to move a publisher account from the Cloud Partner Portal to Partner Center.',
    },
    servers: [{ url: '/' }],
  });
  return cached;
}
