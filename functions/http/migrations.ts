// The migration routes of the portal contract (api.md): parse and authorise, call the use case, reply.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
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
  MPN_SIGN_UP_URL,
  START_LEASE_MS,
  type KeyedAuditEntry,
  type MigrationError,
  type MigrationStatus,
  type PendingStart,
  type StartRequest,
} from '../../lib/domain/migration.js';
import {
  AppError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  ServiceUnavailableError,
  ValidationError,
  type Issue,
} from '../../lib/errors.js';
import { daysLeft } from '../../lib/domain/reminders.js';
import { json, toHttpResponse } from '../../lib/http.js';
import type { DocumentCategory } from '../../lib/partners/adapters.js';
import { TransientPartnerError } from '../../lib/partners/http.js';
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

/** Replies of these routes carry e-mail addresses (status, audit, lists): no cache may keep them. */
const NO_STORE = { 'cache-control': 'no-store' };

/** The longest wait a 503 tells the portal to keep, whatever a partner asked of us. */
const MAX_RETRY_AFTER_S = 3600;

/**
 * Every route's frame: the caller, the error mapping, `Cache-Control: no-store`, and a log line without
 * bodies (they may hold secrets). A partner that is down or asks for a long pause is a 503 with
 * `Retry-After`, not a held request.
 */
export async function run(
  req: HttpRequest,
  ctx: InvocationContext,
  work: (caller: Caller) => Promise<HttpResponseInit>,
): Promise<HttpResponseInit> {
  let res: HttpResponseInit;
  try {
    const caller = await services().verifier.verify(req.headers.get('authorization'));
    res = await work(caller);
  } catch (e) {
    let err = e;
    if (e instanceof TransientPartnerError) {
      ctx.warn(`Partner service unavailable: ${e.message}`);
      err = new ServiceUnavailableError(
        e.retryAfterMs === undefined
          ? undefined
          : Math.min(MAX_RETRY_AFTER_S, Math.ceil(e.retryAfterMs / 1000)),
      );
    } else if (!(e instanceof AppError))
      ctx.error(`Request failed: ${e instanceof Error ? e.message : String(e)}`);
    res = toHttpResponse(err);
  }
  return { ...res, headers: { ...(res.headers as Record<string, string>), ...NO_STORE } };
}

/**
 * The account id, checked and authorised. Owners only: a missing account and someone else's get the same
 * 403 after the same work (services().owners costs the same for both). Admins may know which accounts
 * exist, and get 404 `account-not-found` for a missing one, so that nothing is done for a typo.
 */
export async function ownedAccount(req: HttpRequest, caller: Caller): Promise<string> {
  const accountId = accountIdOf(req);
  const owners = await services().owners(accountId);
  if (caller.isAdmin && owners === undefined) throw accountNotFound();
  requireOwner(caller, owners);
  return accountId;
}

const accountNotFound = (): NotFoundError =>
  new NotFoundError('account-not-found', 'The Cloud Partner Portal has no account with this id.');

/** An audit entry for a request (its key unique to this request, so two requests never share a row). */
export function requestEntry(
  caller: Caller,
  action: string,
  outcome: string,
  detail?: string,
): KeyedAuditEntry {
  const at = new Date().toISOString();
  return {
    key: `${at}~request~${randomUUID()}`,
    at,
    actor: caller.email,
    action,
    outcome,
    ...(detail ? { detail } : {}),
  };
}

async function currentStatus(accountId: string): Promise<MigrationStatus> {
  const status = await services().store.get(accountId);
  if (!status)
    throw new NotFoundError('not-started', 'No migration has been started for this account.');
  return status;
}

/** A status as the portal gets it: with the deadline and the local days left (R-DUE-1). */
function withDeadline(
  status: MigrationStatus,
): MigrationStatus & { deadline: string; daysLeft: number } {
  const schedule = services().schedule;
  return { ...status, deadline: schedule.deadline, daysLeft: daysLeft(schedule, new Date()) };
}

