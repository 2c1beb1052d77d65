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

export const MPN_SIGN_UP_URL =
  'https://partner.microsoft.com/dashboard/account/v3/enrollment/introduction/partnership';

/** What the tenant check found (conventions §4: business outcomes are values). */
export type TenantCheck =
  | { kind: 'ok'; tenant: Tenant }
  | { kind: 'personal-email-not-allowed'; domain: string }
  | { kind: 'tenant-not-found'; domain: string }
  | { kind: 'tenant-mismatch'; expectedTenant: Tenant; actualTenantId: string };

export type MpnCheck =
  | { kind: 'ok'; mpnId: string; partnerName: string }
  | { kind: 'mpn-required' }
  | { kind: 'mpn-not-found'; mpnId: string }
  | { kind: 'mpn-certificate-invalid'; mpnId: string; certificateState: string }
  | { kind: 'mpn-tenant-mismatch'; mpnId: string; expectedTenant: Tenant };

/** The owner-fixable error a failed check puts in the status, with a sentence a person can act on. */
export function errorFor(
  check: Exclude<TenantCheck, { kind: 'ok' }> | Exclude<MpnCheck, { kind: 'ok' }>,
): MigrationError {
  switch (check.kind) {
    case 'personal-email-not-allowed':
      return {
        code: check.kind,
        message: `${check.domain} is a personal e-mail domain. Enter your work e-mail address in your organisation's Microsoft Entra ID tenant.`,
      };
    case 'tenant-not-found':
      return {
        code: check.kind,
        message: `No Microsoft Entra ID tenant uses the domain ${check.domain}. Check the address, or use an address of the tenant your MPN ID is registered in.`,
      };
    case 'tenant-mismatch':
      // R-TEN-3: the error names the expected tenant.
      return {
        code: check.kind,
        message: `This e-mail address belongs to another tenant. Use a work e-mail address in ${check.expectedTenant.name}, the tenant your MPN ID is registered in.`,
        expectedTenant: check.expectedTenant,
      };
    case 'mpn-required':
      return {
        code: check.kind,
        message:
          'Your account has no MPN ID. Enroll in the Microsoft Partner Network, then enter your MPN ID here.',
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-not-found':
      return {
        code: check.kind,
        message: `MPN ID ${check.mpnId} does not exist. Check the number, or enroll in the Microsoft Partner Network.`,
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-certificate-invalid':
      return {
        code: check.kind,
        message: `The certificate of MPN ID ${check.mpnId} is ${check.certificateState}. Renew your membership, or enroll again and enter the new MPN ID.`,
        signUpUrl: MPN_SIGN_UP_URL,
      };
    case 'mpn-tenant-mismatch':
      return {
        code: check.kind,
        message: `MPN ID ${check.mpnId} is registered in ${check.expectedTenant.name}, not in your work e-mail's tenant. Use a work e-mail address in ${check.expectedTenant.name}, or another MPN ID.`,
        expectedTenant: check.expectedTenant,
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

/** The Durable instance id of an account's migration attempt: a second start finds the first. */
export function migrationInstanceId(accountId: string, attempt: number): string {
  return `migration~${accountId}~${attempt}`;
}

export function backSyncInstanceId(accountId: string): string {
  return `backsync~${accountId}`;
}
