// The D365 checklist routes of the portal contract (api.md): GET/POST …/d365, …/d365/attest,
// …/d365/offers/{offerId}/go-live. Each answers from one point read of the checklist row.
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import type * as df from 'durable-functions';
import {
  attestBodySchema,
  checklistStartSchema,
  emptyBodySchema,
  offerIdSchema,
} from '../../lib/api/schemas.js';
import type { Caller } from '../../lib/auth/tokens.js';
import {
  BUSINESS_CENTRAL,
  checklistInstanceId,
  checklistStatus,
  EXCLUDED_REASON,
  isChecklistOffer,
  offerInstanceId,
  PLATFORM_REASON,
  type Checklist,
  type ChecklistRecord,
} from '../../lib/domain/d365.js';
import { daysLeft } from '../../lib/domain/reminders.js';
import { ConflictError, NotFoundError, ValidationError } from '../../lib/errors.js';
import { json } from '../../lib/http.js';
import { services } from '../../lib/services.js';
import type { D365ChecklistInput } from '../../orchestrations/names.js';
import { ownedAccount, parseBody, requestEntry, run, statusOf } from './migrations.js';

/** The checklist as the portal gets it: derived status, the deadline and the days left (R-DUE-1). */
function view(accountId: string, record: ChecklistRecord | undefined): Checklist {
  const s = services();
  const now = new Date();
  const { status, missed } = checklistStatus(record, s.schedule.deadline, now);
  return {
    accountId,
    deadline: s.schedule.deadline,
    daysLeft: daysLeft(s.schedule, now),
    status,
    ...(missed ? { missed } : {}),
    steps: record?.steps ?? [],
    offers: record?.offers ?? [],
    createdAt: record?.createdAt ?? '',
    updatedAt: record?.updatedAt ?? '',
  };
}

/** Before a start: the offers as CPP lists them (nothing verified yet). */
async function notStarted(accountId: string): Promise<Checklist> {
  const offers = (await services().interactive.cpp.listOffers(accountId)).filter(isChecklistOffer);
  const at = new Date().toISOString();
  const { createdAt: _c, updatedAt: _u, ...rest } = view(accountId, undefined);
  void [_c, _u];
  return {
    ...rest,
    createdAt: '',
    updatedAt: '',
    offers: offers.map((o) => ({
      offerId: o.id,
      name: o.name,
      kind: o.kind,
      state:
        o.kind === BUSINESS_CENTRAL
          ? 'excluded'
          : o.inAppSource
            ? 'ready-to-submit'
            : 'needs-appsource-offer',
      ...(o.kind === BUSINESS_CENTRAL ? { reason: EXCLUDED_REASON } : {}),
      updatedAt: at,
    })),
  };
}

const notStartedError = (): ConflictError =>
  new ConflictError(
    'not-started',
    'The Dynamics 365 checklist has not been started for this account: start it first (POST …/d365).',
  );

/** GET /api/accounts/{accountId}/d365 */
export function getChecklist(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const record = await services().checklists.get(accountId);
    return json(200, record ? view(accountId, record) : await notStarted(accountId));
  });
}

const running = (s: { runtimeStatus?: unknown } | undefined): boolean =>
  !!s && ['Running', 'Pending', 'ContinuedAsNew', 'Suspended'].includes(String(s.runtimeStatus));
/** How long a restart waits for the offer workflows it stopped to end. */
const ORPHAN_WAIT_MS = 5_000;
/** A checklist workflow that ended without completing (or is gone): nothing would ever happen again. */
const stopped = (s: { runtimeStatus?: unknown } | undefined): boolean =>
  !s || ['Failed', 'Terminated', 'Canceled'].includes(String(s.runtimeStatus));

/**
 * Starts a checklist again whose workflow failed or was terminated (same instance id): the recorded
 * steps, offers and audit stay, what was done stays done (D365ChecklistInput.resume), and offers are
 * taken up where they were (a submission in certification or approved is looked at again, never
 * submitted twice). Offer workflows the dead one left running are stopped first: the new one owns them.
 */
async function restart(
  client: df.DurableClient,
  caller: Caller,
  record: ChecklistRecord,
  status: { runtimeStatus?: unknown; input?: unknown } | undefined,
  body: { premiumTier?: boolean | undefined },
): Promise<ChecklistRecord> {
  const s = services();
  const { accountId } = record;
  const orphans: string[] = [];
  for (const o of record.offers) {
    const id = offerInstanceId(accountId, o.offerId);
    if (running(await statusOf(client, id))) {
      await client.terminate(id, 'its checklist was started again');
      orphans.push(id);
    }
  }
  // A termination is a queued message: the new workflow can only take an offer over once it landed.
  // (Should one take longer, that offer shows `error` and "check again" takes it over.)
  const end = Date.now() + ORPHAN_WAIT_MS;
  for (const id of orphans)
    while (running(await statusOf(client, id)) && Date.now() < end)
      await new Promise((r) => setTimeout(r, 100));
  const before = (status?.input ?? {}) as Partial<D365ChecklistInput>;
  const now = new Date().toISOString();
  await client.startNew('d365Checklist', {
    instanceId: checklistInstanceId(accountId),
    input: {
      accountId,
      requestedBy: caller.email,
      createdAt: record.createdAt || now,
      premiumTier: body.premiumTier ?? before.premiumTier ?? false,
      checkSeconds: s.config.D365_CERTIFICATION_CHECK_SECONDS,
      resume: { steps: record.steps, offers: record.offers, at: now },
    } satisfies D365ChecklistInput,
  });
  await s.checklists.audit(accountId, [
    requestEntry(
      caller,
      'restart',
      'accepted',
      `the checklist workflow had ${status ? String(status.runtimeStatus).toLowerCase() : 'gone'}: started again`,
    ),
  ]);
  return record;
}