/** The status URL, from the configured public base URL: the request's Host header is the caller's to forge. */
const statusUrl = (accountId: string): string =>
  `${services().config.PUBLIC_BASE_URL}/api/accounts/${encodeURIComponent(accountId)}/migration`;

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
    const account = await services().interactive.cpp.getAccount(accountId);
    if (!account) throw accountNotFound();
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
    const account = await s.interactive.cpp.getAccount(accountId);
    if (!account) throw accountNotFound();
    const checks = createActivities({
      ...s,
      ...s.interactive,
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
      const mpnId = body.mpnId ?? account.mpnId;
      // R-OPS-1 without a window on other organisations: an MPN ID other than the account's own is
      // only described when it is registered in the caller's tenant. Any other (someone else's, or
      // none at all) gets one answer, which names no tenant, partner or certificate state.
      let notYours = false;
      if (mpnId && mpnId !== account.mpnId) {
        const profile = await s.interactive.partnerCenter.getMpnProfile(mpnId, tenantId);
        notYours = profile?.tenantId.toLowerCase() !== tenantId.toLowerCase();
      }
      if (notYours && mpnId) {
        blockers.push({
          code: 'mpn-not-found',
          message: `MPN ID ${mpnId} could not be verified for your organisation. Check the number, or enroll in the Microsoft Partner Network.`,
          signUpUrl: MPN_SIGN_UP_URL,
        });
      } else {
        const m = await checks.checkMpn({ accountId, mpnId, tenantId });
        if (m.kind !== 'ok') blockers.push(errorFor(m));
      }
    }
    if (account.migrated)
      blockers.push({
        code: 'already-migrated',
        message: 'This account already lives in Partner Center.',
      });
    // The three documents are read, as the copy will read them; an empty one is nothing to copy.
    // (Their content stays here: only whether each is there leaves this function.)
    const present = async (category: DocumentCategory): Promise<number> => {
      const doc = await s.interactive.cpp.getDocument(accountId, category);
      return doc !== null && typeof doc === 'object' && Object.keys(doc).length > 0 ? 1 : 0;
    };
    const [publishingAgreement, companyProfile, payoutProfile] = await Promise.all([
      present('publishing-agreement'),
      present('company-profile'),
      present('payout-profile'),
    ]);
    return json(200, {
      accountId,
      ready: blockers.length === 0,
      blockers,
      wouldCopy: {
        publishingAgreement,
        companyProfile,
        payoutProfile,
        users: account.counts.users,
        // R-COPY-1: what would be copied is the active offers only.
        offers: (await s.cpp.listOffers(accountId)).filter(isActiveOffer).length,
      },
    });
  });
}

/**
 * An instance's status; undefined when there is none (the client answers a missing one with a 404
 * error; any other failure is thrown, never guessed).
 */
export async function statusOf(
  client: df.DurableClient,
  instanceId: string,
): Promise<df.DurableOrchestrationStatus | undefined> {
  try {
    return await client.getStatus(instanceId);
  } catch (e) {
    if (e instanceof Error && /HTTP 404/.test(e.message)) return undefined;
    throw e;
  }
}

/**
 * A claimed start whose process died before `startNew` (the row says the attempt began, yet no
 * orchestration exists): once the claimer's lease is over and the instance is still missing, one caller
 * takes the start over (an ETag-guarded new lease: of concurrent callers exactly one wins) and starts it
 * with the request stored at claim time. Undefined when there is nothing to finish, or another caller won.
 */
async function finishInterruptedStart(
  client: df.DurableClient,
  caller: Caller,
  row: { status: MigrationStatus; etag: string; start?: PendingStart },
): Promise<HttpResponseInit | undefined> {
  const { status, start } = row;
  if (!start || Date.parse(start.leaseUntil) > Date.now()) return undefined;
  const { accountId, attempt } = status;
  const instanceId = migrationInstanceId(accountId, attempt);
  if (await statusOf(client, instanceId)) return undefined;
  const s = services();
  const lease = new Date(Date.now() + START_LEASE_MS).toISOString();
  if (!(await s.store.takeOver(accountId, row.etag, lease))) return undefined;
  try {
    await client.startNew('accountMigration', {
      instanceId,
      input: { accountId, attempt, ...start.request } satisfies MigrationInput,
    });
  } catch (e) {
    // The row keeps its request: a later start tries again once this lease is over.
    await s.store.audit(accountId, [requestEntry(caller, 'start-resumed', 'failed')]);
    throw e;
  }
  await s.store.audit(accountId, [
    requestEntry(
      caller,
      'start-resumed',
      'accepted',
      `attempt ${attempt} was claimed at ${start.request.createdAt} by ${start.request.requestedBy} but never started; started now as then requested`,
    ),
  ]);
  return json(202, withDeadline(status), { location: statusUrl(accountId) });
}

