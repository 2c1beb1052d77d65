// The migration's vocabulary and its pure rules (api.md "Status"; requirements R-TEN, R-MPN, R-COPY).

export const STEP_NAMES = [
  'work-email',
  'tenant',
  'mpn',
  'copy:publishing-agreement',
  'copy:company-profile',
  'copy:payout-profile',
  'copy:users',
  'copy:offers',
  'verify',
  'switch-over',
  'back-sync',
  'notify',
] as const;
export type StepName = (typeof STEP_NAMES)[number];
export const STEP_STATES = ['pending', 'running', 'waiting', 'done', 'failed', 'skipped'] as const;
export type StepState = (typeof STEP_STATES)[number];

export const COPY_CATEGORIES = [
  'publishing-agreement',
  'company-profile',
  'payout-profile',
  'users',
  'offers',
] as const;
export type CopyCategory = (typeof COPY_CATEGORIES)[number];

export const MIGRATION_STATUSES = [
  'awaiting-work-email',
  'validating-tenant',
  'awaiting-mpn',
  'copying',
  'verifying',
  'switching-over',
  'completed',
  'failed',
  'cancelled',
] as const;
export type MigrationStatusValue = (typeof MIGRATION_STATUSES)[number];

/** Statuses after which a new attempt may start (api.md: "a new attempt only after failed or cancelled"). */
export const RESTARTABLE: ReadonlySet<MigrationStatusValue> = new Set(['failed', 'cancelled']);
/**
 * The decision that ends an attempt's copying, written once per attempt (insert-if-absent): a cancel or a
 * failed copy races the switch-over, and the first one written holds (lib/store/gate.ts).
 */
export type GateDecision = 'cancelled' | 'failed' | 'switching-over';

/** Statuses in which cancel is still honoured (before switch-over began). */
export const CANCELLABLE: ReadonlySet<MigrationStatusValue> = new Set([
  'awaiting-work-email',
  'validating-tenant',
  'awaiting-mpn',
  'copying',
  'verifying',
]);

export interface Tenant {
  id: string;
  name: string;
}

export interface MigrationError {
  code: string;
  message: string;
  expectedTenant?: Tenant;
  signUpUrl?: string;
  /** the work e-mail address this error refused (R-TEN-1): the status no longer shows it as current */
  rejectedWorkEmail?: string;
}

/** One line of the audit trail (R-OPS-2); `key` makes a retried write land on the same row. */
export interface AuditEntry {
  at: string;
  actor: string;
  action: string;
  outcome: string;
  detail?: string;
}

export type KeyedAuditEntry = AuditEntry & { key: string };

export interface Step {
  name: StepName;
  state: StepState;
  detail?: string;
  updatedAt: string;
}

/**
 * What the start route hands a new attempt's orchestration besides the account and the attempt
 * (MigrationInput's rest). Kept on the claimed status row until the orchestration writes it, so that a
 * start whose process died before the orchestration existed can be finished later. Never a secret.
 */
export interface StartRequest {
  workEmail?: string;
  workEmailFrom?: 'given' | 'sign-in';
  mpnId?: string;
  requestedBy: string;
  createdAt: string;
}

/** A claimed start: its request, and until when its claimer may still be starting it. */
export interface PendingStart {
  request: StartRequest;
  leaseUntil: string;
}

/** How long a claimer has to start the orchestration before a later start may do it instead. */
export const START_LEASE_MS = 30_000;

export interface MigrationStatus {
  accountId: string;
  attempt: number;
  status: MigrationStatusValue;
  steps: Step[];
  workEmail?: string;
  tenant?: Tenant;
  mpnId?: string;
  error?: MigrationError;
  partnerCenterUrl?: string;
  createdAt: string;
  updatedAt: string;
}

/**
 * R-MPN-1: the source's "join MPN" link (its section "Sign up for Microsoft Partner Network program":
 * "[hier deel nemen]"), which signs a company up for an MPN ID. Not the commercial-marketplace enrollment
 * link, which belongs to R-D365-2.
 */
export const MPN_SIGN_UP_URL =
  'https://signup.microsoft.com/signup?sku=StoreForBusinessIW&origin=partnerdashboard&culture=en-us&ru=https://partner.microsoft.com/dashboard/account/v3/xpu/onboard?ru=/dashboard/account/v3/enrollment/companyprofile/basicpartnernetwork/new';

/** The source's "send a support ticket" link (section "Additional resources"). */
export const SUPPORT_URL = 'https://aka.ms/MarketplacePublisherSupport';

/** The source's way back to a migrated account: the commercial marketplace dashboard in Partner Center. */
export const DASHBOARD_URL =
  'https://partner.microsoft.com/dashboard/commercial-marketplace/overview';

/** R-COPY-1: only active (live) offers move; drafts and deprecated offers stay in CPP. */
export function isActiveOffer(offer: { status: string }): boolean {
  return offer.status === 'live';
}

/**
 * Which tenant a work e-mail must be in, and why (R-TEN-2/3): the tenant the MPN ID is registered in
 * when there is one, else the CPP account's own tenant; an msa account without an MPN ID has none.
 */
export interface TenantExpectation {
  tenant: Tenant;
  because: 'mpn-id' | 'cpp-account';
  mpnId?: string;
}

