// One typed registry of activity and event names (conventions §3): every `yield` is checked against it.
import type * as df from 'durable-functions';
import type {
  CopyCategory,
  KeyedAuditEntry,
  MigrationStatus,
  MpnCheck,
  TenantCheck,
} from '../lib/domain/migration.js';
import type { ReminderSchedule, ReminderSlot } from '../lib/domain/reminders.js';

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
  checkTenant: { in: { accountId: string; workEmail: string }; out: TenantCheck };
  checkMpn: { in: { accountId: string; mpnId: string | null; tenantId: string }; out: MpnCheck };
  copyCategory: {
    in: { accountId: string; category: CopyCategory; attempt: number };
    out: { count: number };
  };
  verifyCopy: { in: { accountId: string }; out: { ok: boolean; mismatches: string[] } };
  switchOver: { in: { accountId: string; attempt: number }; out: { partnerCenterUrl: string } };
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
