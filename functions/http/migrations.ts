// The migration routes of the portal contract (api.md): parse and authorise, call the use case, reply.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import { z } from 'zod';
import {
  startBodySchema,
  accountIdSchema,
  mpnBodySchema,
  workEmailBodySchema,
} from '../../lib/api/schemas.js';
import { requireAdmin, requireOwner, type Caller } from '../../lib/auth/tokens.js';
import {
  CANCELLABLE,
  MIGRATION_STATUSES,
  RESTARTABLE,
  errorFor,
  initialSteps,
  isActiveOffer,
  migrationInstanceId,
  type MigrationError,
  type MigrationStatus,
} from '../../lib/domain/migration.js';
import {
  AppError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ValidationError,
  type Issue,
} from '../../lib/errors.js';
import { json, toHttpResponse } from '../../lib/http.js';
import { services } from '../../lib/services.js';
import type { MigrationInput } from '../../orchestrations/names.js';
import { createActivities } from '../activities/migration.js';

const MAX_BODY = 64 * 1024;

function issuesOf(error: z.ZodError): Issue[] {
  return error.issues.map((i) => ({ path: i.path.join('.') || '(body)', message: i.message }));
}

/** Parses a JSON body (empty = `{}`) with a schema; 413 over 64 KiB, 400 with issues otherwise. */
export async function parseBody<T extends z.ZodType>(
  req: HttpRequest,
  schema: T,
): Promise<z.infer<T>> {
  const declared = Number(req.headers.get('content-length') ?? 0);
  if (declared > MAX_BODY) throw new PayloadTooLargeError(MAX_BODY);
  const text = await req.text();
  if (Buffer.byteLength(text) > MAX_BODY) throw new PayloadTooLargeError(MAX_BODY);
  let value: unknown = {};
  if (text.trim()) {
    try {
      value = JSON.parse(text) as unknown;
    } catch {
      throw new ValidationError('The request body is not valid JSON.', [
        { path: '(body)', message: 'not valid JSON' },
      ]);
    }
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new ValidationError('The request body is not valid: see issues.', issuesOf(parsed.error));
  return parsed.data;
}

function accountIdOf(req: HttpRequest): string {
  const parsed = accountIdSchema.safeParse(req.params.accountId);
  if (!parsed.success)
    throw new ValidationError('The account id in the path is not valid.', [
      { path: 'accountId', message: parsed.error.issues[0]!.message },
    ]);
  return parsed.data;
}

/** Every route's frame: the caller, the error mapping, and a log line without bodies (they may hold secrets). */
async function run(
  req: HttpRequest,
  ctx: InvocationContext,
  work: (caller: Caller) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  try {
    const caller = await services().verifier.verify(req.headers.get('authorization'));
    return await work(caller);
  } catch (e) {
    if (!(e instanceof AppError))
      ctx.error(`Request failed: ${e instanceof Error ? e.message : String(e)}`);
    return toHttpResponse(e);
  }
}

/** The account id, checked and authorised (owners only; 403 alike for missing and foreign accounts). */
async function ownedAccount(req: HttpRequest, caller: Caller): Promise<string> {
  const accountId = accountIdOf(req);
  requireOwner(caller, caller.isAdmin ? [] : await services().owners(accountId));
  return accountId;
}

async function currentStatus(accountId: string): Promise<MigrationStatus> {
  const status = await services().store.get(accountId);
  if (!status)
    throw new NotFoundError('not-started', 'No migration has been started for this account.');
  return status;
}

const statusUrl = (req: HttpRequest, accountId: string): string =>
  new URL(`/api/accounts/${accountId}/migration`, req.url).href;

/** GET /api/accounts/{accountId}/banner (R-BAN-2) */
export function banner(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    // One point read answers every account this app migrated; only the others need CPP's word.
    const migration = await services().store.get(accountId);
    if (migration?.status === 'completed') {
      return json(200, {
        accountId,
        banner: 'migrated',
        ...(migration.partnerCenterUrl ? { partnerCenterUrl: migration.partnerCenterUrl } : {}),
        migration,
      });
    }
    const account = await services().cpp.getAccount(accountId);
    if (!account) throw new NotFoundError('account-not-found', 'No such account.');
    if (account.migrated) {
      return json(200, {
        accountId,
        banner: 'migrated',
        ...(account.partnerCenterUrl ? { partnerCenterUrl: account.partnerCenterUrl } : {}),
        ...(migration ? { migration } : {}),
      });
    }
    return json(200, { accountId, banner: 'action-required', ...(migration ? { migration } : {}) });
  });
}

