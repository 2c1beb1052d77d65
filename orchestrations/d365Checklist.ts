// d365Checklist (one per account) and d365Offer (one per offer): R-D365's checklist to go-live.
// Deterministic: time from currentUtcDateTime, no I/O; waits are durable timers and owner events.
import * as df from 'durable-functions';
import {
  ATTESTABLE,
  EXCLUDED_REASON,
  NEXT_ACTIONS,
  OFFER_NEXT_ACTIONS,
  STALLED_NEXT_ACTION,
  PLATFORM_REASON,
  BUSINESS_CENTRAL,
  offerInstanceId,
  type ChecklistChange,
  type ChecklistOffer,
  type ChecklistStep,
  type D365StepName,
  type OfferState,
} from '../lib/domain/d365.js';
import type { KeyedAuditEntry, PartnerRefusal } from '../lib/domain/migration.js';
import {
  callD365Activity,
  waitForD365Event,
  type D365ChecklistInput,
  type D365Activities,
  type D365Events,
  type D365Facts,
  type D365OfferInput,
} from './names.js';

const RETRY = new df.RetryOptions(2000, 5);
RETRY.backoffCoefficient = 2;

const PRODUCT_KIND: Record<string, string> = {
  'dynamics-365-customer-engagement': 'Customer Engagement',
  powerapps: 'Customer Engagement',
  'dynamics-365-operations': 'Operations',
};

/** A recorder of changes with audit keys from the orchestration's own clock and counter. */
function recorder(ctx: df.OrchestrationContext, accountId: string, scope: string) {
  let seq = 0;
  return function* record(
    change: Omit<ChecklistChange, 'updatedAt'>,
    action: string,
    outcome: string,
    actor = 'system',
    detail?: string,
    before: { action: string; outcome: string; actor: string; detail?: string }[] = [],
  ): Generator<df.Task, void, unknown> {
    const at = ctx.df.currentUtcDateTime.toISOString();
    const audit: KeyedAuditEntry[] = [
      ...before,
      { action, outcome, actor, ...(detail ? { detail } : {}) },
    ].map((a) => ({ key: `${at}~${scope}~${String(seq++).padStart(4, '0')}`, at, ...a }));
    yield callD365Activity(ctx, 'd365Record', RETRY, {
      accountId,
      change: { ...change, updatedAt: at },
      audit,
    });
  };
}

const GATES: D365StepName[] = ['pmc-migrated', 'marketplace-enrolled', 'isv-addendum'];