/** What the tenant check found (conventions §4: business outcomes are values). */
export type TenantCheck =
  | { kind: 'ok'; tenant: Tenant }
  | {
      kind: 'personal-email-not-allowed';
      workEmail: string;
      domain: string;
      expected?: TenantExpectation;
    }
  | { kind: 'tenant-not-found'; workEmail: string; domain: string; expected?: TenantExpectation }
  | {
      kind: 'tenant-mismatch';
      workEmail: string;
      expected: TenantExpectation;
      actualTenantId: string;
    }
  | PartnerRefusal;

export type MpnCheck =
  | { kind: 'ok'; mpnId: string; partnerName: string }
  | { kind: 'mpn-required' }
  | { kind: 'mpn-not-found'; mpnId: string }
  | { kind: 'mpn-certificate-invalid'; mpnId: string; certificateState: string }
  | { kind: 'mpn-tenant-mismatch'; mpnId: string; expectedTenant: Tenant }
  | PartnerRefusal;

/**
 * A partner service refused a request for good (a 4xx other than 408/409/429): retrying cannot help, so
 * the activity returns it as a value (an exception would lose its class on the way to the orchestrator).
 */
export interface PartnerRefusal {
  kind: 'partner-refused';
  /** e.g. "Partner Center answered 403 (code 800003: …)"; never a request or response body */
  reason: string;
}

/** The sentence that says which tenant is expected and why, or undefined without an expectation. */
function whyTenant(e: TenantExpectation | undefined): string {
  if (!e) return '';
  return e.because === 'mpn-id'
    ? `${e.tenant.name}, the tenant your MPN ID${e.mpnId ? ` ${e.mpnId}` : ''} is registered in`
    : `${e.tenant.name}, the tenant of your Cloud Partner Portal account`;
}

/** The owner-fixable error a failed check puts in the status, with a sentence a person can act on. */
export function errorFor(
  check: Exclude<TenantCheck, { kind: 'ok' }> | Exclude<MpnCheck, { kind: 'ok' }>,
): MigrationError {
  switch (check.kind) {
    case 'personal-email-not-allowed':
      return {
        code: check.kind,
        message: `${check.workEmail} is a personal address (${check.domain}). Enter your work e-mail address in ${check.expected ? whyTenant(check.expected) : "your organisation's Microsoft Entra ID tenant"}.`,
        rejectedWorkEmail: check.workEmail,
      };
    case 'tenant-not-found':
      return {
        code: check.kind,
        message: `No Microsoft Entra ID tenant uses the domain ${check.domain} of ${check.workEmail}. Check the address${check.expected ? `, or use a work e-mail address in ${whyTenant(check.expected)}` : ''}.`,
        rejectedWorkEmail: check.workEmail,
      };
    case 'tenant-mismatch':
      // R-TEN-3: the error names the expected tenant, and why it is the expected one.
      return {
        code: check.kind,
        message: `${check.workEmail} is not in ${check.expected.tenant.name}. Use a work e-mail address in ${whyTenant(check.expected)}.`,
        expectedTenant: check.expected.tenant,
        rejectedWorkEmail: check.workEmail,
      };
    case 'mpn-required':
      return {
        code: check.kind,
        message:
          'Your account has no MPN ID. Join the Microsoft Partner Network to get one, then enter your MPN ID here.',
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-not-found':
      return {
        code: check.kind,
        message: `MPN ID ${check.mpnId} does not exist. Check the number, or join the Microsoft Partner Network and enter your new MPN ID.`,
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-certificate-invalid':
      return {
        code: check.kind,
        message: `The certificate of MPN ID ${check.mpnId} is ${check.certificateState}. Sign up for the Microsoft Partner Network, then enter your valid MPN ID here.`,
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-tenant-mismatch':
      // R-TEN-3 / R-MPN-2: fixable in the same migration, by either answer the message offers.
      return {
        code: check.kind,
        message: `MPN ID ${check.mpnId} is registered in ${check.expectedTenant.name}, not in your work e-mail's tenant. Enter a work e-mail address in ${check.expectedTenant.name}, or another MPN ID.`,
        expectedTenant: check.expectedTenant,
      };
    case 'partner-refused':
      return {
        code: check.kind,
        message: `A partner service refused the request: ${check.reason}. Retrying will not help: open a support ticket at ${SUPPORT_URL}.`,
      };
  }
}

/** The domain part of an address, lower-cased. */
export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** A fresh list of steps, every one pending. */
export function initialSteps(at: string): Step[] {
  return STEP_NAMES.map((name) => ({ name, state: 'pending', updatedAt: at }));
}

/** Sets one step's state (and detail), returning a new list. */
export function withStep(
  steps: Step[],
  name: StepName,
  state: StepState,
  at: string,
  detail?: string,
): Step[] {
  return steps.map((s) =>
    s.name === name ? { name, state, updatedAt: at, ...(detail ? { detail } : {}) } : s,
  );
}

/** Every step still running or waiting becomes `state` (a stopped migration leaves none running). */
export function settleSteps(steps: Step[], state: StepState, at: string, detail: string): Step[] {
  return steps.map((s) =>
    s.state === 'running' || s.state === 'waiting' ? { ...s, state, detail, updatedAt: at } : s,
  );
}

/** The Durable instance id of an account's migration attempt: a second start finds the first. */
export function migrationInstanceId(accountId: string, attempt: number): string {
  return `migration~${accountId}~${attempt}`;
}

export function backSyncInstanceId(accountId: string): string {
  return `backsync~${accountId}`;
}
