// One typed registry of activity and event names (conventions §3): every `yield` is checked against it.
import type * as df from 'durable-functions';
import type {
  CopyCategory,
  GateDecision,
  KeyedAuditEntry,
  MigrationStatus,
  MpnCheck,
  PartnerRefusal,
  TenantCheck,
} from '../lib/domain/migration.js';
import type { ReminderSchedule, ReminderSlot } from '../lib/domain/reminders.js';
import type {
  AttestableStep,
  ChecklistChange,
  ChecklistOffer,
  ChecklistStep,
} from '../lib/domain/d365.js';

/** How one category's copy ended: all written, stopped by the attempt's gate (cancel), or refused. */
export type CopyOutcome =
  | {
      kind: 'copied';
      count: number;
      /** R-COPY-1: offers that stay in CPP, by status (e.g. `{ draft: 30 }`) */
      left?: Record<string, number>;
    }
  | { kind: 'stopped'; count: number }
  | PartnerRefusal;

export interface AccountFacts {
  exists: boolean;
  signIn: 'work' | 'msa';
  tenantId: string | null;
  mpnId: string | null;
  migrated: boolean;
  workEmailHint?: string;
}

/** Input and output of each activity. Data never travels through history: ids, counts and verdicts only. */
export interface Activities {
  loadAccount: { in: { accountId: string }; out: AccountFacts };
  /** `mpnId`: the MPN ID the owner gave, when it is not the account's own (R-TEN-3) */
  checkTenant: {
    in: { accountId: string; workEmail: string; mpnId?: string | null };
    out: TenantCheck;
  };
  checkMpn: { in: { accountId: string; mpnId: string | null; tenantId: string }; out: MpnCheck };
  copyCategory: {
    in: { accountId: string; category: CopyCategory; attempt: number };
    out: CopyOutcome;
  };
  verifyCopy: {
    in: { accountId: string };
    out: { ok: boolean; mismatches: string[] } | PartnerRefusal;
  };
  closeGate: {
    in: { accountId: string; attempt: number; decision: GateDecision };
    out: { decision: GateDecision };
  };
  switchOver: {
    in: { accountId: string; attempt: number };
    out: { kind: 'switched'; partnerCenterUrl: string } | PartnerRefusal;
  };
  startBackSync: { in: { accountId: string }; out: { instanceId: string } };
  notifyOwner: {
    in: { accountId: string; attempt: number; to: string; partnerCenterUrl: string };
    out: { sent: boolean };
  };
  recordStatus: { in: { status: MigrationStatus; audit: KeyedAuditEntry[] }; out: null };
  syncBack: { in: { accountId: string; round: string }; out: { added: number; removed: number } };
}

export type ActivityName = keyof Activities;

export interface Events {
  WorkEmail: { workEmail: string; by: string };
  MpnId: { mpnId: string; by: string };
  Cancel: { by: string };
}

/** A typed `callActivity`: the name fixes the input and the output. */
export function callActivity<N extends ActivityName>(
  ctx: df.OrchestrationContext,
  name: N,
  input: Activities[N]['in'],
): df.Task {
  return ctx.df.callActivity(name, input);
}

export function callActivityWithRetry<N extends ActivityName>(
  ctx: df.OrchestrationContext,
  name: N,
  retry: df.RetryOptions,
  input: Activities[N]['in'],
): df.Task {
  return ctx.df.callActivityWithRetry(name, retry, input);
}

export function waitForEvent<E extends keyof Events>(
  ctx: df.OrchestrationContext,
  name: E,
): df.Task {
  return ctx.df.waitForExternalEvent(name);
}

export interface MigrationInput {
  accountId: string;
  attempt: number;
  workEmail?: string;
  /** R-TEN-1: `sign-in` when `workEmail` is the owner's CPP sign-in address, taken as the default */
  workEmailFrom?: 'given' | 'sign-in';
  mpnId?: string;
  requestedBy: string;
  createdAt: string;
}

export interface BackSyncInput {
  accountId: string;
  until: string;
  intervalSeconds: number;
}

