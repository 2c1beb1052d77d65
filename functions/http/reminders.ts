// The reminder routes of the portal contract (api.md) and the sweep's starter, shared by the timer and the
// admin route: one reminderSweep instance per local day of the deadline's zone (R-DUE-2).
import type { HttpRequest, HttpResponseInit, InvocationContext, Timer } from '@azure/functions';
import type * as df from 'durable-functions';
import { requireAdmin } from '../../lib/auth/tokens.js';
import {
  daysLeft,
  deadlineKey,
  localDate,
  reminderBucketKey,
  slots,
  type ReminderSchedule,
} from '../../lib/domain/reminders.js';
import { json } from '../../lib/http.js';
import { services } from '../../lib/services.js';
import { SHARDS, type SubjectKind } from '../../lib/store/subjects.js';
import type { ReminderSweepInput } from '../../orchestrations/names.js';
import { ownedAccount, run } from './migrations.js';

const KINDS: SubjectKind[] = ['migration', 'd365'];
const TERMINAL = new Set(['Failed', 'Terminated', 'Canceled']);

/** One sweep per local day and deadline: a second firing that day finds the first; a new deadline sweeps anew. */
export const sweepInstanceId = (deadline: string, day: string): string =>
  `reminderSweep-${day}-${deadlineKey(deadline)}`;

/** Starts the sweep of the local day of `at`, or finds the one that day already has. */
export async function startSweep(
  client: df.DurableClient,
  schedule: ReminderSchedule,
  at: Date,
  requestedBy: string,
): Promise<{ instanceId: string; day: string; started: boolean; runtimeStatus?: string }> {
  const day = localDate(at, schedule.timeZone);
  const instanceId = sweepInstanceId(schedule.deadline, day);
  const existing = await client.getStatus(instanceId).catch(() => undefined);
  if (existing?.runtimeStatus && !TERMINAL.has(String(existing.runtimeStatus)))
    return { instanceId, day, started: false, runtimeStatus: String(existing.runtimeStatus) };
  const input: ReminderSweepInput = { day, schedule, shards: SHARDS, requestedBy };
  try {
    await client.startNew('reminderSweep', { instanceId, input });
  } catch (e) {
    // Another firing started it between our read and our start: that one is the day's sweep.
    const again = await client.getStatus(instanceId).catch(() => undefined);
    if (!again) throw e;
    return { instanceId, day, started: false, runtimeStatus: String(again.runtimeStatus) };
  }
  return { instanceId, day, started: true };
}

/**
 * The timer `deadlineReminders`. The day comes from the schedule slot the host fires for (its status `next`,
 * as the Functions host passes it before the run), so a late or repeated firing finds the same instance.
 */
export async function deadlineReminders(
  timer: Timer,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<void> {
  const slot = timer.scheduleStatus?.next ? new Date(timer.scheduleStatus.next) : undefined;
  const now = new Date();
  // A past-due run stands for a missed occurrence: the day is today's, not the missed one's.
  const at = slot && !timer.isPastDue && !Number.isNaN(slot.getTime()) && slot <= now ? slot : now;
  const r = await startSweep(client, services().schedule, at, 'timer');
  ctx.log(
    r.started
      ? `Reminder sweep ${r.instanceId} started`
      : `Reminder sweep ${r.instanceId} already exists (${r.runtimeStatus})`,
  );
}

/** The timer `outboxSender`: retries mail the service refused, with the outbox's backoff. */
export async function outboxSender(_timer: Timer, ctx: InvocationContext): Promise<void> {
  const r = await services().outbox.drain({ limit: 2000 });
  if (r.sent || r.failed)
    ctx.log(`Outbox: ${r.sent} sent, ${r.failed} failed, ${r.remaining} pending`);
}

/** POST /api/admin/reminders/run: the sweep now, as the timer would start it. */
export function runReminders(
  req: HttpRequest,
  client: df.DurableClient,
  ctx: InvocationContext,
): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    requireAdmin(caller);
    const r = await startSweep(client, services().schedule, new Date(), caller.email);
    return json(202, r);
  });
}

/** GET /api/accounts/{accountId}/reminders: what was sent for this account, and the deadline. */
export function listReminders(req: HttpRequest, ctx: InvocationContext): Promise<HttpResponseInit> {
  return run(req, ctx, async (caller) => {
    const accountId = await ownedAccount(req, caller);
    const s = services();
    const reads = slots(s.schedule).flatMap((slot) =>
      KINDS.map(async (kind) => {
        const row = await s.outbox.ledger(
          reminderBucketKey(s.schedule.deadline, slot.key),
          `${kind}~${accountId}`,
        );
        return row
          ? {
              subject: kind,
              offsetDays: slot.offsetDays,
              ...(slot.overdue ? { overdue: true } : {}),
              sentAt: String(row.SentAt),
              summary: String(row.Summary),
            }
          : undefined;
      }),
    );
    const items = (await Promise.all(reads)).filter((x) => x !== undefined);
    items.sort((a, b) => a.sentAt.localeCompare(b.sentAt));
    return json(200, {
      accountId,
      deadline: s.schedule.deadline,
      timeZone: s.schedule.timeZone,
      daysLeft: daysLeft(s.schedule, new Date()),
      items,
    });
  });
}