/**
 * POST /api/accounts/{accountId}/d365: starts the checklist (one per account; a second start returns it).
 * On a running checklist it is "check again": what can be read is read again, and offers waiting for a
 * resubmission (failed certification, refused platform) are submitted again.
 */
export function startChecklist(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, checklistStartSchema);
    const s = services();
    const instanceId = checklistInstanceId(accountId);
    const record = await s.checklists.get(accountId);
    const status = await statusOf(client, instanceId);
    if (record && stopped(status))
      return json(202, view(accountId, await restart(client, caller, record, status, body)));
    if (record || running(status)) {
      if (running(status)) {
        await client.raiseEvent(instanceId, 'Recheck', { by: caller.email });
        for (const o of record?.offers ?? []) {
          const waits =
            o.state === 'certification-failed' ||
            o.stalled === true ||
            (o.state === 'ready-to-submit' && o.reason === PLATFORM_REASON) ||
            (o.state === 'needs-appsource-offer' && o.reason?.startsWith('Partner Center refused'));
          if (waits)
            await client
              .raiseEvent(offerInstanceId(accountId, o.offerId), 'Resubmit', { by: caller.email })
              // An offer workflow that failed is started again by the checklist on its Recheck.
              .catch(() => undefined);
        }
      }
      await s.checklists.audit(accountId, [requestEntry(caller, 'check-again', 'accepted')]);
      return json(202, view(accountId, record ?? (await s.checklists.get(accountId))));
    }
    const offers = (await s.interactive.cpp.listOffers(accountId)).filter(isChecklistOffer);
    if (!offers.some((o) => o.kind !== BUSINESS_CENTRAL))
      throw new ConflictError(
        'no-d365-offers',
        'This account has no Dynamics 365 or PowerApps offer: there is no checklist to follow.',
      );
    const now = new Date().toISOString();
    try {
      await client.startNew('d365Checklist', {
        instanceId,
        input: {
          accountId,
          requestedBy: caller.email,
          createdAt: now,
          premiumTier: body.premiumTier ?? false,
          checkSeconds: s.config.D365_CERTIFICATION_CHECK_SECONDS,
        } satisfies D365ChecklistInput,
      });
    } catch (e) {
      // A concurrent start won: it is the one checklist.
      if (!running(await client.getStatus(instanceId).catch(() => undefined))) throw e;
    }
    await s.checklists.audit(accountId, [requestEntry(caller, 'start-requested', 'accepted')]);
    const started = await notStarted(accountId);
    return json(202, { ...started, status: 'in-progress' });
  });
}

/** POST /api/accounts/{accountId}/d365/attest: the owner confirms a step nothing can be read for. */
export function attestStep(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const body = await parseBody(req, attestBodySchema);
    const s = services();
    const record = await s.checklists.get(accountId);
    if (!record) throw notStartedError();
    const step = record.steps.find((x) => x.name === body.step);
    if (step?.state !== 'done') {
      const status = await client.getStatus(checklistInstanceId(accountId)).catch(() => undefined);
      if (!running(status)) throw notStartedError();
      await client.raiseEvent(checklistInstanceId(accountId), 'Attest', {
        step: body.step,
        by: caller.email,
      });
    }
    await s.checklists.audit(accountId, [
      requestEntry(
        caller,
        `attest:${body.step}`,
        step?.state === 'done' ? 'already-done' : 'accepted',
      ),
    ]);
    return json(202, view(accountId, record));
  });
}

/** POST /api/accounts/{accountId}/d365/offers/{offerId}/go-live: 409 unless `ready-to-go-live`. */
export function goLive(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const parsed = offerIdSchema.safeParse(req.params.offerId);
    if (!parsed.success)
      throw new ValidationError('The offer id in the path is not valid.', [
        { path: 'offerId', message: parsed.error.issues[0]!.message },
      ]);
    await parseBody(req, emptyBodySchema);
    const s = services();
    const record = await s.checklists.get(accountId);
    if (!record) throw notStartedError();
    const offer = record.offers.find((o) => o.offerId === parsed.data);
    if (!offer)
      throw new NotFoundError('offer-not-found', 'The checklist has no offer with this id.');
    if (offer.state !== 'ready-to-go-live') {
      await s.checklists.audit(accountId, [
        requestEntry(caller, `go-live:${offer.offerId}`, 'refused: not-ready-to-go-live'),
      ]);
      throw new ConflictError(
        'not-ready-to-go-live',
        `The offer is ${offer.state}: only an offer approved in certification (ready-to-go-live) can go live.`,
        { state: offer.state },
      );
    }
    await client.raiseEvent(offerInstanceId(accountId, offer.offerId), 'GoLive', {
      by: caller.email,
    });
    await s.checklists.audit(accountId, [
      requestEntry(caller, `go-live:${offer.offerId}`, 'accepted'),
    ]);
    return json(202, view(accountId, record));
  });
}
