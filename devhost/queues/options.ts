// host.json `extensions.queues`, validated, with the storage queue extension's defaults.
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { parseTimeSpan } from '../settings.js';
import { StartupError } from '../errors.js';

/** The Queues extension's settings, times in milliseconds. */
export interface QueuesOptions {
  batchSize: number;
  newBatchThreshold: number;
  maxPollingIntervalMs: number;
  visibilityTimeoutMs: number;
  maxDequeueCount: number;
  messageEncoding: 'base64' | 'none';
}

/** The polling interval right after a message was found; backoff starts here (QueuePollingIntervals). */
export const MIN_POLLING_MS = 100;

/** A TimeSpan text (`00:00:02`) or, as host.json 1.x wrote it, a number of milliseconds. */
const duration = z.union([
  z.number().nonnegative(),
  z.string().transform((s, ctx) => {
    const ms = /^\d+$/.test(s.trim()) ? Number(s) : parseTimeSpan(s);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected a TimeSpan such as "00:00:02"' });
      return z.NEVER;
    }
    return ms;
  }),
]);

const schema = z
  .looseObject({
    batchSize: z.coerce.number().int().min(1).max(32).optional(),
    newBatchThreshold: z.coerce.number().int().min(0).optional(),
    maxPollingInterval: duration
      .refine((ms) => ms >= MIN_POLLING_MS, {
        message: `must not be less than ${MIN_POLLING_MS} ms`,
      })
      .optional(),
    visibilityTimeout: duration.optional(),
    maxDequeueCount: z.coerce.number().int().min(1).optional(),
    messageEncoding: z
      .string()
      .transform((s) => s.toLowerCase())
      .pipe(z.enum(['base64', 'none'], { error: 'expected "base64" or "none"' }))
      .optional(),
  })
  .optional();

/**
 * Reads `extensions.queues` (keys case-insensitive, as .NET binds them). Defaults as QueuesOptions:
 * batch 16, new batch at batchSize/2 × cores, polling up to 1 min, failed messages visible again at
 * once, poison after 5 dequeues, base64 messages.
 */
export function queuesOptions(raw: unknown, cores = availableParallelism()): QueuesOptions {
  const section =
    raw && typeof raw === 'object'
      ? Object.fromEntries(
          Object.entries(raw as Record<string, unknown>).map(([k, v]) => [
            k.charAt(0).toLowerCase() + k.slice(1),
            v,
          ]),
        )
      : raw;
  const parsed = schema.safeParse(section);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StartupError(
      `host.json: extensions.queues.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const q = parsed.data ?? {};
  const batchSize = q.batchSize ?? 16;
  return {
    batchSize,
    newBatchThreshold: q.newBatchThreshold ?? Math.floor(batchSize / 2) * cores,
    maxPollingIntervalMs: q.maxPollingInterval ?? 60_000,
    visibilityTimeoutMs: q.visibilityTimeout ?? 0,
    maxDequeueCount: q.maxDequeueCount ?? 5,
    messageEncoding: q.messageEncoding ?? 'base64',
  };
}
