// accountMigration: work e-mail → tenant → MPN → copy → verify → switch-over → back-sync → notify.
// Deterministic: time from currentUtcDateTime, no I/O; the world is reached through activities only.
import * as df from 'durable-functions';
import {
  COPY_CATEGORIES,
  errorFor,
  initialSteps,
  settleSteps,
  withStep,
  type KeyedAuditEntry,
  type MigrationError,
  type MigrationStatus,
  type MigrationStatusValue,
  type MpnCheck,
  type PartnerRefusal,
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
  type CopyOutcome,
  type Events,
  type MigrationInput,
} from './names.js';

/** Activities are retried on transient faults (R-OPS-3); each attempt is idempotent. */
const RETRY = new df.RetryOptions(2000, 5);
RETRY.backoffCoefficient = 2;

const SIGN_IN_DETAIL = 'your Cloud Partner Portal sign-in address';

/** What a step raced against the owner's cancel gives when the cancel came first. */
const CANCELLED = Symbol('cancelled');

/** Ends the migration early, carrying the status it recorded (never leaves the orchestrator). */
class Stop extends Error {
  constructor(readonly status: MigrationStatus) {
    super(`migration stopped: ${status.status}`);
  }
}

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

  // One waiter for the owner's cancel, raced against every step until switch-over (api.md cancel). The
  // cancel route closes the attempt's gate before it raises the event, so copies already running stop at
  // their next batch even before this orchestration hears of it, and the switch-over cannot claim the gate.
  const cancel = waitForEvent(ctx, 'Cancel');
  const cancelledBy = (): string =>
    cancel.isCompleted ? ((cancel.result as Events['Cancel'] | undefined)?.by ?? 'owner') : 'owner';

  /** Records the cancel; every step still running or waiting is skipped. */
  function* cancelled(): Generator<df.Task, Stop, unknown> {
    yield* record(
      {
        status: 'cancelled',
        steps: settleSteps(status.steps, 'skipped', now(), 'cancelled'),
        error: {
          code: 'cancelled',
          message: 'The migration was cancelled. Start it again when you are ready.',
        },
      },
      'cancel',
      'cancelled',
      cancelledBy(),
    );
    return new Stop(status);
  }

  /** Records a terminal failure; the failing step says why, the others still running are skipped. */
  function* failed(
    error: MigrationError,
    at: StepName,
    detail: string,
  ): Generator<df.Task, Stop, unknown> {
    const steps = settleSteps(step(at, 'failed', detail), 'skipped', now(), 'stopped');
    yield* record({ status: 'failed', steps, error }, at, 'failed', 'system', detail);
    return new Stop(status);
  }

  /**
   * Runs one activity raced against the cancel. When the cancel comes first the activity is still
   * awaited (it is a read: this only keeps no activity running past the migration's end), and
   * CANCELLED is returned.
   */
  function* orCancel(task: df.Task): Generator<df.Task, unknown, unknown> {
    if (cancel.isCompleted) return CANCELLED;
    const winner = (yield ctx.df.Task.any([task, cancel])) as df.Task;
    if (winner === cancel) {
      try {
        yield task;
      } catch {
        // its failure no longer matters: the migration is cancelled
      }
      return CANCELLED;
    }
    if (task.isFaulted) throw task.result as Error;
    return task.result;
  }

  /** Waits for one of the owner's answers or a cancel; CANCELLED when cancelled. */
  function* waitFor<E extends 'WorkEmail' | 'MpnId'>(
    names: E[],
  ): Generator<df.Task, { name: E; data: Events[E] } | typeof CANCELLED, unknown> {
    if (cancel.isCompleted) return CANCELLED;
    const events = names.map((n) => waitForEvent(ctx, n));
    const winner = yield ctx.df.Task.any([...events, cancel]);
    if (winner === cancel) return CANCELLED;
    const i = events.indexOf(winner as df.Task);
    return { name: names[i]!, data: events[i]!.result as Events[E] };
  }

  const refusal = (r: PartnerRefusal): MigrationError => errorFor(r);

  let partnerCenterUrl: string;
  let workEmail = input.workEmail;
  try {
    // One read (the client retries transient faults itself); a failure ends in `failed` below.
    const account = (yield callActivity(ctx, 'loadAccount', {
      accountId: input.accountId,
    })) as AccountFacts;
    // R-TEN-1: the work e-mail defaults to the owner's CPP sign-in address on a work account.
    const fromSignIn = input.workEmailFrom === 'sign-in';
    yield* record(
      {
        steps: step(
          'work-email',
          workEmail ? 'done' : 'waiting',
          fromSignIn ? SIGN_IN_DETAIL : undefined,
        ),
      },
      'start',
      'accepted',
      input.requestedBy,
    );

    // R-TEN / R-MPN: loop until the work e-mail's tenant is the expected one and the MPN ID is verified.
    // Owner-fixable errors wait for an answer; they never fail the migration.
    let mpnId: string | null = input.mpnId ?? account.mpnId;
    let tenant: Tenant | undefined;
    let error: MigrationError | undefined;
    for (;;) {
      while (!tenant) {
        if (!workEmail) {
          yield* record(
            {
              status: 'awaiting-work-email',
              workEmail: undefined,
              steps: step('work-email', 'waiting'),
              ...(error ? { error } : clearError()),
            },
            'await-work-email',
            'waiting',
          );
          const ev = yield* waitFor(['WorkEmail']);
          if (ev === CANCELLED) throw yield* cancelled();
          workEmail = ev.data.workEmail;
        }
        yield* record(
          {
            status: 'validating-tenant',
            workEmail,
            steps: step('tenant', 'running'),
            ...clearError(),
          },
          'validate-tenant',
          'started',
        );
        const check = (yield* orCancel(
          callActivityWithRetry(ctx, 'checkTenant', RETRY, {
            accountId: input.accountId,
            workEmail,
            mpnId,
          }),
        )) as TenantCheck | typeof CANCELLED;
        if (check === CANCELLED) throw yield* cancelled();
        if (check.kind === 'partner-refused')
          throw yield* failed(refusal(check), 'tenant', check.reason);
        if (check.kind === 'ok') {
          tenant = check.tenant;
          const detail = fromSignIn && workEmail === input.workEmail ? SIGN_IN_DETAIL : undefined;
          yield* record(
            {
              tenant,
              steps: withStep(step('tenant', 'done'), 'work-email', 'done', now(), detail),
            },
            'validate-tenant',
            'ok',
            'system',
            tenant.name,
          );
        } else {
          // R-TEN-1: the refused address moves into the error; the status shows no current one.
          error = errorFor(check);
          workEmail = undefined;
          status = { ...status, steps: step('tenant', 'failed', error.message) };
        }
      }

      // R-MPN: verify the MPN ID, or wait in "enroll in MPN" until one is given and verified.
      const check = (yield* orCancel(
        callActivityWithRetry(ctx, 'checkMpn', RETRY, {
          accountId: input.accountId,
          mpnId,
          tenantId: tenant.id,
        }),
      )) as MpnCheck | typeof CANCELLED;
      if (check === CANCELLED) throw yield* cancelled();
      if (check.kind === 'partner-refused')
        throw yield* failed(refusal(check), 'mpn', check.reason);
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
      // R-TEN-3: an MPN ID registered in another tenant is fixed by either answer the message offers.
      const ev = yield* waitFor(
        check.kind === 'mpn-tenant-mismatch' ? ['MpnId', 'WorkEmail'] : ['MpnId'],
      );
      if (ev === CANCELLED) throw yield* cancelled();
      if (ev.name === 'WorkEmail') {
        workEmail = (ev.data as Events['WorkEmail']).workEmail;
        tenant = undefined;
        error = undefined;
        // The tenant found for the previous address is no longer current.
        status = { ...status, tenant: undefined, steps: step('mpn', 'pending') };
      } else mpnId = (ev.data as Events['MpnId']).mpnId;
    }

    // R-COPY-1/2: every category in parallel, idempotent and retried; a cancel still wins until switch-over.
    if (cancel.isCompleted) throw yield* cancelled();
    let steps = status.steps;
    for (const c of COPY_CATEGORIES) steps = withStep(steps, `copy:${c}`, 'running', now());
    yield* record({ status: 'copying', steps }, 'copy', 'started');
    // A Task.any does not settle on a child that completed before it: look before racing.
    if (cancel.isCompleted) throw yield* cancelled();
    const copies = COPY_CATEGORIES.map((category) =>
      callActivityWithRetry(ctx, 'copyCategory', RETRY, {
        accountId: input.accountId,
        category,
        attempt: input.attempt,
      }),
    );
    const all = ctx.df.Task.all(copies);
    let gateCancelled = false;
    // Task.any settles with the first task to finish, failed or not; a failed copy is read from `all`.
    const winner = yield ctx.df.Task.any([all, cancel]);
    if (winner !== cancel && all.isFaulted) {
      // A copy failed after its retries: close the gate so that the others stop at their next batch
      // (a refused copy closes it itself). A cancel that closed it first still counts as the cancel.
      const held = (yield callActivityWithRetry(ctx, 'closeGate', RETRY, {
        accountId: input.accountId,
        attempt: input.attempt,
        decision: 'failed',
      })) as { decision: string };
      gateCancelled = held.decision === 'cancelled';
    }
    // Copies still running read the gate (closed by the cancel route or just above) and stop before their
    // next write; wait for them, so that once the status says so nothing is written any more.
    for (const t of copies) {
      try {
        yield t;
      } catch {
        // recorded below
      }
    }
    const outcomes = copies.map((t) => (t.isCompleted ? (t.result as CopyOutcome) : undefined));
    steps = status.steps;
    COPY_CATEGORIES.forEach((c, i) => {
      const o = outcomes[i];
      const [state, detail]: [StepState, string] = !o
        ? ['failed', 'failed after retries']
        : o.kind === 'copied'
          ? ['done', copiedDetail(o)]
          : o.kind === 'stopped'
            ? ['skipped', `stopped after ${o.count} written`]
            : ['failed', o.reason];
      steps = withStep(steps, `copy:${c}`, state, now(), detail);
    });
    // R-OPS-2: each external write (one per category) is in the trail, with what it wrote.
    const writes = COPY_CATEGORIES.flatMap((c, i) => {
      const o = outcomes[i];
      return o && o.kind !== 'partner-refused'
        ? [
            {
              action: `write:${c}`,
              outcome: o.kind === 'copied' ? 'done' : 'stopped',
              detail: `${o.count} written to Partner Center${o.kind === 'copied' && o.left ? `; ${leftDetail(o.left)}` : ''}`,
            },
          ]
        : [];
    });
    status = { ...status, steps };
    const refused = outcomes.find((o) => o?.kind === 'partner-refused');
    if (!cancel.isCompleted && !gateCancelled && (all.isFaulted || refused)) {
      const reason = refused?.kind === 'partner-refused' ? refused.reason : failureOf(copies);
      yield* record(
        {
          status: 'failed',
          steps: settleSteps(status.steps, 'skipped', now(), 'stopped'),
          error: {
            code: 'copy-failed',
            message: `Copying the account data failed (${reason}); nothing was switched over. Start the migration again.`,
          },
        },
        'copy',
        'failed',
        'system',
        reason,
        writes,
      );
      throw new Stop(status);
    }
    // A stopped copy means the gate was closed by a cancel whose event may not have arrived yet.
    if (cancel.isCompleted || gateCancelled || outcomes.some((o) => o?.kind === 'stopped'))
      throw yield* cancelled();
    yield* record(
      { status: 'verifying', steps: withStep(status.steps, 'verify', 'running', now()) },
      'copy',
      'done',
      'system',
      undefined,
      writes,
    );

    const verdict = (yield* orCancel(
      callActivityWithRetry(ctx, 'verifyCopy', RETRY, { accountId: input.accountId }),
    )) as { ok: boolean; mismatches: string[] } | PartnerRefusal | typeof CANCELLED;
    if (verdict === CANCELLED) throw yield* cancelled();
    if ('kind' in verdict) {
      throw yield* failed(
        {
          code: 'verification-failed',
          message: `The copy could not be verified (${verdict.reason}); nothing was switched over.`,
        },
        'verify',
        verdict.reason,
      );
    }
    if (!verdict.ok) {
      throw yield* failed(
        {
          code: 'verification-failed',
          message: `The copy does not match the source (${verdict.mismatches.join(', ')}); nothing was switched over.`,
        },
        'verify',
        verdict.mismatches.join(', '),
      );
    }

    // R-COPY-3: the switch-over claims the attempt's gate; a cancel that got there first wins, and from
    // here on a cancel is refused (409 too-late-to-cancel).
    if (cancel.isCompleted) throw yield* cancelled();
    const gate = (yield callActivityWithRetry(ctx, 'closeGate', RETRY, {
      accountId: input.accountId,
      attempt: input.attempt,
      decision: 'switching-over',
    })) as { decision: string };
    if (gate.decision !== 'switching-over') throw yield* cancelled();
    yield* record(
      {
        status: 'switching-over',
        steps: withStep(step('verify', 'done'), 'switch-over', 'running', now()),
      },
      'verify',
      'ok',
    );
    const switched = (yield callActivityWithRetry(ctx, 'switchOver', RETRY, {
      accountId: input.accountId,
      attempt: input.attempt,
    })) as { kind: 'switched'; partnerCenterUrl: string } | PartnerRefusal;
    if (switched.kind === 'partner-refused')
      throw yield* failed(refusal(switched), 'switch-over', switched.reason);
    partnerCenterUrl = switched.partnerCenterUrl;
  } catch (e) {
    if (e instanceof Stop) return e.status;
    // An activity that failed (after its retries): the migration fails at once and says where, rather
    // than leaving its status stuck in a step that will never finish.
    if (['completed', 'failed', 'cancelled'].includes(status.status)) throw e;
    const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    const at = status.steps.find((s) => s.state === 'running')?.name ?? 'tenant';
    return (yield* failed(
      {
        code:
          status.status === 'copying'
            ? 'copy-failed'
            : status.status === 'verifying'
              ? 'verification-failed'
              : 'partner-unavailable',
        message: `A partner service could not complete a request, even after retries (${reason}). Start the migration again later.`,
      },
      at,
      reason,
    )).status;
  }

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

/** "270 copied; 30 left in CPP (30 draft): only active offers move" (R-COPY-1). */
function copiedDetail(o: { count: number; left?: Record<string, number> }): string {
  return `${o.count} copied${o.left ? `; ${leftDetail(o.left)}` : ''}`;
}

function leftDetail(left: Record<string, number>): string {
  const total = Object.values(left).reduce((a, b) => a + b, 0);
  const parts = Object.entries(left)
    .map(([s, n]) => `${n} ${s}`)
    .join(', ');
  return `${total} left in CPP (${parts}): only active offers move to Partner Center`;
}

/** The first line of the first failed copy's error. */
function failureOf(copies: df.Task[]): string {
  const e = copies.find((t) => t.isFaulted)?.result;
  return e instanceof Error ? e.message.split('\n')[0]! : 'a copy failed';
}
