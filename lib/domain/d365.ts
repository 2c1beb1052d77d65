// The Dynamics 365 / PowerApps checklist (R-D365, api.md "Checklist"): its vocabulary and pure rules.

export const D365_STEPS = [
  'pmc-migrated',
  'marketplace-enrolled',
  'isv-addendum',
  'billing-complete',
] as const;
export type D365StepName = (typeof D365_STEPS)[number];
export const D365_STEP_STATES = ['done', 'action-required', 'waiting'] as const;
export type D365StepState = (typeof D365_STEP_STATES)[number];
/** Steps the owner can attest where nothing can be read (api.md attest). */
export const ATTESTABLE = ['pmc-migrated', 'marketplace-enrolled', 'isv-addendum'] as const;
export type AttestableStep = (typeof ATTESTABLE)[number];

export const OFFER_STATES = [
  'needs-appsource-offer',
  'ready-to-submit',
  'in-certification',
  'certification-failed',
  'ready-to-go-live',
  'live',
  'excluded',
] as const;
export type OfferState = (typeof OFFER_STATES)[number];
export const CHECKLIST_STATUSES = ['not-started', 'in-progress', 'completed', 'overdue'] as const;
export type ChecklistStatusValue = (typeof CHECKLIST_STATUSES)[number];

export const D365_KINDS = [
  'dynamics-365-customer-engagement',
  'powerapps',
  'dynamics-365-operations',
] as const;
export const BUSINESS_CENTRAL = 'dynamics-365-business-central';

/** The ingestion API's product type for an offer kind: PowerApps and CE are Customer Engagement. */
export function productTypeOf(kind: string): string | undefined {
  if (kind === 'dynamics-365-customer-engagement' || kind === 'powerapps')
    return 'AzureDynamics365ForCustomerEngagement';
  if (kind === 'dynamics-365-operations') return 'AzureDynamics365ForOperations';
  return undefined;
}

export const isChecklistOffer = (o: { kind: string; status: string }): boolean =>
  ((D365_KINDS as readonly string[]).includes(o.kind) || o.kind === BUSINESS_CENTRAL) &&
  o.status !== 'deprecated';

export const EXCLUDED_REASON =
  'Dynamics 365 Business Central offers are not part of this move: they stay as they are, nothing is changed for them.';
export const PLATFORM_REASON =
  'The app does not support the latest Business Applications platform: it was not submitted. Update the app, then choose "Check again" (POST …/d365) to submit it.';

export interface ChecklistStep {
  name: D365StepName;
  state: D365StepState;
  /** what was found, or who attested it */
  detail?: string;
  /** the owner's next action, while the step is not done */
  nextAction?: string;
  updatedAt: string;
}

export interface ChecklistOffer {
  offerId: string;
  name: string;
  kind: string;
  state: OfferState;
  reason?: string;
  nextAction?: string;
  productId?: string;
  /** `created` when this checklist created the AppSource offer (R-D365-3) */
  appSource?: 'existing' | 'created';
  submissionId?: string;
  /** the certification report of the latest submission */
  report?: { status: string; reasons: string[] };
  /**
   * A partner call failed after every retry: the offer keeps the state it was in (api.md's states), the
   * reason says what failed, and "check again" (POST …/d365) tries it again.
   */
  stalled?: boolean;
  updatedAt: string;
}

/** The next action of a stalled offer. */
export const STALLED_NEXT_ACTION =
  'Choose "Check again" (POST …/d365) to try again; if it keeps failing, open a support ticket.';

/** One change of the read model: steps and/or offers (by their index in the checklist). */
export interface ChecklistChange {
  steps?: ChecklistStep[];
  offers?: { index: number; offer: ChecklistOffer }[];
  createdAt?: string;
  updatedAt: string;
}

/** The read model's row, as stored (status is derived when read). */
export interface ChecklistRecord {
  accountId: string;
  steps: ChecklistStep[];
  offers: ChecklistOffer[];
  createdAt: string;
  updatedAt: string;
}

export interface Checklist extends ChecklistRecord {
  deadline: string;
  daysLeft?: number;
  status: ChecklistStatusValue;
  /** once overdue: what was not finished by the deadline */
  missed?: string[];
}

export const NEXT_ACTIONS: Record<D365StepName, string> = {
  'pmc-migrated':
    'Move your MPN membership from the Partner Membership Center to Partner Center, then confirm it here (attest "pmc-migrated").',
  'marketplace-enrolled':
    'Enroll in the commercial marketplace program in Partner Center, then confirm it here (attest "marketplace-enrolled").',
  'isv-addendum':
    'Accept the Business Applications ISV addendum in Partner Center (Agreements), then confirm it here (attest "isv-addendum").',
  'billing-complete':
    'Complete your billing information in Partner Center, then choose "Check again" (POST …/d365).',
};

export const OFFER_NEXT_ACTIONS: Partial<Record<OfferState, string>> = {
  'needs-appsource-offer': 'Nothing: an AppSource offer of the matching kind is created for you.',
  'in-certification': 'Nothing: wait for the certification result.',
  'certification-failed':
    'Fix what the report says, then choose "Check again" (POST …/d365) to resubmit.',
  'ready-to-go-live': 'Choose "Go live" for this offer.',
};

const isDoneOffer = (o: ChecklistOffer): boolean => o.state === 'live' || o.state === 'excluded';

/** completed once every step is done and every offer live (or excluded); overdue after the deadline. */
export function checklistStatus(
  r: ChecklistRecord | undefined,
  deadline: string,
  now: Date,
): { status: ChecklistStatusValue; missed?: string[] } {
  if (!r) return { status: 'not-started' };
  const left = whatIsLeftOf(r);
  if (left.steps.length === 0 && left.offers.length === 0) return { status: 'completed' };
  if (now.getTime() > Date.parse(deadline))
    return {
      status: 'overdue',
      missed: [
        ...left.steps.map((s) => `step ${s}`),
        ...left.offers.map((o) => `offer ${o.offerId} (${o.state})`),
      ],
    };
  return { status: 'in-progress' };
}

export function whatIsLeftOf(r: ChecklistRecord): {
  steps: D365StepName[];
  offers: { offerId: string; state: OfferState | 'stalled' }[];
} {
  return {
    steps: r.steps.filter((s) => s.state !== 'done').map((s) => s.name),
    offers: r.offers
      .filter((o) => !isDoneOffer(o))
      .map((o) => ({ offerId: o.offerId, state: o.stalled ? ('stalled' as const) : o.state })),
  };
}

export const checklistInstanceId = (accountId: string): string => `d365-${accountId}`;
export const offerInstanceId = (accountId: string, offerId: string): string =>
  `d365-${accountId}--${offerId}`;
