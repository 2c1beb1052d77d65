// accountMigration: work e-mail → tenant → MPN → copy → verify → switch-over → back-sync → notify.
// Deterministic: time from currentUtcDateTime, no I/O; the world is reached through activities only.
import * as df from 'durable-functions';
import {
  COPY_CATEGORIES,
  errorFor,
  initialSteps,
  withStep,
  type KeyedAuditEntry,
  type MigrationError,
  type MigrationStatus,
  type MigrationStatusValue,
  type MpnCheck,
  type StepName,
  type StepState,
  type Tenant,
  type TenantCheck,
} from '../lib/domain/migration.js';
import {
  callActivity,
  callActivityWithRetry,
  waitForEvent,
  type AccountFacts,
  type Events,
  type MigrationInput,
} from './names.js';

/** Copies and switch-over are retried on transient faults (R-OPS-3); each attempt is idempotent. */
const RETRY = new df.RetryOptions(2000, 5);
RETRY.backoffCoefficient = 2;

export function* accountMigration(
  ctx: df.OrchestrationContext,
): Generator<df.Task, MigrationStatus, unknown> {
  const input = ctx.df.getInput<MigrationInput>();
  const now = (): string => ctx.df.currentUtcDateTime.toISOString();
  let seq = 0;
  let status: MigrationStatus = {
    accountId: input.accountId,
    attempt: input.attempt,
    status: input.workEmail ? 'validating-tenant' : 'awaiting-work-email',
    steps: initialSteps(input.createdAt),
    createdAt: input.createdAt,
    updatedAt: input.createdAt,
  };

  // Every state change is written to the read model with its audit entry, in one batch (R-OPS-2).
  function* record(
    change: Partial<MigrationStatus> & { status?: MigrationStatusValue },
    action: string,
    outcome: string,
    actor = 'system',
    detail?: string,
    more: { action: string; outcome: string; detail?: string }[] = [],
  ): Generator<df.Task, void, unknown> {
    const at = now();
    status = { ...status, ...change, updatedAt: at };
    ctx.df.setCustomStatus({
      status: status.status,
      step: status.steps.find((s) => s.state === 'running' || s.state === 'waiting')?.name,
    });
    // Keys from the orchestration's own clock and counter: a retried write lands on the same rows.
    const audit: KeyedAuditEntry[] = [
      { action, outcome, ...(detail ? { detail } : {}) },
      ...more,
    ].map((a) => ({
      key: `${at}~${String(input.attempt).padStart(3, '0')}~${String(seq++).padStart(4, '0')}`,
      at,
      actor,
      ...a,
    }));
    yield callActivity(ctx, 'recordStatus', { status, audit });
  }
  const step = (name: StepName, state: StepState, detail?: string): MigrationStatus['steps'] =>
    withStep(status.steps, name, state, now(), detail);
  const clearError = (): Partial<MigrationStatus> => ({ error: undefined });

  /** Waits for one owner event or a cancel; returns undefined when cancelled. */
  function* waitFor<E extends 'WorkEmail' | 'MpnId'>(
    name: E,
  ): Generator<df.Task, Events[E] | undefined, unknown> {
    const event = waitForEvent(ctx, name);
    const cancel = waitForEvent(ctx, 'Cancel');
    const winner = yield ctx.df.Task.any([event, cancel]);
    if (winner === cancel) return undefined;
    return event.result as Events[E];
  }

  function* cancelled(by: string): Generator<df.Task, MigrationStatus, unknown> {
    yield* record(
      {
        status: 'cancelled',
        error: {
          code: 'cancelled',
          message: 'The migration was cancelled. Start it again when you are ready.',
        },
      },
      'cancel',
      'cancelled',
      by,
    );
    return status;
  }

  const account = (yield callActivity(ctx, 'loadAccount', {
    accountId: input.accountId,
  })) as AccountFacts;
  yield* record(
    { steps: step('work-email', input.workEmail ? 'done' : 'waiting') },
    'start',
    'accepted',
    input.requestedBy,
  );

  // R-TEN: loop until the owner gives a work e-mail in the right tenant; errors wait, they never fail.
  let workEmail = input.workEmail;
  let tenant: Tenant | undefined;
  let error: MigrationError | undefined;
  while (!tenant) {
    if (!workEmail) {
      yield* record(
        {
          status: 'awaiting-work-email',
          steps: step('work-email', 'waiting'),
          ...(error ? { error } : clearError()),
        },
        'await-work-email',
        'waiting',
      );
      const ev = yield* waitFor('WorkEmail');
      if (!ev) return yield* cancelled('owner');
      workEmail = ev.workEmail;
    }
    yield* record(
      { status: 'validating-tenant', workEmail, steps: step('tenant', 'running'), ...clearError() },
      'validate-tenant',
      'started',
    );
    const check = (yield callActivityWithRetry(ctx, 'checkTenant', RETRY, {
      accountId: input.accountId,
      workEmail,
    })) as TenantCheck;
    if (check.kind === 'ok') {
      tenant = check.tenant;
      yield* record(
        { tenant, steps: withStep(step('tenant', 'done'), 'work-email', 'done', now()) },
        'validate-tenant',
        'ok',
        'system',
        tenant.name,
      );
    } else {
      error = errorFor(check);
      workEmail = undefined;
      status = { ...status, steps: step('tenant', 'failed', error.message) };
    }
  }

  // R-MPN: verify the MPN ID, or wait in "enroll in MPN" until one is given and verified.
  let mpnId: string | null = input.mpnId ?? account.mpnId;
  for (;;) {
    const check = (yield callActivityWithRetry(ctx, 'checkMpn', RETRY, {
      accountId: input.accountId,
      mpnId,
      tenantId: tenant.id,
    })) as MpnCheck;
    if (check.kind === 'ok') {
      yield* record(
        { mpnId: check.mpnId, steps: step('mpn', 'done', check.partnerName), ...clearError() },
        'verify-mpn',
        'ok',
        'system',
        check.mpnId,
      );
      break;
    }
    yield* record(
      { status: 'awaiting-mpn', steps: step('mpn', 'waiting'), error: errorFor(check) },
      'verify-mpn',
      check.kind,
    );
    const ev = yield* waitFor('MpnId');
    if (!ev) return yield* cancelled('owner');
    mpnId = ev.mpnId;
  }

  // R-COPY-1/2: every category in parallel, idempotent and retried; a cancel still wins until switch-over.
  let steps = status.steps;
  for (const c of COPY_CATEGORIES) steps = withStep(steps, `copy:${c}`, 'running', now());
  yield* record({ status: 'copying', steps }, 'copy', 'started');
  const copies = COPY_CATEGORIES.map((category) =>
    callActivityWithRetry(ctx, 'copyCategory', RETRY, {
      accountId: input.accountId,
      category,
      attempt: input.attempt,
    }),
  );
  const all = ctx.df.Task.all(copies);
  const cancel = waitForEvent(ctx, 'Cancel');
  // Task.any settles with the first task to finish, failed or not; a failed copy is read from `all`.
  const winner = yield ctx.df.Task.any([all, cancel]);
  if (winner === cancel) return yield* cancelled('owner');
  if (all.isFaulted) {
    const failedCopy = copies.find((t) => t.isFaulted)?.result;
    const message =
      failedCopy instanceof Error ? failedCopy.message.split('\n')[0]! : 'a copy failed';
    yield* record(
      {
        status: 'failed',
        error: {
          code: 'copy-failed',
          message:
            'Copying the account data failed; nothing was switched over. Start the migration again.',
        },
      },
      'copy',
      'failed',
      'system',
      message,
    );
    return status;
  }
  steps = status.steps;
  COPY_CATEGORIES.forEach(
    (c, i) =>
      (steps = withStep(
        steps,
        `copy:${c}`,
        'done',
        now(),
        `${(copies[i]!.result as { count: number }).count} copied`,
      )),
  );
  // R-OPS-2: each external write (one per category) is in the trail, with what it wrote.
  yield* record(
    { status: 'verifying', steps: withStep(steps, 'verify', 'running', now()) },
    'copy',
    'done',
    'system',
    undefined,
    COPY_CATEGORIES.map((c, i) => ({
      action: `write:${c}`,
      outcome: 'done',
      detail: `${(copies[i]!.result as { count: number }).count} written to Partner Center`,
    })),
  );

  const verdict = (yield callActivityWithRetry(ctx, 'verifyCopy', RETRY, {
    accountId: input.accountId,
  })) as { ok: boolean; mismatches: string[] };
  if (!verdict.ok) {
    yield* record(
      {
        status: 'failed',
        steps: step('verify', 'failed', verdict.mismatches.join(', ')),
        error: {
          code: 'verification-failed',
          message: `The copy does not match the source (${verdict.mismatches.join(', ')}); nothing was switched over.`,
        },
      },
      'verify',
      'failed',
    );
    return status;
  }
  yield* record(
    {
      status: 'switching-over',
      steps: withStep(step('verify', 'done'), 'switch-over', 'running', now()),
    },
    'verify',
    'ok',
  );

  // R-COPY-3: from here on the migration cannot be cancelled.
  const { partnerCenterUrl } = (yield callActivityWithRetry(ctx, 'switchOver', RETRY, {
    accountId: input.accountId,
    attempt: input.attempt,
  })) as { partnerCenterUrl: string };
  yield* record(
    {
      partnerCenterUrl,
      steps: withStep(step('switch-over', 'done'), 'back-sync', 'running', now()),
    },
    'switch-over',
    'done',
  );
  yield callActivityWithRetry(ctx, 'startBackSync', RETRY, { accountId: input.accountId });
  yield* record(
    { steps: withStep(step('back-sync', 'done'), 'notify', 'running', now()) },
    'back-sync',
    'started',
  );
  // R-COPY-5: the owner gets the personal link; the banner switches to "migrated".
  yield callActivityWithRetry(ctx, 'notifyOwner', RETRY, {
    accountId: input.accountId,
    attempt: input.attempt,
    to: workEmail ?? input.requestedBy,
    partnerCenterUrl,
  });
  yield* record({ status: 'completed', steps: step('notify', 'done') }, 'notify', 'sent');
  return status;
}