/**
 * POST /api/accounts/{accountId}/migration (R-BAN-3): starts one, or returns the one there is.
 * The status row of a new attempt is claimed with a conditional write (insert-if-absent, or If-Match on
 * the failed/cancelled attempt it replaces): of two concurrent starts exactly one claims it and starts
 * the orchestration, which owns the row from then on; the other writes nothing but its refusal. The claim
 * stores the start's request (no secrets), so a start whose process died before the orchestration
 * existed is finished by a later one (finishInterruptedStart).
 */
export function startMigration(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, startBodySchema);
    const s = services();
    const duplicate = async (outcome: string): Promise<HttpResponseInit> => {
      await s.store.audit(accountId, [requestEntry(caller, 'start-requested', outcome)]);
      return json(200, withDeadline(await currentStatus(accountId)), {
        location: statusUrl(accountId),
      });
    };
    const existing = await s.store.read(accountId);
    if (existing && !RESTARTABLE.has(existing.status.status))
      return (
        (await finishInterruptedStart(client, caller, existing)) ??
        duplicate('refused: already-started')
      );
    const account = await s.interactive.cpp.getAccount(accountId);
    if (!account) throw accountNotFound();
    if (account.migrated) {
      await s.store.audit(accountId, [
        requestEntry(caller, 'start-requested', 'refused: already-migrated'),
      ]);
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
    const attempt = (existing?.status.attempt ?? 0) + 1;
    const status: MigrationStatus = {
      accountId,
      attempt,
      status: workEmail ? 'validating-tenant' : 'awaiting-work-email',
      steps: initialSteps(now),
      ...(workEmail ? { workEmail } : {}),
      createdAt: now,
      updatedAt: now,
    };
    const request: StartRequest = {
      ...(body.mpnId ? { mpnId: body.mpnId } : {}),
      ...(workEmail ? { workEmail, workEmailFrom: fromSignIn ? 'sign-in' : 'given' } : {}),
      requestedBy: caller.email,
      createdAt: now,
    };
    const etag = await s.store.claim(status, existing?.etag, {
      request,
      leaseUntil: new Date(Date.parse(now) + START_LEASE_MS).toISOString(),
    });
    // Another start claimed the row first: it started the migration, this one started nothing.
    if (!etag) return duplicate('refused: already-started');
    try {
      await client.startNew('accountMigration', {
        instanceId: migrationInstanceId(accountId, attempt),
        input: { accountId, attempt, ...request } satisfies MigrationInput,
      });
    } catch (e) {
      // Nothing started: give the row back, and say so in the trail.
      await s.store.unclaim(accountId, existing?.status, etag);
      await s.store.audit(accountId, [requestEntry(caller, 'start-requested', 'failed')]);
      throw e;
    }
    await s.store.audit(accountId, [requestEntry(caller, 'start-requested', 'accepted')]);
    return json(202, withDeadline(status), { location: statusUrl(accountId) });
  });
}

/** GET /api/accounts/{accountId}/migration */
export function getMigration(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) =>
    json(200, withDeadline(await currentStatus(await ownedAccount(req, caller)))),
  );
}

/** Raises an owner event when the migration waits for it; 409 with `code` otherwise. */
async function raise(
  client: df.DurableClient,
  caller: Caller,
  accountId: string,
  event: 'WorkEmail' | 'MpnId' | 'Cancel',
  data: Record<string, unknown>,
  allowed: (s: MigrationStatus) => boolean | Promise<boolean>,
  refusal: ConflictError,
): Promise<HttpResponseInit> {
  const status = await currentStatus(accountId);
  const action = {
    WorkEmail: 'work-email-submitted',
    MpnId: 'mpn-id-submitted',
    Cancel: 'cancel-requested',
  }[event];
  if (!(await allowed(status))) {
    await services().store.audit(accountId, [
      requestEntry(caller, action, `refused: ${refusal.code}`),
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
    requestEntry(caller, action, 'accepted', 'mpnId' in data ? String(data.mpnId) : undefined),
  ]);
  return json(202, withDeadline(status), { location: statusUrl(accountId) });
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