/** POST /api/accounts/{accountId}/preflight (R-OPS-1): the migration's checks, changing nothing. */
export function preflight(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, startBodySchema);
    const s = services();
    const account = await s.cpp.getAccount(accountId);
    if (!account) throw new NotFoundError('account-not-found', 'No such account.');
    const checks = createActivities({
      ...s,
      startBackSync: () => Promise.reject(new Error('not in preflight')),
    });
    const blockers: MigrationError[] = [];
    let tenantId = account.tenantId;
    const email = body.workEmail ?? account.workEmailHint;
    if (email) {
      const t = await checks.checkTenant({ accountId, workEmail: email });
      if (t.kind === 'ok') tenantId = t.tenant.id;
      else blockers.push(errorFor(t));
    } else if (account.signIn === 'msa') {
      blockers.push({
        code: 'work-email-required',
        message:
          'This account signs in with a personal Microsoft account: give a work e-mail address.',
      });
    }
    if (tenantId) {
      const m = await checks.checkMpn({ accountId, mpnId: body.mpnId ?? account.mpnId, tenantId });
      if (m.kind !== 'ok') blockers.push(errorFor(m));
    }
    if (account.migrated)
      blockers.push({
        code: 'already-migrated',
        message: 'This account already lives in Partner Center.',
      });
    return json(200, {
      accountId,
      ready: blockers.length === 0,
      blockers,
      wouldCopy: {
        publishingAgreement: 1,
        companyProfile: 1,
        payoutProfile: 1,
        users: account.counts.users,
        // R-COPY-1: what would be copied is the active offers only.
        offers: (await s.cpp.listOffers(accountId)).filter(isActiveOffer).length,
      },
    });
  });
}

/** POST /api/accounts/{accountId}/migration (R-BAN-3): starts one, or returns the one there is. */
export function startMigration(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, startBodySchema);
    const s = services();
    const existing = await s.store.get(accountId);
    if (existing && !RESTARTABLE.has(existing.status))
      return json(200, existing, { location: statusUrl(req, accountId) });
    const account = await s.cpp.getAccount(accountId);
    if (account?.migrated) {
      throw new ConflictError(
        'already-migrated',
        'This account has already moved to Partner Center; manage it there.',
        account.partnerCenterUrl ? { partnerCenterUrl: account.partnerCenterUrl } : {},
      );
    }
    // R-TEN-1: on a work account the owner's CPP sign-in address is the work e-mail unless one is given.
    const signIn = caller.email.toLowerCase();
    const fromSignIn =
      !body.workEmail &&
      account?.signIn === 'work' &&
      ((await s.owners(accountId)) ?? []).includes(signIn);
    const workEmail = body.workEmail ?? (fromSignIn ? signIn : undefined);
    const now = new Date().toISOString();
    const attempt = (existing?.attempt ?? 0) + 1;
    const status: MigrationStatus = {
      accountId,
      attempt,
      status: workEmail ? 'validating-tenant' : 'awaiting-work-email',
      steps: initialSteps(now),
      ...(workEmail ? { workEmail } : {}),
      createdAt: now,
      updatedAt: now,
    };
    await s.store.save(status, [
      {
        key: `${now}~${attempt}~request`,
        at: now,
        actor: caller.email,
        action: 'start-requested',
        outcome: 'accepted',
      },
    ]);
    try {
      await client.startNew('accountMigration', {
        instanceId: migrationInstanceId(accountId, attempt),
        input: {
          accountId,
          attempt,
          ...body,
          ...(workEmail ? { workEmail, workEmailFrom: fromSignIn ? 'sign-in' : 'given' } : {}),
          requestedBy: caller.email,
          createdAt: now,
        } satisfies MigrationInput,
      });
    } catch {
      // Another start won the race for this attempt: answer with what it started.
      return json(200, await currentStatus(accountId), { location: statusUrl(req, accountId) });
    }
    return json(202, status, { location: statusUrl(req, accountId) });
  });
}

/** GET /api/accounts/{accountId}/migration */
export function getMigration(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) =>
    json(200, await currentStatus(await ownedAccount(req, caller))),
  );
}

