// d365Checklist (one per account) and d365Offer (one per offer): R-D365's checklist to go-live.
// Deterministic: time from currentUtcDateTime, no I/O; waits are durable timers and owner events.
import * as df from 'durable-functions';
import {
  ATTESTABLE,
  EXCLUDED_REASON,
  NEXT_ACTIONS,
  OFFER_NEXT_ACTIONS,
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
  let steps = readSteps(facts);
  const offers: ChecklistOffer[] = facts.offers.map((o) => ({
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
  yield* record(
    {
      createdAt: input.createdAt,
      steps,
      offers: offers.map((offer, index) => ({ index, offer })),
    },
    'start',
    'accepted',
    input.requestedBy,
    `${offers.length} offer(s), ${offers.filter((o) => o.state === 'excluded').length} excluded`,
  );

  // The owner's answers: one waiter per event name at a time (a new one only once it was answered).
  let attest = waitForD365Event(ctx, 'Attest');
  let recheck = waitForD365Event(ctx, 'Recheck');

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
      // What was read or confirmed stays done; what is read done now becomes done.
      const fresh = readSteps(f);
      steps = steps.map((s) => {
        const n = fresh.find((x) => x.name === s.name)!;
        return s.state === 'done' || n.state !== 'done' ? s : n;
      });
      yield* record({ steps }, 'recheck', 'done', ev.by);
    }
  }
  const waiting = (): df.Task[] => [attest, recheck].filter((t) => !t.isCompleted);

  // R-D365-1/2/4: offers are submitted once the membership, the enrollment and the addendum are done.
  while (!GATES.every((g) => steps.find((s) => s.name === g)?.state === 'done')) {
    if (!attest.isCompleted && !recheck.isCompleted) yield ctx.df.Task.any(waiting());
    yield* answers();
  }

  // R-D365-3/6: every offer (not Business Central) in parallel, each in its own orchestration.
  const subs = facts.offers.flatMap((o, index) =>
    o.kind === BUSINESS_CENTRAL
      ? []
      : [
          ctx.df.callSubOrchestrator(
            'd365Offer',
            {
              accountId: input.accountId,
              index,
              offer: o,
              premiumTier: input.premiumTier,
              checkSeconds: input.checkSeconds,
            } satisfies D365OfferInput,
            offerInstanceId(input.accountId, o.offerId),
          ),
        ],
  );
  const all = subs.length ? ctx.df.Task.all(subs) : undefined;
  const offersDone = (): boolean => !all || all.isCompleted || all.isFaulted;
  for (;;) {
    if (offersDone() && steps.every((s) => s.state === 'done')) break;
    if (!attest.isCompleted && !recheck.isCompleted) {
      const race = [...(offersDone() ? [] : [all!]), ...waiting()];
      yield ctx.df.Task.any(race);
    }
    yield* answers();
  }
  yield* record({}, 'checklist', 'completed');
  return 'completed';
}

export function* d365Offer(ctx: df.OrchestrationContext): Generator<df.Task, string, unknown> {
  const input = ctx.df.getInput<D365OfferInput>();
  const now = (): string => ctx.df.currentUtcDateTime.toISOString();
  const record = recorder(ctx, input.accountId, `offer~${input.offer.offerId}`);
  let offer: ChecklistOffer = {
    offerId: input.offer.offerId,
    name: input.offer.name,
    kind: input.offer.kind,
    state: input.offer.productId ? 'ready-to-submit' : 'needs-appsource-offer',
    ...(input.offer.productId
      ? { productId: input.offer.productId, appSource: 'existing' as const }
      : {}),
    updatedAt: now(),
  };
  function* set(
    state: OfferState,
    more: Partial<ChecklistOffer>,
    action: string,
    outcome: string,
    actor = 'system',
    before: { action: string; outcome: string; actor: string; detail?: string }[] = [],
  ): Generator<df.Task, void, unknown> {
    const { reason: _r, nextAction: _n, report: _p, ...rest } = offer;
    void [_r, _n, _p];
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

  // R-D365-3: an AppSource offer of the matching kind when there is none.
  let productId = input.offer.productId;
  while (!productId) {
    const created = (yield callD365Activity(ctx, 'd365CreateProduct', RETRY, {
      accountId: input.accountId,
      offerId: offer.offerId,
      name: offer.name,
      kind: offer.kind,
    })) as { productId: string } | PartnerRefusal;
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
  let by = 'system';
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
      supported = (
        (yield callD365Activity(ctx, 'd365OfferPlatform', RETRY, {
          accountId: input.accountId,
          offerId: offer.offerId,
        })) as { supported: boolean }
      ).supported;
      continue;
    }
    round++;
    const sub = (yield callD365Activity(ctx, 'd365Submit', RETRY, {
      accountId: input.accountId,
      offerId: offer.offerId,
      productId,
      round,
      premiumTier: input.premiumTier,
    })) as { submissionId: string } | PartnerRefusal;
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
      result = (yield callD365Activity(ctx, 'd365Certification', RETRY, {
        accountId: input.accountId,
        productId,
        submissionId: sub.submissionId,
      })) as { status: string; reasons: string[] };
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
    const promoted = (yield callD365Activity(ctx, 'd365Promote', RETRY, {
      accountId: input.accountId,
      offerId: offer.offerId,
      productId,
      submissionId: sub.submissionId,
    })) as { promoted: true } | PartnerRefusal;
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