export function* d365Checklist(ctx: df.OrchestrationContext): Generator<df.Task, string, unknown> {
  const input = ctx.df.getInput<D365ChecklistInput>();
  const now = (): string => ctx.df.currentUtcDateTime.toISOString();
  const record = recorder(ctx, input.accountId, 'checklist');

  const facts = (yield callD365Activity(ctx, 'd365Facts', RETRY, {
    accountId: input.accountId,
    offers: true,
  })) as D365Facts;
  const stepOf = (
    name: D365StepName,
    done: boolean,
    detail: string,
    at = now(),
  ): ChecklistStep => ({
    name,
    state: done ? 'done' : 'action-required',
    detail,
    ...(done ? {} : { nextAction: NEXT_ACTIONS[name] }),
    updatedAt: at,
  });
  const readSteps = (f: D365Facts): ChecklistStep[] => [
    stepOf(
      'pmc-migrated',
      f.pmcMigrated === true,
      f.pmcMigrated === true
        ? `The MPN profile (${f.mpnId}) is in Partner Center.`
        : f.mpnId
          ? `The MPN profile (${f.mpnId}) is still in the Partner Membership Center.`
          : 'No MPN ID is known for this account, so nothing can be read.',
    ),
    stepOf(
      'marketplace-enrolled',
      f.marketplaceEnrolled === true,
      f.marketplaceEnrolled === true
        ? 'The MPN profile shows the commercial marketplace program.'
        : 'The MPN profile does not say: confirm it.',
    ),
    stepOf('isv-addendum', false, 'Partner Center does not show this: confirm it.'),
    stepOf(
      'billing-complete',
      f.billingComplete === true,
      f.billingComplete === true
        ? 'The billing profile is complete.'
        : f.billingComplete === false
          ? 'The billing profile is incomplete.'
          : 'No billing profile could be read.',
    ),
  ];
  const resume = input.resume;
  /** What was read or confirmed stays done; what is read done now becomes done. */
  const keepDone = (was: ChecklistStep[], fresh: ChecklistStep[]): ChecklistStep[] =>
    fresh.map((n) => {
      const s = was.find((x) => x.name === n.name);
      return s && (s.state === 'done' || n.state !== 'done') ? s : n;
    });
  let steps = resume ? keepDone(resume.steps, readSteps(facts)) : readSteps(facts);
  const previousOf = (offerId: string): ChecklistOffer | undefined =>
    resume?.offers.find((o) => o.offerId === offerId);
  const finished = (o: ChecklistOffer | undefined): boolean =>
    o?.state === 'live' || o?.state === 'excluded';
  const fresh: ChecklistOffer[] = facts.offers.map((o) => ({
    offerId: o.offerId,
    name: o.name,
    kind: o.kind,
    state:
      o.kind === BUSINESS_CENTRAL
        ? 'excluded'
        : o.productId
          ? 'ready-to-submit'
          : 'needs-appsource-offer',
    ...(o.kind === BUSINESS_CENTRAL ? { reason: EXCLUDED_REASON } : {}),
    ...(o.productId ? { productId: o.productId } : {}),
    ...(o.kind !== BUSINESS_CENTRAL && !o.productId
      ? {
          reason: 'Not in AppSource yet.',
          nextAction: OFFER_NEXT_ACTIONS['needs-appsource-offer'],
        }
      : {}),
    ...(o.kind !== BUSINESS_CENTRAL && o.productId
      ? { nextAction: 'Nothing: it is submitted once the steps above are done.' }
      : {}),
    updatedAt: now(),
  }));
  // Started again: every offer shows what it showed (a live one stays live), until its workflow moves it.
  const offers = fresh.map((o) => previousOf(o.offerId) ?? o);
  yield* record(
    {
      createdAt: input.createdAt,
      steps,
      offers: offers.map((offer, index) => ({ index, offer })),
    },
    resume ? 'restart' : 'start',
    'accepted',
    input.requestedBy,
    `${offers.length} offer(s), ${offers.filter((o) => o.state === 'excluded').length} excluded${resume ? `, ${offers.filter((o) => o.state === 'live').length} live already` : ''}`,
  );

  // The owner's answers: one waiter per event name at a time (a new one only once it was answered).
  let attest = waitForD365Event(ctx, 'Attest');
  let recheck = waitForD365Event(ctx, 'Recheck');
  /** set by "check again": offer workflows that failed are started again */
  let retryFailedOffers = false;

  /** Handles whichever answers arrived; records the steps when they changed. */
  function* answers(): Generator<df.Task, void, unknown> {
    if (attest.isCompleted) {
      const ev = attest.result as D365Events['Attest'];
      attest = waitForD365Event(ctx, 'Attest');
      const current = steps.find((s) => s.name === ev.step);
      if ((ATTESTABLE as readonly string[]).includes(ev.step) && current?.state !== 'done') {
        steps = steps.map((s) =>
          s.name === ev.step
            ? { name: s.name, state: 'done', detail: `Confirmed by ${ev.by}.`, updatedAt: now() }
            : s,
        );
        yield* record({ steps }, `attest:${ev.step}`, 'accepted', ev.by);
      } else yield* record({}, `attest:${ev.step}`, 'already-done', ev.by);
    }
    if (recheck.isCompleted) {
      const ev = recheck.result as D365Events['Recheck'];
      recheck = waitForD365Event(ctx, 'Recheck');
      const f = (yield callD365Activity(ctx, 'd365Facts', RETRY, {
        accountId: input.accountId,
        offers: false,
      })) as D365Facts;
      steps = keepDone(steps, readSteps(f));
      yield* record({ steps }, 'recheck', 'done', ev.by);
      retryFailedOffers = true;
    }
  }
  const waiting = (): df.Task[] => [attest, recheck].filter((t) => !t.isCompleted);

  // R-D365-1/2/4: offers are submitted once the membership, the enrollment and the addendum are done.
  while (!GATES.every((g) => steps.find((s) => s.name === g)?.state === 'done')) {
    if (!attest.isCompleted && !recheck.isCompleted) yield ctx.df.Task.any(waiting());
    yield* answers();
  }

  // R-D365-3/6: every offer (not Business Central) in parallel, each in its own orchestration. Each is
  // waited for on its own (not Task.all, which faults on the first failure and stops waiting for the
  // rest): one whose workflow failed shows `error`, and "check again" starts it again.
  const offerTask = (index: number, generation?: string): df.Task => {
    const o = facts.offers[index]!;
    const previous = generation === undefined ? previousOf(o.offerId) : undefined;
    const gen = generation ?? resume?.at;
    return ctx.df.callSubOrchestrator(
      'd365Offer',
      {
        accountId: input.accountId,
        index,
        offer: o,
        premiumTier: input.premiumTier,
        checkSeconds: input.checkSeconds,
        ...(previous ? { previous } : {}),
        ...(gen !== undefined ? { generation: gen } : {}),
      } satisfies D365OfferInput,
      offerInstanceId(input.accountId, o.offerId),
    );
  };
  let subs = new Map<number, df.Task>();
  facts.offers.forEach((o, index) => {
    if (o.kind !== BUSINESS_CENTRAL && !finished(previousOf(o.offerId)))
      subs.set(index, offerTask(index));
  });
  const failed = new Set<number>();
  /**
   * Waits for every offer workflow, each on its own: they are scheduled once (one Task.any), then
   * yielded one by one. A scheduled task must never go into a second Task.any/all: the library would
   * schedule it again (durable-protocol.md §6.1). Owner events arriving meanwhile wait in their buffer:
   * the offer workflows take their own (Resubmit, GoLive) directly.
   */
  function* offerWorkflows(): Generator<df.Task, void, unknown> {
    const waitFor = subs;
    subs = new Map();
    if (waitFor.size === 0) return;
    yield ctx.df.Task.any([...waitFor.values()]);
    for (const [index, t] of waitFor) {
      try {
        yield t;
      } catch (e) {
        failed.add(index);
        const o = offers[index]!;
        yield* record(
          {
            offers: [
              {
                index,
                offer: {
                  offerId: o.offerId,
                  name: o.name,
                  kind: o.kind,
                  state: o.state,
                  ...(o.productId ? { productId: o.productId } : {}),
                  reason: `The offer's workflow failed: ${failureText(e)}`,
                  nextAction: STALLED_NEXT_ACTION,
                  stalled: true,
                  updatedAt: now(),
                },
              },
            ],
          },
          'offer',
          'failed',
          'system',
          o.offerId,
        );
      }
    }
  }
  for (;;) {
    yield* offerWorkflows();
    if (retryFailedOffers) {
      retryFailedOffers = false;
      for (const index of failed) subs.set(index, offerTask(index, now()));
      failed.clear();
      continue;
    }
    if (failed.size === 0 && steps.every((s) => s.state === 'done')) break;
    if (!attest.isCompleted && !recheck.isCompleted) yield ctx.df.Task.any(waiting());
    yield* answers();
  }
  yield* record({}, 'checklist', 'completed');
  return 'completed';
}