/** The reminder sweep's activities (R-DUE-2): pages and counts through history, never mail or addresses. */
export interface ReminderActivities {
  refreshSubjects: { in: Record<string, never>; out: { changed: number; version: number } };
  remindPage: {
    in: { slot: ReminderSlot; shard: number; continuationToken?: string; sweepAt: string };
    out: { queued: number; already: number; skipped: number; continuationToken?: string };
  };
  deliverMail: {
    in: { bucket?: string };
    out: { sent: number; failed: number; remaining: number };
  };
}

export function callReminderActivity<N extends keyof ReminderActivities>(
  ctx: df.OrchestrationContext,
  name: N,
  retry: df.RetryOptions,
  input: ReminderActivities[N]['in'],
): df.Task {
  return ctx.df.callActivityWithRetry(name, retry, input);
}

export interface ReminderSweepInput {
  /** The local day (in the deadline's zone) this sweep stands for; also in its instance id. */
  day: string;
  schedule: ReminderSchedule;
  shards: number;
  requestedBy: string;
}

export interface ReminderSweepResult {
  slot: string | null;
  queued: number;
  already: number;
  skipped: number;
  sent: number;
  pendingMail: number;
}

// ---------------------------------------------------------------- the D365 checklist (R-D365)

export interface D365OfferFacts {
  offerId: string;
  name: string;
  kind: string;
  supportsLatestPlatform: boolean;
  /** the AppSource product (ingestion API), when there is one; never looked up for Business Central */
  productId?: string;
}

export interface D365Facts {
  exists: boolean;
  mpnId: string | null;
  /** true/false when the MPN profile says, null when nothing can be read */
  pmcMigrated: boolean | null;
  marketplaceEnrolled: boolean | null;
  billingComplete: boolean | null;
  offers: D365OfferFacts[];
}

/** The checklist's activities: ids, states and report reasons through history, never account data. */
export interface D365Activities {
  d365Facts: { in: { accountId: string; offers: boolean }; out: D365Facts };
  d365OfferPlatform: { in: { accountId: string; offerId: string }; out: { supported: boolean } };
  d365CreateProduct: {
    in: { accountId: string; offerId: string; name: string; kind: string };
    out: { productId: string } | PartnerRefusal;
  };
  d365Submit: {
    in: {
      accountId: string;
      offerId: string;
      productId: string;
      round: number;
      /** set once the checklist was started again (restart): its rounds get request ids of their own */
      generation?: string;
      premiumTier: boolean;
    };
    out: { submissionId: string } | PartnerRefusal;
  };
  d365Certification: {
    in: { accountId: string; productId: string; submissionId: string };
    out: { status: string; reasons: string[] };
  };
  d365Promote: {
    in: { accountId: string; offerId: string; productId: string; submissionId: string };
    out: { promoted: true } | PartnerRefusal;
  };
  d365Record: {
    in: { accountId: string; change: ChecklistChange; audit: KeyedAuditEntry[] };
    out: null;
  };
}

export function callD365Activity<N extends keyof D365Activities>(
  ctx: df.OrchestrationContext,
  name: N,
  retry: df.RetryOptions,
  input: D365Activities[N]['in'],
): df.Task {
  return ctx.df.callActivityWithRetry(name, retry, input);
}

export interface D365Events {
  Attest: { step: AttestableStep; by: string };
  Recheck: { by: string };
  GoLive: { by: string };
  Resubmit: { by: string };
}

export function waitForD365Event<E extends keyof D365Events>(
  ctx: df.OrchestrationContext,
  name: E,
): df.Task {
  return ctx.df.waitForExternalEvent(name);
}

export interface D365ChecklistInput {
  accountId: string;
  requestedBy: string;
  createdAt: string;
  premiumTier: boolean;
  /** how often a submission in certification is looked at again (durable timer) */
  checkSeconds: number;
  /**
   * A start again of a checklist whose workflow failed or was terminated: what its record showed then
   * (steps and offers; what was done stays done), and when it was started again.
   */
  resume?: { steps: ChecklistStep[]; offers: ChecklistOffer[]; at: string };
}

export interface D365OfferInput {
  accountId: string;
  index: number;
  offer: D365OfferFacts;
  premiumTier: boolean;
  checkSeconds: number;
  /** the offer as the record showed it when this workflow was started again */
  previous?: ChecklistOffer;
  /** distinguishes the submission rounds of a workflow started again from those before */
  generation?: string;
}
