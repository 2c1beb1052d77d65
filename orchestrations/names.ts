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