/** A failure's reason, short and on one line (no bodies ever reach it: partner errors carry none). */
function failureText(r: unknown): string {
  const text = r instanceof Error ? r.message : typeof r === 'string' ? r : 'unknown failure';
  const line = text.split('\n')[0]!.trim();
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

export function* d365Offer(ctx: df.OrchestrationContext): Generator<df.Task, string, unknown> {
  const input = ctx.df.getInput<D365OfferInput>();
  const now = (): string => ctx.df.currentUtcDateTime.toISOString();
  const record = recorder(ctx, input.accountId, `offer~${input.offer.offerId}`);
  // Started again: the offer shows what it showed until this workflow moves it on.
  let offer: ChecklistOffer = input.previous ?? {
    offerId: input.offer.offerId,
    name: input.offer.name,
    kind: input.offer.kind,
    state: input.offer.productId ? 'ready-to-submit' : 'needs-appsource-offer',
    ...(input.offer.productId
      ? { productId: input.offer.productId, appSource: 'existing' as const }
      : {}),
    updatedAt: now(),
  };
  let by = 'system';
  function* set(
    state: OfferState,
    more: Partial<ChecklistOffer>,
    action: string,
    outcome: string,
    actor = 'system',
    before: { action: string; outcome: string; actor: string; detail?: string }[] = [],
  ): Generator<df.Task, void, unknown> {
    const { reason: _r, nextAction: _n, report: _p, stalled: _s, ...rest } = offer;
    void [_r, _n, _p, _s];
    offer = {
      ...rest,
      state,
      ...(OFFER_NEXT_ACTIONS[state] ? { nextAction: OFFER_NEXT_ACTIONS[state] } : {}),
      ...more,
      updatedAt: now(),
    };
    yield* record(
      { offers: [{ index: input.index, offer }] },
      action,
      outcome,
      actor,
      `${offer.offerId}${offer.reason ? `: ${offer.reason}` : ''}`,
      before,
    );
  }
  /** Waits for the owner's resubmission (POST …/d365); returns who asked. */
  function* resubmitted(): Generator<df.Task, string, unknown> {
    const ev = (yield waitForD365Event(ctx, 'Resubmit')) as D365Events['Resubmit'];
    return ev.by;
  }
  /**
   * Calls an activity under the retry policy. When it still fails (a partner down for longer than the
   * retries last), the offer shows `error` with the reason and waits for "check again" (POST …/d365);
   * then it shows what it showed before and the call is made again. The workflow itself never fails.
   */
  function* attempt<N extends keyof D365Activities>(
    name: N,
    action: string,
    what: string,
    args: D365Activities[N]['in'],
  ): Generator<df.Task, D365Activities[N]['out'], unknown> {
    for (;;) {
      try {
        return (yield callD365Activity(ctx, name, RETRY, args)) as D365Activities[N]['out'];
      } catch (e) {
        const before = offer;
        yield* set(
          offer.state,
          {
            reason: `Partner Center could not ${what}, even after retrying: ${failureText(e)}`,
            nextAction: STALLED_NEXT_ACTION,
            stalled: true,
          },
          action,
          'failed',
        );
        by = yield* resubmitted();
        offer = { ...before, updatedAt: now() };
        yield* record(
          { offers: [{ index: input.index, offer }] },
          action,
          'retry',
          by,
          offer.offerId,
        );
      }
    }
  }

  // R-D365-3: an AppSource offer of the matching kind when there is none.
  let productId = input.offer.productId ?? input.previous?.productId;
  while (!productId) {
    const created = yield* attempt(
      'd365CreateProduct',
      'create-appsource-offer',
      'create the AppSource offer',
      {
        accountId: input.accountId,
        offerId: offer.offerId,
        name: offer.name,
        kind: offer.kind,
      },
    );
    if ('productId' in created) {
      productId = created.productId;
      yield* set(
        'ready-to-submit',
        {
          productId,
          appSource: 'created',
          reason: `A ${PRODUCT_KIND[offer.kind] ?? offer.kind} offer was created in AppSource.`,
        },
        'create-appsource-offer',
        'done',
      );
    } else {
      yield* set(
        'needs-appsource-offer',
        {
          reason: `Partner Center refused to create the AppSource offer (${created.reason}).`,
          nextAction: 'Try again: choose "Check again" (POST …/d365).',
        },
        'create-appsource-offer',
        'refused',
      );
      yield* resubmitted();
    }
  }

  let supported = input.offer.supportsLatestPlatform;
  let round = 0;
  // Started again while a submission was in certification or approved: that submission is looked at
  // again, never submitted twice.
  let adopt =
    input.previous?.submissionId &&
    (input.previous.state === 'in-certification' || input.previous.state === 'ready-to-go-live')
      ? input.previous.submissionId
      : undefined;
  for (;;) {
    // R-D365-6: an app that does not support the latest platform is refused before submission.
    if (!supported) {
      yield* set(
        'ready-to-submit',
        { reason: PLATFORM_REASON, nextAction: 'Update the app, then choose "Check again".' },
        'submit',
        'refused: platform',
      );
      by = yield* resubmitted();
      supported = (yield* attempt('d365OfferPlatform', 'submit', 'read the offer', {
        accountId: input.accountId,
        offerId: offer.offerId,
      })).supported;
      continue;
    }
    let sub: { submissionId: string } | PartnerRefusal;
    if (adopt) {
      sub = { submissionId: adopt };
      adopt = undefined;
    } else {
      round++;
      sub = yield* attempt('d365Submit', 'submit', 'submit the offer for certification', {
        accountId: input.accountId,
        offerId: offer.offerId,
        productId,
        round,
        ...(input.generation !== undefined ? { generation: input.generation } : {}),
        premiumTier: input.premiumTier,
      });
    }
    if (!('submissionId' in sub)) {
      yield* set(
        'certification-failed',
        { reason: `Partner Center refused the submission (${sub.reason}).` },
        'submit',
        'refused',
        by,
      );
      by = yield* resubmitted();
      continue;
    }
    const submitted = {
      action: 'submit',
      outcome: 'done',
      actor: by,
      detail: `${offer.offerId}: submission ${sub.submissionId}${round > 1 ? ` (round ${round})` : ''}`,
    };
    // The result is looked at at once, then on a durable timer: no polling loop inside an activity.
    // A result there at once is recorded with the submission (one change, both audit entries).
    let result: { status: string; reasons: string[] };
    let pendingShown = false;
    for (;;) {
      result = yield* attempt(
        'd365Certification',
        'certification',
        'read the certification result',
        { accountId: input.accountId, productId, submissionId: sub.submissionId },
      );
      if (result.status !== 'Pending' && result.status !== 'Unknown') break;
      if (!pendingShown) {
        pendingShown = true;
        yield* set(
          'in-certification',
          {
            submissionId: sub.submissionId,
            reason: `Submitted for certification${round > 1 ? ` again (round ${round})` : ''}${input.premiumTier ? ', with a Premium-tier request' : ''}.`,
          },
          'submit',
          'done',
          by,
        );
      }
      yield ctx.df.createTimer(
        new Date(ctx.df.currentUtcDateTime.getTime() + input.checkSeconds * 1000),
      );
    }
    const before = pendingShown ? [] : [submitted];
    if (result.status === 'Failed') {
      yield* set(
        'certification-failed',
        {
          submissionId: sub.submissionId,
          report: { status: result.status, reasons: result.reasons },
          reason: `Certification failed: ${result.reasons.join(' ')}`,
        },
        'certification',
        'failed',
        'system',
        before,
      );
      by = yield* resubmitted();
      continue;
    }
    yield* set(
      'ready-to-go-live',
      {
        submissionId: sub.submissionId,
        report: { status: result.status, reasons: result.reasons },
        reason:
          result.status === 'PassedWithNotes'
            ? `Approved, with notes: ${result.reasons.join(' ')}`
            : 'Approved: it can go live.',
      },
      'certification',
      result.status,
      'system',
      before,
    );
    // R-D365-6: after the approval the owner chooses "go live".
    const live = (yield waitForD365Event(ctx, 'GoLive')) as D365Events['GoLive'];
    const promoted = yield* attempt('d365Promote', 'go-live', 'take the offer live', {
      accountId: input.accountId,
      offerId: offer.offerId,
      productId,
      submissionId: sub.submissionId,
    });
    if (!('promoted' in promoted)) {
      yield* set(
        'certification-failed',
        { reason: `Partner Center refused to go live (${promoted.reason}).` },
        'go-live',
        'refused',
        live.by,
      );
      by = yield* resubmitted();
      continue;
    }
    yield* set('live', { submissionId: sub.submissionId }, 'go-live', 'done', live.by);
    return 'live';
  }
}