/** Raises an owner event when the migration waits for it; 409 with `code` otherwise. */
async function raise(
  req: HttpRequest,
  client: df.DurableClient,
  caller: Caller,
  accountId: string,
  event: 'WorkEmail' | 'MpnId' | 'Cancel',
  data: Record<string, unknown>,
  allowed: (s: MigrationStatus) => boolean | Promise<boolean>,
  refusal: ConflictError,
): Promise<HttpResponseInit> {
  const status = await currentStatus(accountId);
  const now = new Date().toISOString();
  const action = {
    WorkEmail: 'work-email-submitted',
    MpnId: 'mpn-id-submitted',
    Cancel: 'cancel-requested',
  }[event];
  if (!(await allowed(status))) {
    await services().store.audit(accountId, [
      {
        key: `${now}~${action}`,
        at: now,
        actor: caller.email,
        action,
        outcome: `refused: ${refusal.code}`,
      },
    ]);
    throw refusal;
  }
  await client
    .raiseEvent(migrationInstanceId(accountId, status.attempt), event, {
      ...data,
      by: caller.email,
    })
    .catch((e: unknown) => {
      // A won cancel is already honoured through the gate (copies stop, the switch-over is refused);
      // the event only wakes a waiting migration, which may have ended meanwhile.
      if (event !== 'Cancel') throw e;
    });
  await services().store.audit(accountId, [
    {
      key: `${now}~${action}`,
      at: now,
      actor: caller.email,
      action,
      outcome: 'accepted',
      ...('mpnId' in data ? { detail: String(data.mpnId) } : {}),
    },
  ]);
  return json(202, status, { location: statusUrl(req, accountId) });
}

/** POST /api/accounts/{accountId}/migration/work-email (R-TEN-1) */
export function submitWorkEmail(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, workEmailBodySchema);
    return raise(
      req,
      client,
      caller,
      accountId,
      'WorkEmail',
      { workEmail: body.workEmail },
      // R-TEN-3: an MPN ID in another tenant is fixed by a work e-mail in that tenant, too.
      (s) =>
        s.status === 'awaiting-work-email' ||
        (s.status === 'awaiting-mpn' && s.error?.code === 'mpn-tenant-mismatch'),
      new ConflictError(
        'not-waiting-for-work-email',
        'The migration is not waiting for a work e-mail address.',
      ),
    );
  });
}

/** POST /api/accounts/{accountId}/migration/mpn (R-MPN-1) */
export function submitMpn(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, mpnBodySchema);
    return raise(
      req,
      client,
      caller,
      accountId,
      'MpnId',
      { mpnId: body.mpnId },
      (s) => s.status === 'awaiting-mpn',
      new ConflictError('not-waiting-for-mpn', 'The migration is not waiting for an MPN ID.'),
    );
  });
}

/** POST /api/accounts/{accountId}/migration/cancel */
export function cancelMigration(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    await parseBody(req, z.strictObject({}));
    return raise(
      req,
      client,
      caller,
      accountId,
      'Cancel',
      {},
      // The cancel and the switch-over race for the attempt's gate: the first one written holds. A won
      // (or repeated) cancel stops every copy before its next write, event or no event.
      async (s) =>
        CANCELLABLE.has(s.status) &&
        (await services().gate.decide(accountId, s.attempt, 'cancelled', caller.email)) ===
          'cancelled',
      new ConflictError(
        'too-late-to-cancel',
        'The switch-over has begun (or the migration is over): it can no longer be cancelled.',
      ),
    );
  });
}

/** GET /api/accounts/{accountId}/migration/audit (R-OPS-2) */
export function migrationAudit(
  req: HttpRequest,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    return json(
      200,
      await services().store.listAudit(accountId, req.query.get('continuationToken') ?? undefined),
    );
  });
}

/** GET /api/admin/migrations?status=&continuationToken= */
export function listMigrations(
  req: HttpRequest,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    requireAdmin(caller);
    const status = req.query.get('status') || undefined;
    const parsed = z.enum(MIGRATION_STATUSES).optional().safeParse(status);
    if (!parsed.success)
      throw new ValidationError('Unknown status filter.', [
        { path: 'status', message: `one of ${MIGRATION_STATUSES.join(', ')}` },
      ]);
    return json(
      200,
      await services().store.list(parsed.data, req.query.get('continuationToken') ?? undefined),
    );
  });
}
