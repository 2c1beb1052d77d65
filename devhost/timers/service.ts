// Timer triggers: schedules, runOnStartup, past-due detection with the status kept in Table storage.
import type { TableClient } from '@azure/data-tables';
import type { Cancel, Clock } from '../clock.js';
import type { RegisteredFunction } from '../core.js';
import { triggerOf } from '../http/router.js';
import type { InvocationOutcome, Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import { storageStatus } from '../storage.js';
import {
  checkPastDue,
  parseSchedule,
  statusAfterInvocation,
  timerInfoJson,
  type ScheduleStatus,
  type TimerSchedule,
} from './schedule.js';
import { ScheduleError, StartupError } from '../errors.js';

type RunReason = 'schedule' | 'pastDue' | 'runOnStartup' | 'manual';

/** Where each timer's ScheduleStatus lives (the real host keeps it in a blob per function). */
export interface ScheduleStatusStore {
  get(functionName: string): Promise<ScheduleStatus | null>;
  put(functionName: string, status: ScheduleStatus): Promise<void>;
}

export const TIMER_STATUS_TABLE = 'AzureWebJobsHostTimerStatus';

/** Table storage rows: PartitionKey = host id, RowKey = function name. */
export class TableScheduleStatusStore implements ScheduleStatusStore {
  constructor(
    private readonly table: TableClient,
    private readonly hostId: string,
  ) {}

  async init(): Promise<void> {
    await this.table.createTable();
  }

  async get(functionName: string): Promise<ScheduleStatus | null> {
    try {
      const e = await this.table.getEntity<{ Last: string; Next: string; LastUpdated: string }>(
        this.hostId,
        functionName.toLowerCase(),
      );
      return {
        last: new Date(e.Last),
        next: new Date(e.Next),
        lastUpdated: new Date(e.LastUpdated),
      };
    } catch (e) {
      if (storageStatus(e) === 404) return null;
      throw e;
    }
  }

  async put(functionName: string, s: ScheduleStatus): Promise<void> {
    await this.table.upsertEntity(
      {
        partitionKey: this.hostId,
        rowKey: functionName.toLowerCase(),
        Last: s.last.toISOString(),
        Next: s.next.toISOString(),
        LastUpdated: s.lastUpdated.toISOString(),
      },
      'Replace',
    );
  }
}

interface TimerEntry {
  fn: RegisteredFunction;
  triggerName: string;
  schedule: TimerSchedule;
  runOnStartup: boolean;
  status: ScheduleStatus | null;
  cancel: Cancel | undefined;
  /** invocations of one timer never overlap: each waits for the previous */
  chain: Promise<unknown>;
}

export function isTimer(fn: RegisteredFunction): boolean {
  return triggerOf(fn)?.[1].type?.toLowerCase() === 'timertrigger';
}

export class TimerService {
  readonly #timers = new Map<string, TimerEntry>();
  #stopped = false;

  constructor(
    functions: Iterable<RegisteredFunction>,
    private readonly clock: Clock,
    private readonly invoker: Invoker,
    private readonly logger: HostLogger,
    env: NodeJS.ProcessEnv,
    private readonly store: ScheduleStatusStore | undefined,
    timeZone: string | undefined,
  ) {
    for (const fn of functions) {
      const trigger = triggerOf(fn);
      if (!trigger || trigger[1].type?.toLowerCase() !== 'timertrigger') continue;
      const [triggerName, binding] = trigger;
      let schedule: TimerSchedule;
      try {
        schedule = parseSchedule(typeof binding.schedule === 'string' ? binding.schedule : '', {
          env,
          useMonitor: binding.useMonitor === undefined ? true : Boolean(binding.useMonitor),
          timeZone,
        });
      } catch (e) {
        if (e instanceof ScheduleError) {
          throw new StartupError(`Function "${fn.metadata.name}": ${e.message}`);
        }
        throw e;
      }
      this.#timers.set(fn.metadata.name.toLowerCase(), {
        fn,
        triggerName,
        schedule,
        runOnStartup: binding.runOnStartup === true,
        status: null,
        cancel: undefined,
        chain: Promise.resolve(),
      });
    }
  }

  get size(): number {
    return this.#timers.size;
  }

  /** Describes each timer for the start-up listing. */
  describe(): { name: string; schedule: string }[] {
    return [...this.#timers.values()].map((t) => ({
      name: t.fn.metadata.name,
      schedule: t.schedule.expression,
    }));
  }

  /** Reads stored statuses, fires past-due or runOnStartup invocations, and arms every schedule. */
  async start(): Promise<void> {
    for (const t of this.#timers.values()) {
      const now = this.clock.now();
      let pastDue = false;
      if (t.schedule.useMonitor && this.store) {
        const stored = await this.store.get(t.fn.metadata.name);
        const checked = checkPastDue(stored, t.schedule, now);
        t.status = checked.status;
        pastDue = checked.pastDue;
        await this.store.put(t.fn.metadata.name, t.status);
      }
      if (pastDue) {
        this.logger.info(
          `Function.${t.fn.metadata.name}`,
          `Timer '${t.fn.metadata.name}' missed a run; running it now (past due).`,
        );
        void this.#enqueue(t, 'pastDue', now);
      } else if (t.runOnStartup) {
        void this.#enqueue(t, 'runOnStartup', now);
      }
      t.chain = t.chain.then(() => this.#arm(t));
    }
  }

  /** Runs a timer now, as `POST /admin/functions/{name}` does; resolves when the invocation ends. */
  invokeNow(name: string): Promise<InvocationOutcome> | undefined {
    const t = this.#timers.get(name.toLowerCase());
    if (!t) return undefined;
    return this.#enqueue(t, 'manual', this.clock.now());
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) t.cancel?.();
  }

  /** Waits for every running timer invocation (tests and shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.#timers.values()].map((t) => t.chain));
  }

  #arm(t: TimerEntry): void {
    if (this.#stopped) return;
    const next = t.schedule.next(this.clock.now());
    t.cancel = this.clock.at(next, (due) => {
      t.cancel = undefined;
      void this.#enqueue(t, 'schedule', due);
      t.chain = t.chain.then(() => this.#arm(t));
    });
  }

  /** Queues one invocation behind the previous; `at` is the schedule slot (or moment) it stands for. */
  #enqueue(t: TimerEntry, reason: RunReason, at: Date): Promise<InvocationOutcome> {
    const monitored = t.schedule.useMonitor && this.store !== undefined;
    const run = t.chain.then(async () => {
      // The run sees the status from before it; the new one is stored afterwards (TimerListener).
      const info = timerInfoJson(t.schedule, monitored ? t.status : null, reason === 'pastDue');
      const outcome = await this.invoker.invoke(
        t.fn,
        { inputData: [{ name: t.triggerName, data: { json: info } }] },
        reason === 'schedule'
          ? `Timer fired at ${at.toISOString()}`
          : reason === 'manual'
            ? 'This function was programmatically called via the host APIs.'
            : reason === 'pastDue'
              ? 'Timer is past due'
              : 'Timer runOnStartup',
      );
      if (monitored && reason !== 'manual') {
        t.status = statusAfterInvocation(t.schedule, t.status, at, reason);
        await this.store.put(t.fn.metadata.name, t.status).catch((e: unknown) => {
          this.logger.warn(
            'Host.General',
            `Could not save the schedule status of '${t.fn.metadata.name}': ${String(e)}`,
          );
        });
      }
      return outcome;
    });
    t.chain = run.catch(() => undefined);
    return run;
  }
}
