// The portal contract's shapes (api.md) as zod schemas: the same objects validate input and feed OpenAPI.
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  ATTESTABLE,
  CHECKLIST_STATUSES,
  D365_STEP_STATES,
  D365_STEPS,
  OFFER_STATES,
} from '../domain/d365.js';
import { MIGRATION_STATUSES, STEP_NAMES, STEP_STATES } from '../domain/migration.js';

// Adds `.openapi()` to zod once, so every schema can carry its OpenAPI name and examples.
extendZodWithOpenApi(z);

export const errorBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().meta({ example: 'invalid-request' }),
        message: z.string(),
        issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
      })
      .loose(),
  })
  .meta({ id: 'Error', description: 'Every 4xx/5xx body.' });

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health' });

// ---------------------------------------------------------------- migration routes (api.md)

export const accountIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'an account id is 1 to 64 letters, digits, ".", "_" or "-"')
  .openapi({ example: 'cpp-contoso' });

// Surrounding white space (a pasted address) is trimmed before the address is checked.
export const workEmailSchema = z
  .string()
  .trim()
  .pipe(
    z
      .email({ error: 'enter an e-mail address such as name@company.com' })
      .max(254, 'an e-mail address has at most 254 characters'),
  )
  .transform((s) => s.toLowerCase())
  .openapi({ example: 'owner@contoso.com', format: 'email', maxLength: 254 });

export const mpnIdSchema = z
  .string()
  .regex(/^\d{6,10}$/, 'an MPN ID is 6 to 10 digits')
  .openapi({ example: '1234567' });

export const startBodySchema = z
  .strictObject({ workEmail: workEmailSchema.optional(), mpnId: mpnIdSchema.optional() })
  .openapi('StartMigration');
export const workEmailBodySchema = z
  .strictObject({ workEmail: workEmailSchema })
  .openapi('WorkEmail');
export const mpnBodySchema = z.strictObject({ mpnId: mpnIdSchema }).openapi('MpnId');

const tenantSchema = z.object({ id: z.string(), name: z.string() }).openapi('Tenant');
const migrationErrorSchema = z
  .object({
    code: z.string(),
    message: z.string(),
    expectedTenant: tenantSchema.optional(),
    signUpUrl: z.string().optional(),
    rejectedWorkEmail: z.string().optional(),
  })
  .openapi('MigrationError');

export const statusSchema = z
  .object({
    accountId: z.string(),
    attempt: z.number().int(),
    status: z.enum(MIGRATION_STATUSES),
    steps: z.array(
      z.object({
        name: z.enum(STEP_NAMES),
        state: z.enum(STEP_STATES),
        detail: z.string().optional(),
        updatedAt: z.string(),
      }),
    ),
    workEmail: z.string().optional(),
    tenant: tenantSchema.optional(),
    mpnId: z.string().optional(),
    error: migrationErrorSchema.optional(),
    partnerCenterUrl: z.string().optional(),
    createdAt: z.string(),
    updatedAt: z.string(),
    /** R-DUE-1: the deadline and the whole local days left until it (negative once passed). */
    deadline: z.string().optional(),
    daysLeft: z.number().int().optional(),
  })
  .openapi('MigrationStatus');

export const bannerSchema = z
  .object({
    accountId: z.string(),
    banner: z.enum(['migrated', 'action-required']),
    partnerCenterUrl: z.string().optional(),
    migration: statusSchema.optional(),
  })
  .openapi('Banner');

const counts = z.object({
  publishingAgreement: z.number().int(),
  companyProfile: z.number().int(),
  payoutProfile: z.number().int(),
  users: z.number().int(),
  offers: z.number().int(),
});
export const preflightSchema = z
  .object({
    accountId: z.string(),
    ready: z.boolean(),
    blockers: z.array(migrationErrorSchema),
    wouldCopy: counts,
  })
  .openapi('Preflight');

export const auditSchema = z
  .object({
    items: z.array(
      z.object({
        at: z.string(),
        actor: z.string(),
        action: z.string(),
        outcome: z.string(),
        detail: z.string().optional(),
      }),
    ),
    continuationToken: z.string().optional(),
  })
  .openapi('AuditPage');

export const adminListSchema = z
  .object({ items: z.array(statusSchema), continuationToken: z.string().optional() })
  .openapi('MigrationList');

export const remindersSchema = z
  .object({
    accountId: z.string(),
    deadline: z.string(),
    timeZone: z.string(),
    daysLeft: z.number().int(),
    items: z.array(
      z.object({
        subject: z.enum(['migration', 'd365']),
        offsetDays: z.number().int(),
        overdue: z.boolean().optional(),
        sentAt: z.string(),
        summary: z.string(),
      }),
    ),
  })
  .openapi('Reminders');

export const sweepStartSchema = z
  .object({
    instanceId: z.string(),
    day: z.string(),
    started: z.boolean(),
    runtimeStatus: z.string().optional(),
  })
  .openapi('ReminderSweep');

// ---------------------------------------------------------------- the D365 checklist (api.md "Checklist")

export const offerIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, 'an offer id is 1 to 64 letters, digits, ".", "_" or "-"')
  .openapi({ example: 'contoso-offer-3' });

/** POST …/d365: empty, or with the optional Premium-tier request (R-D365-6; an addition to api.md). */
export const checklistStartSchema = z
  .strictObject({ premiumTier: z.boolean().optional() })
  .openapi('StartChecklist');
export const attestBodySchema = z.strictObject({ step: z.enum(ATTESTABLE) }).openapi('Attest');
export const emptyBodySchema = z.strictObject({}).openapi('Empty');

export const checklistSchema = z
  .object({
    accountId: z.string(),
    deadline: z.string(),
    daysLeft: z.number().int().optional(),
    status: z.enum(CHECKLIST_STATUSES),
    missed: z.array(z.string()).optional(),
    steps: z.array(
      z.object({
        name: z.enum(D365_STEPS),
        state: z.enum(D365_STEP_STATES),
        detail: z.string().optional(),
        nextAction: z.string().optional(),
        updatedAt: z.string(),
      }),
    ),
    offers: z.array(
      z.object({
        offerId: z.string(),
        name: z.string(),
        kind: z.string(),
        state: z.enum(OFFER_STATES),
        reason: z.string().optional(),
        nextAction: z.string().optional(),
        productId: z.string().optional(),
        appSource: z.enum(['existing', 'created']).optional(),
        submissionId: z.string().optional(),
        report: z.object({ status: z.string(), reasons: z.array(z.string()) }).optional(),
        stalled: z.boolean().optional(),
        updatedAt: z.string(),
      }),
    ),
    createdAt: z.string().optional(),
    updatedAt: z.string().optional(),
  })
  .openapi('Checklist');
