// reminderSweep (R-DUE-2): one instance per local day. Waits for the day's slot, refreshes the subject index
// from CPP, fans out over the index's shards a page per activity, then drains the slot's mail.
// Deterministic: time from currentUtcDateTime; only counts and continuation tokens pass through history.
import * as df from 'durable-functions';
import { reminderBucketKey, slotForDay } from '../lib/domain/reminders.js';
import {
  callReminderActivity,
  type ReminderActivities,
  type ReminderSweepInput,
  type ReminderSweepResult,
} from './names.js';

const RETRY = new df.RetryOptions(2000, 5);
RETRY.backoffCoefficient = 2;

type PageOut = ReminderActivities['remindPage']['out'];
type DeliverOut = ReminderActivities['deliverMail']['out'];

export function* reminderSweep(
  ctx: df.OrchestrationContext,
): Generator<df.Task, ReminderSweepResult, unknown> {
  const input = ctx.df.getInput<ReminderSweepInput>();
  const result: ReminderSweepResult = {
    slot: null,
    queued: 0,
    already: 0,
    skipped: 0,
    sent: 0,
    pendingMail: 0,
  };
  const slot = slotForDay(input.schedule, ctx.df.currentUtcDateTime);
  if (!slot) return result; // before the first offset: nothing is due yet
  result.slot = slot.key;
  ctx.df.setCustomStatus({ slot: slot.key, phase: 'waiting' });
  // A sweep started before the day's hour waits for it: the mail goes at the configured local time.
  if (ctx.df.currentUtcDateTime.getTime() < Date.parse(slot.dueAt))
    yield ctx.df.createTimer(new Date(slot.dueAt));
  const sweepAt = ctx.df.currentUtcDateTime.toISOString();

  ctx.df.setCustomStatus({ slot: slot.key, phase: 'refreshing' });
  yield callReminderActivity(ctx, 'refreshSubjects', RETRY, {});

  // Every shard in parallel, a page each round, until no shard has a next page.
  ctx.df.setCustomStatus({ slot: slot.key, phase: 'queueing' });
  let round: { shard: number; continuationToken?: string }[] = Array.from(
    { length: input.shards },
    (_, shard) => ({ shard }),
  );
  while (round.length) {
    const pages = (yield ctx.df.Task.all(
      round.map((p) => callReminderActivity(ctx, 'remindPage', RETRY, { slot, sweepAt, ...p })),
    )) as PageOut[];
    const next: typeof round = [];
    pages.forEach((page, i) => {
      result.queued += page.queued;
      result.already += page.already;
      result.skipped += page.skipped;
      if (page.continuationToken)
        next.push({ shard: round[i]!.shard, continuationToken: page.continuationToken });
    });
    round = next;
  }

  // Send what this sweep queued; what the mail service refuses waits for the outboxSender timer's retries.
  ctx.df.setCustomStatus({ slot: slot.key, phase: 'sending' });
  const bucket = reminderBucketKey(input.schedule.deadline, slot.key);
  for (;;) {
    const r = (yield callReminderActivity(ctx, 'deliverMail', RETRY, { bucket })) as DeliverOut;
    result.sent += r.sent;
    result.pendingMail = r.remaining;
    if (!r.remaining || r.failed) break;
  }
  ctx.df.setCustomStatus({ slot: slot.key, phase: 'done' });
  return result;
}
