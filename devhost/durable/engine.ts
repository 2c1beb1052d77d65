// The Durable Task engine of the local host: the episode loop of durable-protocol.md §7 over Table storage.
import { randomUUID } from 'node:crypto';
import type { TableEntity } from '@azure/data-tables';
import type { Clock } from '../clock.js';
import type { RegisteredFunction } from '../core.js';
import { triggerOf } from '../http/router.js';
import { describeError, type Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import type { RpcTypedData } from '../rpcTypes.js';
import {
  dotnetTime,
  event,
  EventType,
  eventToRow,
  OrchestrationStatus,
  ordinalKey,
  rowToEvent,
  type HistoryEvent,
} from './history.js';
import { stateColumns, stateText } from './checkpoint.js';
import {
  DurableStore,
  MESSAGE_PREFIX,
  SENTINEL,
  TASK_PREFIX,
  type InstanceRow,
  text,
  type Op,
} from './store.js';
import {
  DurableError,
  TERMINAL_STATUSES,
  type ControlResult,
  type DurableEngineApi,
  type InstanceFilter,
  type InstanceStatusPayload,
  type RuntimeStatus,
  type StatusOptions,
} from './types.js';

/** What the extension sends for the Azure Storage provider (§3). */
const LONG_TIMER_INTERVAL_MS = 3 * 86_400_000;
const MAX_SHORT_TIMER_MS = 6 * 86_400_000;
const DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * 86_400_000;
/** Instances kept in memory (as extended sessions do); idle ones beyond this are dropped and re-read on demand. */
const MAX_CACHED = 5000;

interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

interface RetryRecord {
  fn: 'activity' | 'suborch';
  name: string;
  input: string | null;
  instanceId?: string;
  options: RetryOptionsJson;
  failures: number;
  firstAttempt: number;
}

type OpenEntry =
  | { kind: 'retryAttempt'; retry: RetryRecord }
  | { kind: 'retryTimer'; retry: RetryRecord }
  | { kind: 'longTimer'; final: string; root: number };

/** The host-side replay state of one execution, kept in the sentinel row (committed with the history). */
interface EngineState {
  executionId: string;
  episode: number;
  historyCount: number;
  nextId: number;
  /** top-level action entries already handled */
  seenTop: number;
  /** id-consuming action units already handled */
  units: number;
  /** ids allocated by the host (retry timers and attempts, long-timer sub-timers) rather than by actions */
  dynIds: number[];
  open: Record<string, OpenEntry>;
  /** events carried into a new execution by continueAsNew */
  carry?: { name: string; input: string | null }[];
  /** the input of an execution started by continueAsNew (also written to the Instances row) */
  input?: string | null;
  status: RuntimeStatus;
  output: string | null;
  customStatus: string;
}

type Completion =
  { ok: true; result: string | null } | { ok: false; reason: string; details: string };

interface TaskRecord {
  rowKey: string;
  id: number;
  kind: 'activity' | 'timer' | 'suborch' | 'send';
  name: string;
  input: string | null;
  fireAt?: string;
  childId?: string;
  target?: string;
  message?: string;
  episode: number;
  done?: Completion;
  dispatched?: boolean;
  cancelTimer?: () => void;
}

interface MessageRecord {
  rowKey: string;
  kind: 'event' | 'terminate' | 'suspend' | 'resume' | 'entityOp';
  name: string;
  input: string | null;
}

interface Instance {
  id: string;
  loaded: boolean;
  row: (InstanceRow & { etag?: string }) | undefined;
  state: EngineState | undefined;
  sentinelEtag: string | undefined;
  history: HistoryEvent[];
  tasks: Map<string, TaskRecord>;
  messages: MessageRecord[];
  busy: boolean;
  again: boolean;
  /** episodes that failed in a row (storage errors), for the retry back-off */
  failures?: number;
  /** the Instances row write in flight, and whether the row changed again meanwhile */
  rowWrite?: Promise<void>;
  rowDirty?: boolean;
  /** entity instances: the state, kept in the sentinel */
  entity?: { exists: boolean; state: string | null };
}

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
  instanceId?: string;
  retryOptions?: RetryOptionsJson;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  operation?: string;
  compoundActions?: Action[];
  lockSet?: unknown[];
}

/** One id-consuming piece of an action (ReleaseEntities would take several). */
interface Unit {
  action: Action;
}

export interface EngineOptions {
  store: DurableStore;
  invoker: Invoker;
  logger: HostLogger;
  clock: Clock;
  functions: Iterable<RegisteredFunction>;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
}

class Semaphore {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = n;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((r) => this.#waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}

/** Instance ids: not starting with '@' (entities), none of / \\ # ? and no control characters. */
function validInstanceId(id: string): boolean {
  if (id.length === 0 || id.length > 256 || id.startsWith('@') || /[/\\#?]/.test(id)) return false;
  for (const ch of id) {
    const c = ch.charCodeAt(0);
    if (c <= 0x1f || (c >= 0x7f && c <= 0x9f)) return false;
  }
  return true;
}

function nFormatGuid(): string {
  return randomUUID().replace(/-/g, '');
}

/** The extension's ParseToJToken: null → null, blank → "", JSON → value, other text → the text. */
export function parseJsonText(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  if (text.trim() === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Flattens actions depth-first into id-consuming units (§6.1 costs). */
function unitsOf(actions: Action[], out: Unit[] = []): Unit[] {
  for (const a of actions) {
    switch (a.actionType) {
      case 11:
      case 12:
        unitsOf(a.compoundActions ?? [], out);
        break;
      case 4: // ContinueAsNew
      case 6: // WaitForExternalEvent
        break;
      case 14: // ReleaseEntities: one per locked entity
        break;
      default:
        out.push({ action: a });
    }
  }
  return out;
}

function allLeaves(actions: Action[], out: Action[] = []): Action[] {
  for (const a of actions) {
    if (a.actionType === 11 || a.actionType === 12) allLeaves(a.compoundActions ?? [], out);
    else out.push(a);
  }
  return out;
}

const ACTION_NAMES: Record<number, string> = {
  0: 'activity',
  1: 'activity',
  2: 'sub-orchestration',
  3: 'sub-orchestration',
  5: 'timer',
  7: 'entity call',
  8: 'HTTP call',
  9: 'entity signal',
  13: 'entity lock',
};

function describeUnit(a: Action): string {
  const kind = ACTION_NAMES[a.actionType] ?? `action type ${a.actionType}`;
  if (a.actionType === 5) return `a timer`;
  const name = a.functionName ?? a.operation ?? '';
  return `${kind} '${name}'`;
}

function describeScheduled(e: HistoryEvent): string {
  switch (e.EventType) {
    case EventType.TaskScheduled:
      return `activity '${String(e.Name)}'`;
    case EventType.SubOrchestrationInstanceCreated:
      return `sub-orchestration '${String(e.Name)}'`;
    case EventType.TimerCreated:
      return 'a timer';
    case EventType.EventSent:
      return `entity operation '${String(e.Name)}'`;
    default:
      return EventType[e.EventType];
  }
}

/** True when the replayed action is the one the history recorded with that id (names case-insensitive). */
function unitMatches(a: Action, e: HistoryEvent): boolean {
  const same = (x: unknown, y: unknown): boolean => text(x).toLowerCase() === text(y).toLowerCase();
  switch (a.actionType) {
    case 0:
    case 1:
      return e.EventType === EventType.TaskScheduled && same(e.Name, a.functionName);
    case 2:
    case 3:
      return (
        e.EventType === EventType.SubOrchestrationInstanceCreated && same(e.Name, a.functionName)
      );
    case 5:
      return e.EventType === EventType.TimerCreated;
    case 7:
    case 9:
      return e.EventType === EventType.EventSent && same(e.InstanceId, a.instanceId);
    default:
      return true;
  }
}

/**
 * DTFx RetryInterceptor's delay before the next attempt. `retryTimeoutInMilliseconds` is ignored: the
 * library always expects the next attempt after a retry timer, so honouring it would hang (§6.4, §13.11).
 */
function retryDelay(r: RetryRecord): number {
  const o = r.options;
  if (r.failures >= o.maxNumberOfAttempts) return 0;
  const raw =
    o.firstRetryIntervalInMilliseconds * Math.pow(o.backoffCoefficient ?? 1, r.failures - 1);
  return Math.min(raw, o.maxRetryIntervalInMilliseconds ?? DEFAULT_MAX_RETRY_INTERVAL_MS);
}

/** Decodes an activity's return TypedData into the JSON text TaskCompleted.Result carries (§8.2). */
function resultText(data: RpcTypedData | null | undefined): string | null {
  if (!data) return null;
  if (data.json !== undefined) return data.json;
  if (data.string !== undefined) return JSON.stringify(data.string);
  if (data.int !== undefined) return String(data.int);
  if (data.double !== undefined) return String(data.double);
  if (data.bytes !== undefined) return JSON.stringify(Buffer.from(data.bytes).toString('base64'));
  return null;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class DurableEngine implements DurableEngineApi {
  readonly hubName: string;
  readonly #store: DurableStore;
  readonly #invoker: Invoker;
  readonly #logger: HostLogger;
  readonly #clock: Clock;
  readonly #orchestrators = new Map<string, { fn: RegisteredFunction; trigger: string }>();
  readonly #activities = new Map<string, { fn: RegisteredFunction; trigger: string }>();
  readonly #entities = new Map<string, { fn: RegisteredFunction; trigger: string }>();
  readonly #instances = new Map<string, Instance>();
  readonly #activitySlots: Semaphore;
  readonly #episodeSlots: Semaphore;
  readonly #watchers = new Set<() => void>();
  #msgSeq = 0;
  #stopped = false;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(opts: EngineOptions) {
    this.#store = opts.store;
    this.hubName = opts.store.hubName;
    this.#invoker = opts.invoker;
    this.#logger = opts.logger;
    this.#clock = opts.clock;
    this.#activitySlots = new Semaphore(opts.maxConcurrentActivityFunctions);
    this.#episodeSlots = new Semaphore(opts.maxConcurrentOrchestratorFunctions);
    for (const fn of opts.functions) {
      const t = triggerOf(fn);
      const type = t?.[1].type?.toLowerCase();
      const entry = { fn, trigger: t?.[0] ?? '' };
      const key = fn.metadata.name.toLowerCase();
      if (type === 'orchestrationtrigger') this.#orchestrators.set(key, entry);
      else if (type === 'activitytrigger') this.#activities.set(key, entry);
      else if (type === 'entitytrigger') this.#entities.set(key, entry);
    }
  }

  get hasDurableFunctions(): boolean {
    return this.#orchestrators.size + this.#activities.size + this.#entities.size > 0;
  }

  /** Creates the tables and resumes every instance that had work left when the host stopped. */
  async open(): Promise<void> {
    await this.#store.init();
    const ids = await this.#store.scanForRecovery();
    if (ids.size > 0)
      this.#logger.info(
        'Host.Startup',
        `Durable: resuming ${ids.size} instance(s) of task hub '${this.hubName}'.`,
      );
    for (const id of ids) this.#kick(id);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const inst of this.#instances.values())
      for (const t of inst.tasks.values()) t.cancelTimer?.();
    await Promise.allSettled([...this.#inflight]);
  }

  #track<T>(p: Promise<T>): void {
    const tracked = p.catch((e: unknown) => {
      this.#logger.error('Host.General', `Durable engine error: ${describeError(e)}`);
    });
    this.#inflight.add(tracked);
    void tracked.finally(() => this.#inflight.delete(tracked));
  }

  #notify(): void {
    for (const w of [...this.#watchers]) w();
  }

  // ---------------------------------------------------------------- loading

  #get(id: string): Instance {
    let inst = this.#instances.get(id);
    if (!inst) {
      inst = {
        id,
        loaded: false,
        row: undefined,
        state: undefined,
        sentinelEtag: undefined,
        history: [],
        tasks: new Map(),
        messages: [],
        busy: false,
        again: false,
      };
      this.#instances.set(id, inst);
    }
    return inst;
  }

  async #load(inst: Instance): Promise<void> {
    const [row, part] = await Promise.all([
      this.#store.getInstance(inst.id),
      this.#store.loadPartition(inst.id),
    ]);
    // Writes made while the partition was being read are kept: they may be missing from what was read.
    const earlierMessages = inst.messages;
    const earlier = new Map([...inst.tasks.values()].map((t) => [t.rowKey, t]));
    inst.row = row;
    inst.state = undefined;
    inst.sentinelEtag = undefined;
    inst.history = [];
    for (const t of inst.tasks.values()) t.cancelTimer?.();
    inst.tasks = new Map();
    inst.messages = [];
    if (part.sentinel) {
      inst.sentinelEtag = part.sentinel.etag;
      const text = stateText(part.sentinel);
      if (text) inst.state = JSON.parse(text) as EngineState;
      if (
        typeof part.sentinel.EntityState === 'string' ||
        part.sentinel.EntityExists !== undefined
      ) {
        inst.entity = {
          exists: part.sentinel.EntityExists === true,
          state: typeof part.sentinel.EntityState === 'string' ? part.sentinel.EntityState : null,
        };
      }
    }
    const state = inst.state;
    const stale: string[] = [];
    if (state) {
      inst.history = part.history
        .filter(
          (r) =>
            r.ExecutionId === state.executionId &&
            parseInt(String(r.rowKey), 16) < state.historyCount,
        )
        .map(rowToEvent);
    }
    const completed = new Set<number>();
    const consumedMessages = new Set<string>();
    for (const r of part.history) {
      if (typeof r._xMessageKey === 'string') consumedMessages.add(r._xMessageKey);
    }
    for (const e of inst.history) {
      if (typeof e.TaskScheduledId === 'number') completed.add(e.TaskScheduledId);
      if (typeof e.TimerId === 'number') completed.add(e.TimerId);
    }
    for (const r of part.tasks) {
      const episode = Number(r.Episode ?? 0);
      const id = Number(r.TaskId);
      if (
        !state ||
        r.ExecutionId !== state.executionId ||
        episode > state.episode ||
        completed.has(id)
      ) {
        stale.push(r.rowKey); // from an uncommitted episode, an old execution, or already in history
        continue;
      }
      const task: TaskRecord = {
        rowKey: r.rowKey,
        id,
        kind: String(r.Kind) as TaskRecord['kind'],
        name: text(r.Name),
        input: typeof r.Input === 'string' ? r.Input : null,
        episode,
        ...(typeof r.FireAt === 'string' ? { fireAt: r.FireAt } : {}),
        ...(typeof r.ChildId === 'string' ? { childId: r.ChildId } : {}),
        ...(typeof r.Target === 'string' ? { target: r.Target } : {}),
        ...(typeof r.Message === 'string' ? { message: r.Message } : {}),
      };
      if (r.Done === true) {
        task.done =
          r.Failed === true
            ? { ok: false, reason: text(r.Reason), details: text(r.Details) }
            : { ok: true, result: typeof r.Result === 'string' ? r.Result : null };
      }
      inst.tasks.set(task.rowKey, task);
    }
    for (const r of part.messages) {
      if (consumedMessages.has(r.rowKey)) {
        stale.push(r.rowKey);
        continue;
      }
      inst.messages.push({
        rowKey: r.rowKey,
        kind: String(r.Kind) as MessageRecord['kind'],
        name: text(r.Name),
        input: typeof r.Input === 'string' ? r.Input : null,
      });
    }
    for (const m of earlierMessages) {
      if (!inst.messages.some((x) => x.rowKey === m.rowKey) && !consumedMessages.has(m.rowKey))
        inst.messages.push(m);
    }
    for (const [key, before] of earlier) {
      const t = inst.tasks.get(key);
      if (!t) continue;
      if (before.done && !t.done) t.done = before.done;
      // Still running in this process: do not start it a second time.
      if (before.dispatched && t.kind === 'activity') t.dispatched = true;
    }
    inst.loaded = true;
    if (stale.length) await this.#store.deleteRows(inst.id, stale);
    // A crash between the history commit and the Instances update leaves the row behind: repair it.
    if (
      state &&
      inst.row &&
      !this.#isEntity(inst.id) &&
      (inst.row.RuntimeStatus !== state.status || inst.row.ExecutionId !== state.executionId)
    ) {
      this.#saveRow(inst, {
        RuntimeStatus: state.status,
        Output: state.output,
        CustomStatus: state.customStatus,
        ExecutionId: state.executionId,
        ...(state.input !== undefined ? { Input: state.input } : {}),
      });
    }
    for (const t of inst.tasks.values()) this.#dispatch(inst, t);
  }

  #isEntity(id: string): boolean {
    return id.startsWith('@');
  }

  // ---------------------------------------------------------------- scheduling

  /** Asks for an episode of `id` (runs one at a time per instance; a request while busy runs again after). */
  #kick(id: string): void {
    if (this.#stopped) return;
    const inst = this.#get(id);
    if (inst.busy) {
      inst.again = true;
      return;
    }
    inst.busy = true;
    this.#track(
      (async () => {
        do {
          inst.again = false;
          if (!inst.loaded) await this.#load(inst);
          if (this.#isEntity(id)) await this.#entityEpisode(inst);
          else await this.#episode(inst);
        } while (inst.again && !this.#stopped);
      })()
        .catch((e: unknown) => {
          // A storage hiccup must not strand the instance: re-read it and try again shortly.
          this.#logger.warn(
            'Host.General',
            `Durable: episode of '${id}' failed (${errorMessage(e)}); retrying in 1 s.`,
          );
          inst.loaded = false;
          setTimeout(() => this.#kick(id), 1000).unref();
        })
        .finally(() => {
          inst.busy = false;
          this.#evict();
          this.#notify();
        }),
    );
  }

  #dispatch(inst: Instance, task: TaskRecord): void {
    if (task.dispatched || task.done || this.#stopped) return;
    task.dispatched = true;
    switch (task.kind) {
      case 'activity':
        this.#track(this.#runActivity(inst, task));
        break;
      case 'timer':
        task.cancelTimer = this.#clock.at(new Date(task.fireAt!), () => this.#kick(inst.id));
        break;
      case 'suborch':
        this.#track(this.#startChild(inst, task));
        break;
      case 'send':
        this.#track(this.#send(inst, task));
        break;
    }
  }

  async #runActivity(inst: Instance, task: TaskRecord): Promise<void> {
    const executionId = inst.state?.executionId;
    const done = await this.#activitySlots.run(async (): Promise<Completion> => {
      const entry = this.#activities.get(task.name.toLowerCase());
      if (!entry) {
        return {
          ok: false,
          reason: `The function '${task.name}' doesn't exist, is disabled, or is not an activity function.`,
          details: '',
        };
      }
      const outcome = await this.#invoker.invoke(
        entry.fn,
        {
          inputData: [
            { name: entry.trigger, data: task.input === null ? {} : { string: task.input } },
          ],
          triggerMetadata: { instanceId: { string: inst.id } },
        },
        `(Activity of orchestration ${inst.id})`,
      );
      if (outcome.ok) return { ok: true, result: resultText(outcome.response.returnValue) };
      const err = outcome.error;
      return {
        ok: false,
        reason: `Activity function '${entry.fn.metadata.name}' failed: ${errorMessage(err)}`,
        details: JSON.stringify({
          message: errorMessage(err),
          stack: err instanceof Error ? (err.stack ?? '') : '',
        }),
      };
    });
    // The result waits in memory for the next episode, which commits it with the history (at-least-once).
    const current = inst.tasks.get(task.rowKey);
    if (inst.state?.executionId !== executionId || !current) return;
    current.done = done;
    this.#kick(inst.id);
  }

  async #startChild(parent: Instance, task: TaskRecord): Promise<void> {
    const childId = task.childId!;
    const existing = await this.#store.getInstance(childId);
    if (
      existing &&
      existing.ParentInstanceId === parent.id &&
      existing.ParentTaskScheduledId === task.id &&
      existing.ParentExecutionId === parent.state?.executionId
    ) {
      if (TERMINAL_STATUSES.has(existing.RuntimeStatus))
        await this.#deliverChildResult(parent.id, parent.state.executionId, task.id, existing);
      else this.#kick(childId);
      return;
    }
    if (existing && !TERMINAL_STATUSES.has(existing.RuntimeStatus)) {
      await this.#completeTask(parent.id, parent.state!.executionId, task.id, {
        ok: false,
        reason: `An orchestration with instance ID '${childId}' already exists and is still running.`,
        details: '',
      });
      return;
    }
    if (existing) await this.#purgeStorage(childId);
    await this.#store.createInstance(
      childId,
      this.#newRow(task.name, task.input, {
        ParentInstanceId: parent.id,
        ParentExecutionId: parent.state!.executionId,
        ParentTaskScheduledId: task.id,
        ParentName: parent.row?.Name ?? null,
      }),
    );
    this.#instances.delete(childId);
    this.#kick(childId);
  }

  async #deliverChildResult(
    parentId: string,
    executionId: string,
    taskId: number,
    child: InstanceRow,
  ): Promise<void> {
    const done: Completion =
      child.RuntimeStatus === 'Completed'
        ? { ok: true, result: child.Output }
        : {
            ok: false,
            reason: child.Output ?? `Sub-orchestration ${child.RuntimeStatus.toLowerCase()}`,
            details: '',
          };
    await this.#completeTask(parentId, executionId, taskId, done);
  }

  /** Records a durable completion (sub-orchestrations) on the parent's task row, then wakes the parent. */
  async #completeTask(
    instanceId: string,
    executionId: string,
    taskId: number,
    done: Completion,
  ): Promise<void> {
    const rowKey = taskKey(executionId, taskId);
    const ok = await this.#store.mergeRow(instanceId, rowKey, {
      Done: true,
      Failed: !done.ok,
      ...(done.ok
        ? done.result !== null
          ? { Result: done.result }
          : {}
        : { Reason: done.reason, Details: done.details }),
    });
    if (!ok) return;
    const inst = this.#instances.get(instanceId);
    const task = inst?.tasks.get(rowKey);
    if (task) task.done = done;
    this.#kick(instanceId);
  }

  /** Delivers an entity request (signal or call) to the entity's partition; idempotent by request id. */
  async #send(inst: Instance, task: TaskRecord): Promise<void> {
    await this.#store.upsertRow(
      task.target!,
      `${MESSAGE_PREFIX}${task.rowKey.slice(TASK_PREFIX.length)}`,
      {
        Kind: 'entityOp',
        Name: task.name,
        Input: task.message ?? null,
      },
    );
    const rowKey = `${MESSAGE_PREFIX}${task.rowKey.slice(TASK_PREFIX.length)}`;
    const target = this.#instances.get(task.target!);
    if (target && !target.messages.some((m) => m.rowKey === rowKey)) {
      target.messages.push({
        rowKey,
        kind: 'entityOp',
        name: task.name,
        input: task.message ?? null,
      });
    }
    await this.#store.deleteRows(inst.id, [task.rowKey]);
    inst.tasks.delete(task.rowKey);
    this.#kick(task.target!);
  }

  // ---------------------------------------------------------------- the episode

  async #episode(inst: Instance): Promise<void> {
    const row = inst.row;
    if (!row) {
      // Messages for an instance that does not exist (yet): nothing to run.
      return;
    }
    if (
      TERMINAL_STATUSES.has(row.RuntimeStatus) &&
      (!inst.state || TERMINAL_STATUSES.has(inst.state.status))
    ) {
      const leftovers = [...inst.messages.map((m) => m.rowKey), ...inst.tasks.keys()];
      if (leftovers.length) {
        inst.messages = [];
        inst.tasks.clear();
        await this.#store.deleteRows(inst.id, leftovers);
      }
      return;
    }
    const now = this.#clock.now();
    const nowMs = now.getTime();
    // The first episode of an execution: a new instance, or the one continueAsNew just started.
    const first = !inst.state || inst.state.historyCount === 0;
    const state: EngineState = inst.state
      ? structuredClone<EngineState>(inst.state)
      : {
          executionId: row.ExecutionId || nFormatGuid(),
          episode: 0,
          historyCount: 0,
          nextId: 0,
          seenTop: 0,
          units: 0,
          dynIds: [],
          open: {},
          status: 'Running',
          output: null,
          customStatus: 'null',
        };
    state.episode++;
    const incoming: HistoryEvent[] = [];
    const consumedMessages: MessageRecord[] = [];
    const consumedTasks: TaskRecord[] = [];
    const messageKeys = new Map<HistoryEvent, string>();

    // Control messages: terminate wins; suspended instances hold everything but resume.
    const terminate = inst.messages.find((m) => m.kind === 'terminate');
    if (terminate) {
      await this.#terminateNow(inst, state, terminate, now);
      return;
    }
    let suspended = state.status === 'Suspended';
    for (const m of inst.messages) {
      if (m.kind === 'suspend' && !suspended) {
        incoming.push(event(EventType.ExecutionSuspended, now, { Reason: m.input }));
        suspended = true;
        consumedMessages.push(m);
      } else if (m.kind === 'resume' && suspended) {
        incoming.push(event(EventType.ExecutionResumed, now, { Reason: m.input }));
        suspended = false;
        consumedMessages.push(m);
      } else if ((m.kind === 'suspend' || m.kind === 'resume') && !consumedMessages.includes(m)) {
        consumedMessages.push(m); // a no-op request
      }
    }
    if (suspended) {
      state.status = 'Suspended';
      if (incoming.length === 0 && consumedMessages.length === 0) return;
      await this.#commit(
        inst,
        state,
        incoming,
        [],
        consumedTasks,
        consumedMessages,
        messageKeys,
        now,
        undefined,
      );
      return;
    }
    if (first) {
      incoming.push(
        event(EventType.ExecutionStarted, row.CreatedTime, {
          OrchestrationInstance: { InstanceId: inst.id, ExecutionId: state.executionId },
          ParentInstance: row.ParentInstanceId
            ? {
                Name: row.ParentName,
                Version: '',
                TaskScheduleId: row.ParentTaskScheduledId,
                OrchestrationInstance: {
                  InstanceId: row.ParentInstanceId,
                  ExecutionId: row.ParentExecutionId,
                },
              }
            : null,
          Name: row.Name,
          Version: '',
          Input: state.input !== undefined ? state.input : row.Input,
          Tags: null,
          Correlation: null,
          ParentTraceContext: null,
          ScheduledStartTime: null,
          Generation: row.Generation,
          GenerateNewTrace: false,
        }),
      );
      for (const c of state.carry ?? [])
        incoming.push(event(EventType.EventRaised, now, { Name: c.name, Input: c.input }));
      delete state.carry;
    }
    state.status = 'Running';

    // Completions: at most one that makes the library allocate ids (§6.1.3), and it goes first.
    const ready = [...inst.tasks.values()]
      .filter((t) => (t.kind === 'timer' ? !!t.fireAt && Date.parse(t.fireAt) <= nowMs : !!t.done))
      .sort((a, b) => a.id - b.id);
    const allocating = (t: TaskRecord): boolean => {
      const o = state.open[t.id];
      if (!o) return false;
      if (o.kind === 'retryAttempt') return t.done?.ok === false;
      if (o.kind === 'retryTimer') return true;
      return Date.parse(o.final) > nowMs;
    };
    const firstAllocating = ready.find(allocating);
    const chosen = firstAllocating
      ? [firstAllocating, ...ready.filter((t) => !allocating(t))]
      : ready;
    const dynSched: HistoryEvent[] = [];
    const newTasks: TaskRecord[] = [];
    for (const t of chosen) {
      consumedTasks.push(t);
      incoming.push(this.#completionEvent(t, now));
      const o = state.open[t.id];
      if (!o) continue;
      delete state.open[t.id];
      if (o.kind === 'retryAttempt') {
        if (t.done?.ok !== false) continue;
        o.retry.failures++;
        // The library waits for one timer after every failed attempt, even the last (§6.4).
        const delay = retryDelay(o.retry);
        const id = state.nextId++;
        state.dynIds.push(id);
        const fireAt = new Date(nowMs + delay);
        dynSched.push(event(EventType.TimerCreated, now, { FireAt: dotnetTime(fireAt) }, id));
        newTasks.push(this.#task(state, id, 'timer', '', null, { fireAt: fireAt.toISOString() }));
        state.open[id] = { kind: 'retryTimer', retry: o.retry };
      } else if (o.kind === 'retryTimer') {
        if (o.retry.failures >= o.retry.options.maxNumberOfAttempts) continue;
        const id = state.nextId++;
        state.dynIds.push(id);
        const r = o.retry;
        this.#scheduleCall(
          inst,
          state,
          id,
          r.fn === 'activity' ? 1 : 3,
          r.name,
          r.input,
          r.instanceId,
          now,
          dynSched,
          newTasks,
        );
        state.open[id] = { kind: 'retryAttempt', retry: r };
      } else if (Date.parse(o.final) > nowMs) {
        const id = state.nextId++;
        state.dynIds.push(id);
        const final = Date.parse(o.final);
        const next = final - nowMs > MAX_SHORT_TIMER_MS ? nowMs + LONG_TIMER_INTERVAL_MS : final;
        dynSched.push(
          event(EventType.TimerCreated, now, { FireAt: dotnetTime(new Date(next)) }, id),
        );
        newTasks.push(
          this.#task(state, id, 'timer', '', null, { fireAt: new Date(next).toISOString() }),
        );
        state.open[id] = { kind: 'longTimer', final: o.final, root: o.root };
      }
    }
    for (const m of inst.messages) {
      if (m.kind !== 'event') continue;
      const e = event(EventType.EventRaised, now, { Name: m.name, Input: m.input });
      messageKeys.set(e, m.rowKey);
      incoming.push(e);
      consumedMessages.push(m);
    }
    if (!first && incoming.length === 0 && consumedMessages.length === 0) return;
    if (incoming.length === 0) {
      await this.#commit(
        inst,
        state,
        [],
        [],
        consumedTasks,
        consumedMessages,
        messageKeys,
        now,
        undefined,
      );
      return;
    }

    // Replay: the whole history, then this episode's OrchestratorStarted and new events.
    const started = event(EventType.OrchestratorStarted, now);
    const past = inst.history.map((e) =>
      e.EventType === EventType.OrchestratorStarted || e.IsPlayed ? e : { ...e, IsPlayed: true },
    );
    const payload = {
      history: [...past, started, ...incoming],
      input: parseJsonText(state.input !== undefined ? state.input : row.Input),
      instanceId: inst.id,
      isReplaying: !first,
      parentInstanceId: row.ParentInstanceId,
      upperSchemaVersion: 1,
      upperSchemaVersionNew: 2,
      longRunningTimerIntervalDuration: '3.00:00:00',
      maximumShortTimerDuration: '6.00:00:00',
      defaultHttpAsyncRequestSleepTimeMillseconds: 30000,
    };
    const orch = this.#orchestrators.get(row.Name.toLowerCase());
    let result:
      | {
          isDone?: boolean;
          actions?: Action[][];
          output?: unknown;
          error?: string;
          customStatus?: unknown;
        }
      | undefined;
    let failure: string | undefined;
    if (!orch) {
      failure = `The function '${row.Name}' doesn't exist, is disabled, or is not an orchestrator function.`;
    } else {
      // maxConcurrentOrchestratorFunctions bounds the replays (CPU), not the storage I/O around them.
      const outcome = await this.#episodeSlots.run(() =>
        this.#invoker.invoke(
          orch.fn,
          { inputData: [{ name: orch.trigger, data: { string: JSON.stringify(payload) } }] },
          `(Orchestrator ${inst.id})`,
        ),
      );
      if (outcome.ok) {
        const rv = outcome.response.returnValue;
        result = rv?.json
          ? (JSON.parse(rv.json) as typeof result)
          : rv?.string
            ? (JSON.parse(rv.string) as typeof result)
            : undefined;
      } else {
        const msg = errorMessage(outcome.error);
        const marker = msg.indexOf('\n\n$OutOfProcData$:');
        if (marker >= 0) {
          try {
            result = JSON.parse(msg.slice(marker + '\n\n$OutOfProcData$:'.length)) as typeof result;
          } catch {
            result = undefined;
          }
        }
        failure = `Orchestrator function '${orch.fn.metadata.name}' failed: ${result?.error ?? msg}`;
      }
    }

    const sched: HistoryEvent[] = [...dynSched];
    let finish:
      { status: RuntimeStatus; output: string | null; failureDetails?: unknown } | undefined;
    let continueInput: { input: string | null } | undefined;
    const actions = result?.actions?.[0] ?? [];
    // Non-determinism: every action the history already scheduled must come back the same (§6.3).
    const units = unitsOf(actions);
    const staticIds = this.#staticIds(state);
    const scheduledById = new Map<number, HistoryEvent>();
    for (const e of inst.history) {
      if (
        [
          EventType.TaskScheduled,
          EventType.TimerCreated,
          EventType.SubOrchestrationInstanceCreated,
          EventType.EventSent,
        ].includes(e.EventType)
      ) {
        scheduledById.set(e.EventId, e);
      }
    }
    let nonDeterminism: string | undefined;
    const known = Math.min(units.length, state.units);
    for (let k = 0; k < known; k++) {
      const expected = scheduledById.get(staticIds[k]!);
      if (expected && !unitMatches(units[k]!.action, expected)) {
        nonDeterminism = `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describeScheduled(expected)} with sequence ID ${staticIds[k]}, but the current replay execution scheduled ${describeUnit(units[k]!.action)} instead. Was a change made to the orchestrator code after this instance had already started running?`;
        break;
      }
    }
    if (!nonDeterminism && !failure && units.length < state.units && !result?.isDone) {
      const missing = scheduledById.get(staticIds[units.length]!);
      if (missing) {
        nonDeterminism = `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describeScheduled(missing)} with sequence ID ${missing.EventId}, but the current replay execution hasn't scheduled this task. Was a change made to the orchestrator code after this instance had already started running?`;
      }
    }
    if (nonDeterminism) {
      failure = nonDeterminism;
    } else if (result) {
      // New actions get the next ids, depth-first (§6.1).
      const idOfUnit = [...staticIds];
      for (const u of units.slice(state.units)) {
        const id = state.nextId++;
        idOfUnit.push(id);
        const a = u.action;
        if (a.actionType === 8 || a.actionType === 13) {
          failure = `The local host does not support ${ACTION_NAMES[a.actionType]}s (action type ${a.actionType}).`;
          break;
        }
        if (a.actionType === 5) {
          const fireAt = Date.parse(a.fireAt ?? '');
          let first = fireAt;
          if (fireAt - nowMs > MAX_SHORT_TIMER_MS) {
            first = nowMs + LONG_TIMER_INTERVAL_MS;
            state.open[id] = { kind: 'longTimer', final: new Date(fireAt).toISOString(), root: id };
          }
          sched.push(
            event(EventType.TimerCreated, now, { FireAt: dotnetTime(new Date(first)) }, id),
          );
          if (!a.isCanceled)
            newTasks.push(
              this.#task(state, id, 'timer', '', null, { fireAt: new Date(first).toISOString() }),
            );
        } else if (a.actionType === 7 || a.actionType === 9) {
          const requestId = randomUUID();
          const message = JSON.stringify({
            op: a.operation,
            ...(a.actionType === 9 ? { signal: true } : {}),
            ...(a.input !== undefined ? { input: JSON.stringify(a.input) } : {}),
            id: requestId,
            parent: inst.id,
            parentExecution: state.executionId,
          });
          sched.push(
            event(
              EventType.EventSent,
              now,
              { InstanceId: a.instanceId, Name: 'op', Input: message },
              id,
            ),
          );
          newTasks.push(
            this.#task(state, id, 'send', a.operation ?? '', null, {
              target: a.instanceId,
              message,
            }),
          );
        } else {
          const input =
            a.actionType <= 1
              ? activityInput(a.input)
              : a.input === undefined
                ? null
                : JSON.stringify(a.input);
          this.#scheduleCall(
            inst,
            state,
            id,
            a.actionType,
            a.functionName ?? '',
            input,
            a.instanceId,
            now,
            sched,
            newTasks,
          );
          if (a.retryOptions) {
            state.open[id] = {
              kind: 'retryAttempt',
              retry: {
                fn: a.actionType === 1 ? 'activity' : 'suborch',
                name: a.functionName ?? '',
                input,
                ...(a.instanceId ? { instanceId: a.instanceId } : {}),
                options: a.retryOptions,
                failures: 0,
                firstAttempt: nowMs,
              },
            };
          }
        }
      }
      state.units = Math.max(state.units, units.length);
      state.seenTop = actions.length;
      // Cancelled timers (a lost Task.any race) never fire (§6.5).
      const leaves = allLeaves(actions);
      let unitIndex = 0;
      for (const leaf of leaves) {
        if ([4, 6, 14].includes(leaf.actionType)) continue;
        const id = idOfUnit[unitIndex++];
        if (leaf.actionType !== 5 || !leaf.isCanceled || id === undefined) continue;
        for (const [key, o] of Object.entries(state.open))
          if (o.kind === 'longTimer' && o.root === id) delete state.open[key];
        for (const t of [...inst.tasks.values(), ...newTasks]) {
          if (t.kind !== 'timer') continue;
          const rootOf = state.open[t.id];
          if (t.id === id || (rootOf?.kind === 'longTimer' && rootOf.root === id)) {
            if (newTasks.includes(t)) newTasks.splice(newTasks.indexOf(t), 1);
            else if (!consumedTasks.includes(t)) consumedTasks.push(t);
          }
        }
      }
      if (result.customStatus !== undefined && result.customStatus !== null)
        state.customStatus = JSON.stringify(result.customStatus);
      if (!failure && result.error)
        failure = `Orchestrator function '${row.Name}' failed: ${result.error}`;
      if (!failure && result.isDone) {
        const last = actions[actions.length - 1];
        if (last?.actionType === 4)
          continueInput = { input: last.input === undefined ? null : JSON.stringify(last.input) };
        else
          finish = {
            status: 'Completed',
            output: result.output === undefined ? null : JSON.stringify(result.output),
          };
      }
    }
    if (failure) {
      finish = { status: 'Failed', output: failure };
      newTasks.length = 0;
    }

    const tail: HistoryEvent[] = [];
    if (finish) {
      tail.push(
        event(
          EventType.ExecutionCompleted,
          now,
          {
            OrchestrationStatus:
              finish.status === 'Completed'
                ? OrchestrationStatus.Completed
                : OrchestrationStatus.Failed,
            Result: finish.output,
            FailureDetails:
              finish.status === 'Failed'
                ? {
                    ErrorType: 'OrchestrationFailureException',
                    ErrorMessage: finish.output,
                    StackTrace: null,
                    IsNonRetriable: false,
                    Properties: null,
                    InnerFailure: null,
                  }
                : null,
          },
          state.nextId,
        ),
      );
      state.status = finish.status;
      state.output = finish.output;
    } else if (continueInput) {
      tail.push(
        event(
          EventType.ContinueAsNew,
          now,
          { OrchestrationStatus: OrchestrationStatus.ContinuedAsNew, Result: continueInput.input },
          state.nextId,
        ),
      );
    }
    const episodeEvents = [
      started,
      ...incoming,
      ...sched,
      ...tail,
      event(EventType.OrchestratorCompleted, now),
    ];
    if (continueInput) {
      await this.#continueAsNew(
        inst,
        state,
        episodeEvents,
        actions,
        consumedTasks,
        consumedMessages,
        continueInput.input,
        now,
      );
      return;
    }
    await this.#commit(
      inst,
      state,
      episodeEvents,
      newTasks,
      consumedTasks,
      consumedMessages,
      messageKeys,
      now,
      finish,
    );
  }

  // ---------------------------------------------------------------- the client's API

  #messageKey(): string {
    this.#msgSeq = (this.#msgSeq + 1) % 0xffffff;
    return `${MESSAGE_PREFIX}${Date.now().toString(16).padStart(12, '0')}${this.#msgSeq.toString(16).padStart(6, '0')}${randomUUID().slice(0, 8)}`;
  }

  /** Inserts a message row for an instance and hands it to the instance in memory. */
  async #postMessage(
    id: string,
    kind: MessageRecord['kind'],
    name: string,
    input: string | null,
  ): Promise<void> {
    const rowKey = this.#messageKey();
    await this.#store.insertMessage(id, rowKey, {
      Kind: kind,
      Name: name,
      ...(input !== null ? { Input: input } : {}),
    });
    const inst = this.#instances.get(id);
    if (inst) inst.messages.push({ rowKey, kind, name, input });
    this.#kick(id);
  }

  async #row(id: string): Promise<InstanceRow | undefined> {
    const inst = this.#instances.get(id);
    if (inst?.loaded && inst.row) return inst.row;
    return this.#store.getInstance(id);
  }

  async start(name: string, instanceId: string | undefined, input: unknown): Promise<string> {
    const orch = this.#orchestrators.get(name.toLowerCase());
    if (!orch) {
      throw new DurableError(
        400,
        `The function '${name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      );
    }
    const id = instanceId || nFormatGuid();
    if (!validInstanceId(id)) {
      throw new DurableError(
        400,
        `Instance ID '${id}' is invalid: it may not start with '@' nor contain '/', '\\', '#', '?' or control characters.`,
      );
    }
    const row = this.#newRow(
      orch.fn.metadata.name,
      input === undefined ? null : JSON.stringify(input),
    );
    if (!(await this.#store.createInstance(id, row))) {
      const existing = await this.#store.getInstance(id);
      if (existing && !TERMINAL_STATUSES.has(existing.RuntimeStatus)) {
        throw new DurableError(
          409,
          `An Orchestration instance with the ID '${id}' already exists.`,
        );
      }
      await this.#purgeStorage(id);
      if (!(await this.#store.createInstance(id, row))) {
        throw new DurableError(
          409,
          `An Orchestration instance with the ID '${id}' already exists.`,
        );
      }
    }
    this.#drop(id);
    const inst = this.#get(id);
    inst.row = row;
    inst.loaded = true;
    this.#kick(id);
    return id;
  }

  /** A Pending Instances row, as the client's start (or a parent's sub-orchestration) creates it. */
  #newRow(name: string, input: string | null, parent: Partial<InstanceRow> = {}): InstanceRow {
    const now = this.#clock.now();
    return {
      Name: name,
      Version: '',
      Input: input,
      Output: null,
      CustomStatus: 'null',
      RuntimeStatus: 'Pending',
      CreatedTime: now,
      LastUpdatedTime: now,
      CompletedTime: null,
      ExecutionId: nFormatGuid(),
      TaskHubName: this.hubName,
      Generation: 0,
      ParentInstanceId: null,
      ParentExecutionId: null,
      ParentTaskScheduledId: null,
      ParentName: null,
      ...parent,
    };
  }

  #drop(id: string): void {
    const inst = this.#instances.get(id);
    if (!inst) return;
    for (const t of inst.tasks.values()) t.cancelTimer?.();
    this.#instances.delete(id);
  }

  async #purgeStorage(id: string): Promise<void> {
    this.#drop(id);
    await this.#store.deletePartition(id);
    await this.#store.deleteInstance(id);
  }

  async getStatus(
    instanceId: string,
    opts: StatusOptions = {},
  ): Promise<InstanceStatusPayload | undefined> {
    const row = await this.#row(instanceId);
    if (!row || this.#isEntity(instanceId)) return undefined;
    const payload = this.#payload(instanceId, row, opts.showInput !== false);
    if (opts.showHistory && row.RuntimeStatus !== 'Pending') {
      const inst = this.#instances.get(instanceId);
      let history: HistoryEvent[];
      if (inst?.loaded && inst.state) history = inst.history;
      else {
        const part = await this.#store.loadPartition(instanceId);
        const execution = part.sentinel?.ExecutionId;
        const count = Number(part.sentinel?.HistoryCount ?? 0);
        history = part.history
          .filter((r) => r.ExecutionId === execution && parseInt(String(r.rowKey), 16) < count)
          .map(rowToEvent);
      }
      payload.historyEvents = historyForStatus(
        history,
        !!opts.showHistoryOutput,
        opts.showInput !== false,
      );
    }
    return payload;
  }

  #payload(id: string, row: InstanceRow, showInput: boolean): InstanceStatusPayload {
    return {
      name: row.Name,
      instanceId: id,
      runtimeStatus: row.RuntimeStatus,
      input: showInput ? parseJsonText(row.Input) : null,
      customStatus: parseJsonText(row.CustomStatus === 'null' ? null : row.CustomStatus),
      output: parseJsonText(row.Output),
      createdTime: durableTime(row.CreatedTime),
      lastUpdatedTime: durableTime(row.LastUpdatedTime),
    };
  }

  async listInstances(
    filter: InstanceFilter,
  ): Promise<{ items: InstanceStatusPayload[]; continuationToken?: string }> {
    const page = await this.#store.listInstances(
      odataFilter(filter, this.#store),
      filter.top,
      filter.continuationToken,
    );
    const items = page.rows.map((r) => this.#payload(r.id, r, filter.showInput !== false));
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }

  async raiseEvent(instanceId: string, eventName: string, data: unknown): Promise<ControlResult> {
    return this.#control(
      instanceId,
      'event',
      eventName,
      data === undefined ? null : JSON.stringify(data),
    );
  }

  async terminate(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'terminate', '', reason);
  }

  async suspend(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'suspend', '', reason);
  }

  async resume(instanceId: string, reason: string): Promise<ControlResult> {
    return this.#control(instanceId, 'resume', '', reason);
  }

  async #control(
    id: string,
    kind: MessageRecord['kind'],
    name: string,
    input: string | null,
  ): Promise<ControlResult> {
    if (this.#isEntity(id)) return 'not-found';
    const row = await this.#row(id);
    if (!row) return 'not-found';
    if (TERMINAL_STATUSES.has(row.RuntimeStatus)) return 'gone';
    await this.#postMessage(id, kind, name, input);
    return 'accepted';
  }

  rewind(_instanceId: string, _reason: string): Promise<ControlResult> {
    return Promise.reject(new DurableError(501, 'Rewind is not supported by the local host.'));
  }

  async purge(instanceId: string): Promise<boolean> {
    const row = await this.#row(instanceId);
    if (!row) return false;
    await this.#purgeStorage(instanceId);
    this.#notify();
    return true;
  }

  async purgeBy(filter: InstanceFilter): Promise<number> {
    let deleted = 0;
    let token: string | undefined;
    do {
      const page = await this.#store.listInstances(odataFilter(filter, this.#store), 100, token);
      for (const r of page.rows) {
        await this.#purgeStorage(r.id);
        deleted++;
      }
      token = page.continuationToken;
    } while (token);
    this.#notify();
    return deleted;
  }

  async signalEntity(name: string, key: string, operation: string, input: unknown): Promise<void> {
    const id = entityInstanceId(name, key);
    const message = JSON.stringify({
      op: operation,
      signal: true,
      ...(input !== undefined ? { input: JSON.stringify(input) } : {}),
      id: randomUUID(),
    });
    await this.#postMessage(id, 'entityOp', operation, message);
  }

  async readEntity(name: string, key: string): Promise<{ exists: boolean; state: unknown }> {
    const id = entityInstanceId(name, key);
    const inst = this.#get(id);
    if (!inst.loaded) await this.#load(inst);
    const e = inst.entity;
    return e?.exists
      ? { exists: true, state: parseJsonText(e.state) }
      : { exists: false, state: undefined };
  }

  async waitFor(
    instanceId: string,
    statuses: ReadonlySet<RuntimeStatus>,
    timeoutMs: number,
  ): Promise<InstanceStatusPayload | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.getStatus(instanceId);
      if (!status || statuses.has(status.runtimeStatus) || Date.now() >= deadline) return status;
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#watchers.delete(done);
          clearTimeout(t);
          resolve();
        };
        const t = setTimeout(done, Math.min(1000, Math.max(0, deadline - Date.now())));
        this.#watchers.add(done);
      });
    }
  }

  // ---------------------------------------------------------------- entities

  /** Runs the pending operations of an entity as one batch (§10), committing its state with them. */
  async #entityEpisode(inst: Instance): Promise<void> {
    const ops = inst.messages.filter((m) => m.kind === 'entityOp');
    if (ops.length === 0) return;
    const [, rawName = '', ...rest] = inst.id.split('@');
    const key = rest.join('@');
    const requests = ops.map((m) => {
      try {
        return JSON.parse(m.input ?? '{}') as {
          op?: string;
          signal?: boolean;
          input?: string;
          id?: string;
          parent?: string;
        };
      } catch {
        return {};
      }
    });
    const entry = this.#entities.get(rawName.toLowerCase());
    const current = inst.entity ?? { exists: false, state: null };
    let results: { isError?: boolean; result?: string }[] = [];
    let signals: { target: { name: string; key: string }; name: string; input?: string }[] = [];
    let next = current;
    if (!entry) {
      results = requests.map(() => ({
        isError: true,
        result: JSON.stringify({ message: `No entity function named '${rawName}'.` }),
      }));
    } else {
      const payload = {
        self: { name: entry.fn.metadata.name, key },
        exists: current.exists,
        state: current.state,
        batch: requests.map((r) => ({
          name: r.op ?? '',
          input: r.input ?? null,
          isSignal: r.signal === true,
        })),
      };
      const outcome = await this.#episodeSlots.run(() =>
        this.#invoker.invoke(
          entry.fn,
          { inputData: [{ name: entry.trigger, data: { string: JSON.stringify(payload) } }] },
          `(Entity ${inst.id})`,
        ),
      );
      if (
        outcome.ok &&
        (outcome.response.returnValue?.json || outcome.response.returnValue?.string)
      ) {
        const rv = outcome.response.returnValue;
        const out = JSON.parse((rv.json ?? rv.string)!) as {
          results?: typeof results;
          signals?: typeof signals;
          entityExists?: boolean;
          entityState?: string | null;
        };
        results = out.results ?? [];
        signals = out.signals ?? [];
        next = {
          exists: out.entityExists === true,
          state: out.entityExists ? (out.entityState ?? null) : null,
        };
      } else {
        const msg = outcome.ok
          ? 'The entity function returned nothing.'
          : errorMessage(outcome.error);
        results = requests.map(() => ({ isError: true, result: JSON.stringify({ message: msg }) }));
      }
    }
    // Replies and outgoing signals first, under keys derived from the request ids: a crash before the
    // commit re-runs the batch from the same state and writes the same rows again (idempotent).
    const woken = new Set<string>();
    for (let i = 0; i < requests.length; i++) {
      const r = requests[i]!;
      if (r.signal || !r.parent || !r.id) continue;
      const res = results[i] ?? { isError: true, result: '{}' };
      const input = JSON.stringify({
        result: res.result ?? null,
        ...(res.isError ? { exceptionType: 'Error' } : {}),
      });
      const rowKey = `${MESSAGE_PREFIX}r~${r.id}`;
      await this.#store.upsertRow(r.parent, rowKey, { Kind: 'event', Name: r.id, Input: input });
      const parent = this.#instances.get(r.parent);
      if (parent && !parent.messages.some((m) => m.rowKey === rowKey))
        parent.messages.push({ rowKey, kind: 'event', name: r.id, input });
      woken.add(r.parent);
    }
    for (const [i, sig] of signals.entries()) {
      const target = entityInstanceId(sig.target.name, sig.target.key);
      const requestId = `${ops[0]!.rowKey.slice(MESSAGE_PREFIX.length)}-${i}`;
      const rowKey = `${MESSAGE_PREFIX}s~${requestId}`;
      const message = JSON.stringify({
        op: sig.name,
        signal: true,
        ...(sig.input !== undefined ? { input: sig.input } : {}),
        id: requestId,
      });
      await this.#store.upsertRow(target, rowKey, {
        Kind: 'entityOp',
        Name: sig.name,
        Input: message,
      });
      const t = this.#instances.get(target);
      if (t && !t.messages.some((m) => m.rowKey === rowKey))
        t.messages.push({ rowKey, kind: 'entityOp', name: sig.name, input: message });
      woken.add(target);
    }
    const pk = this.#store.pk(inst.id);
    const sentinel: TableEntity = {
      partitionKey: pk,
      rowKey: SENTINEL,
      EntityExists: next.exists,
      ...(next.state !== null ? { EntityState: next.state } : {}),
    };
    const sentinelOp: Op = inst.sentinelEtag
      ? ['update', sentinel, 'Replace', { etag: inst.sentinelEtag }]
      : ['create', sentinel];
    const deletes: Op[] = ops.map((m) => ['delete', { partitionKey: pk, rowKey: m.rowKey }]);
    const etag = await this.#store.submit(inst.id, deletes.length < 100 ? deletes : [], sentinelOp);
    if (etag === false) {
      inst.loaded = false;
      inst.again = true;
      return;
    }
    if (deletes.length >= 100)
      await this.#store.deleteRows(
        inst.id,
        ops.map((m) => m.rowKey),
      );
    inst.sentinelEtag = etag;
    inst.entity = next;
    inst.messages = inst.messages.filter((m) => !ops.includes(m));
    if (!inst.row) {
      inst.row = {
        ...this.#newRow(`@${rawName.toLowerCase()}`, null),
        RuntimeStatus: 'Running',
        ExecutionId: '',
      };
      await this.#store.putInstance(inst.id, inst.row);
    }
    for (const id of woken) this.#kick(id);
    if (inst.messages.some((m) => m.kind === 'entityOp')) inst.again = true;
  }

  /** Ids of action units in order: every id not allocated by the host itself. */
  #staticIds(state: EngineState): number[] {
    const dyn = new Set(state.dynIds);
    const out: number[] = [];
    for (let i = 0; i < state.nextId; i++) if (!dyn.has(i)) out.push(i);
    return out;
  }

  #task(
    state: EngineState,
    id: number,
    kind: TaskRecord['kind'],
    name: string,
    input: string | null,
    extra: Partial<TaskRecord>,
  ): TaskRecord {
    return {
      rowKey: taskKey(state.executionId, id),
      id,
      kind,
      name,
      input,
      episode: state.episode,
      ...extra,
    };
  }

  #scheduleCall(
    inst: Instance,
    state: EngineState,
    id: number,
    actionType: number,
    name: string,
    input: string | null,
    instanceId: string | undefined,
    now: Date,
    sched: HistoryEvent[],
    tasks: TaskRecord[],
  ): void {
    if (actionType <= 1) {
      sched.push(
        event(EventType.TaskScheduled, now, { Name: name, Version: '', Input: input }, id),
      );
      tasks.push(this.#task(state, id, 'activity', name, input, {}));
    } else {
      const childId = instanceId ?? `${state.executionId}:${id}`;
      sched.push(
        event(
          EventType.SubOrchestrationInstanceCreated,
          now,
          { Name: name, Version: '', InstanceId: childId, Input: input },
          id,
        ),
      );
      tasks.push(this.#task(state, id, 'suborch', name, input, { childId }));
    }
    void inst;
  }

  #completionEvent(t: TaskRecord, now: Date): HistoryEvent {
    if (t.kind === 'timer')
      return event(EventType.TimerFired, now, {
        TimerId: t.id,
        FireAt: dotnetTime(new Date(t.fireAt!)),
      });
    const d = t.done!;
    if (t.kind === 'suborch') {
      return d.ok
        ? event(EventType.SubOrchestrationInstanceCompleted, now, {
            TaskScheduledId: t.id,
            Result: d.result,
          })
        : event(EventType.SubOrchestrationInstanceFailed, now, {
            TaskScheduledId: t.id,
            Reason: d.reason,
            Details: d.details,
            FailureDetails: null,
          });
    }
    return d.ok
      ? event(EventType.TaskCompleted, now, { TaskScheduledId: t.id, Result: d.result })
      : event(EventType.TaskFailed, now, {
          TaskScheduledId: t.id,
          Reason: d.reason,
          Details: d.details,
          FailureDetails: null,
        });
  }

  /**
   * Commits an episode: new history rows, new task rows and the sentinel (with the engine state) in
   * one partition, in batches of 100 with the sentinel last; consumed rows are deleted in the same batch
   * when it fits, else right after (recovery recognises them by what the history holds).
   */
  async #commit(
    inst: Instance,
    state: EngineState,
    events: HistoryEvent[],
    newTasks: TaskRecord[],
    consumedTasks: TaskRecord[],
    consumedMessages: MessageRecord[],
    messageKeys: Map<HistoryEvent, string>,
    now: Date,
    finish: { status: RuntimeStatus; output: string | null } | undefined,
  ): Promise<boolean> {
    const pk = this.#store.pk(inst.id);
    const base = state.historyCount;
    state.historyCount += events.length;
    const ops: Op[] = events.map((e, i) => {
      const mk = messageKeys.get(e);
      return [
        'upsert',
        {
          partitionKey: pk,
          rowKey: ordinalKey(base + i),
          ...eventToRow(e, state.executionId, mk ? { _xMessageKey: mk } : {}),
        },
        'Replace',
      ];
    });
    for (const t of newTasks) {
      ops.push([
        'upsert',
        { partitionKey: pk, rowKey: t.rowKey, ...taskRow(t, state.executionId) },
        'Replace',
      ]);
    }
    const deletes = [
      ...consumedTasks.map((t) => t.rowKey),
      ...consumedMessages.map((m) => m.rowKey),
    ];
    if (finish) {
      // A finished execution leaves no work behind.
      for (const t of inst.tasks.values()) if (!consumedTasks.includes(t)) deletes.push(t.rowKey);
    }
    const sentinel: TableEntity = {
      partitionKey: pk,
      rowKey: SENTINEL,
      ExecutionId: state.executionId,
      IsCheckpointComplete: true,
      CheckpointCompletedTimestamp: now,
      HistoryCount: state.historyCount,
      ...stateColumns(JSON.stringify(state)),
    };
    const sentinelOp: Op = inst.sentinelEtag
      ? ['update', sentinel, 'Replace', { etag: inst.sentinelEtag }]
      : ['create', sentinel];
    const together = ops.length + deletes.length + 1 <= 100;
    const deleteOps: Op[] = deletes.map((rowKey) => ['delete', { partitionKey: pk, rowKey }]);
    const etag = await this.#store.submit(
      inst.id,
      together ? [...ops, ...deleteOps] : ops,
      sentinelOp,
    );
    if (etag === false) {
      // Someone else wrote this partition (or a row we meant to delete is gone): re-read and retry.
      this.#logger.warn(
        'Host.General',
        `Durable: instance '${inst.id}' changed under this episode; reloading.`,
      );
      inst.loaded = false;
      inst.again = true;
      return false;
    }
    if (!together && deletes.length) await this.#store.deleteRows(inst.id, deletes);
    inst.sentinelEtag = etag;
    inst.state = state;
    inst.history = [
      ...inst.history.map((e) =>
        e.EventType === EventType.OrchestratorStarted ? e : { ...e, IsPlayed: true },
      ),
      ...events,
    ];
    for (const t of consumedTasks) {
      t.cancelTimer?.();
      inst.tasks.delete(t.rowKey);
    }
    inst.messages = inst.messages.filter((m) => !consumedMessages.includes(m));
    if (finish) {
      for (const t of inst.tasks.values()) t.cancelTimer?.();
      inst.tasks.clear();
    }
    for (const t of newTasks) inst.tasks.set(t.rowKey, t);
    this.#saveRow(inst, {
      RuntimeStatus: state.status,
      CustomStatus: state.customStatus,
      Output: state.output,
      ExecutionId: state.executionId,
      ...(finish ? { CompletedTime: now } : {}),
    });
    for (const t of newTasks) this.#dispatch(inst, t);
    if (
      finish &&
      inst.row?.ParentInstanceId &&
      inst.row.ParentExecutionId &&
      inst.row.ParentTaskScheduledId !== null
    ) {
      await this.#deliverChildResult(
        inst.row.ParentInstanceId,
        inst.row.ParentExecutionId,
        inst.row.ParentTaskScheduledId,
        inst.row,
      );
    }
    // Work that was held back (a second id-allocating completion) or arrived meanwhile runs next.
    if (!finish && this.#hasDeliverable(inst)) inst.again = true;
    return true;
  }

  #hasDeliverable(inst: Instance): boolean {
    const now = this.#clock.now().getTime();
    if (inst.messages.length) return true;
    for (const t of inst.tasks.values())
      if (t.kind === 'timer' ? !!t.fireAt && Date.parse(t.fireAt) <= now : !!t.done) return true;
    return false;
  }

  /**
   * Updates the Instances row: at once in memory (status queries read it), in storage behind the
   * episode, coalesced per instance (the sentinel holds the truth; a crash in between is repaired on load).
   */
  #saveRow(inst: Instance, changes: Partial<InstanceRow>): void {
    const row = inst.row;
    if (!row) return;
    Object.assign(row, changes, { LastUpdatedTime: this.#clock.now() });
    this.#notify();
    if (inst.rowWrite) {
      inst.rowDirty = true;
      return;
    }
    const write = async (): Promise<void> => {
      do {
        inst.rowDirty = false;
        await this.#store.putInstance(inst.id, { ...row });
      } while (inst.rowDirty);
    };
    const p = write().finally(() => {
      inst.rowWrite = undefined;
      this.#evict();
    });
    inst.rowWrite = p;
    this.#track(p);
  }

  /** Keeps the cache bounded: instances with nothing in flight leave memory and are re-read on demand. */
  #evict(): void {
    if (this.#instances.size <= MAX_CACHED) return;
    for (const [id, inst] of this.#instances) {
      if (this.#instances.size <= MAX_CACHED * 0.9) break;
      if (inst.busy || inst.rowWrite || inst.messages.length > 0 || inst.tasks.size > 0) continue;
      this.#instances.delete(id);
    }
  }

  async #terminateNow(
    inst: Instance,
    state: EngineState,
    msg: MessageRecord,
    now: Date,
  ): Promise<void> {
    state.status = 'Terminated';
    state.output = msg.input ?? '';
    const events = [
      event(EventType.OrchestratorStarted, now),
      event(EventType.ExecutionTerminated, now, { Input: msg.input }),
      event(
        EventType.ExecutionCompleted,
        now,
        {
          OrchestrationStatus: OrchestrationStatus.Terminated,
          Result: msg.input,
          FailureDetails: null,
        },
        state.nextId,
      ),
      event(EventType.OrchestratorCompleted, now),
    ];
    const others = inst.messages.filter((m) => m !== msg);
    await this.#commit(inst, state, events, [], [], [msg, ...others], new Map(), now, {
      status: 'Terminated',
      output: state.output,
    });
  }

  /**
   * continueAsNew: the old execution's last episode is not kept (the new execution's rows replace the
   * old ones from ordinal 0); the new input and the events the old execution never consumed are committed
   * in the sentinel, and the next episode starts the new execution with them.
   */
  async #continueAsNew(
    inst: Instance,
    old: EngineState,
    episodeEvents: HistoryEvent[],
    actions: Action[],
    consumedTasks: TaskRecord[],
    consumedMessages: MessageRecord[],
    input: string | null,
    now: Date,
  ): Promise<void> {
    // Events with no waiter are buffered by the library; they belong to the instance, so they carry over.
    const waiters = new Map<string, number>();
    for (const a of allLeaves(actions)) {
      if (a.actionType === 6 && a.externalEventName)
        waiters.set(a.externalEventName, (waiters.get(a.externalEventName) ?? 0) + 1);
    }
    const byName = new Map<string, HistoryEvent[]>();
    for (const e of [...inst.history, ...episodeEvents]) {
      if (e.EventType !== EventType.EventRaised) continue;
      const name = String(e.Name);
      byName.set(name, [...(byName.get(name) ?? []), e]);
    }
    const carry: { name: string; input: string | null }[] = [...(old.carry ?? [])];
    for (const [name, list] of byName) {
      const spare = Math.max(0, list.length - (waiters.get(name) ?? 0));
      for (const e of list.slice(list.length - spare))
        carry.push({ name, input: typeof e.Input === 'string' ? e.Input : null });
    }
    const next: EngineState = {
      executionId: nFormatGuid(),
      episode: old.episode,
      historyCount: 0,
      nextId: 0,
      seenTop: 0,
      units: 0,
      dynIds: [],
      open: {},
      carry,
      input,
      status: 'Running',
      output: null,
      customStatus: old.customStatus,
    };
    const oldRows = inst.history.length;
    const obsolete = [...inst.tasks.values()].filter((t) => !consumedTasks.includes(t));
    if (inst.row) {
      inst.row.Input = input;
      inst.row.Generation += 1;
    }
    const ok = await this.#commit(
      inst,
      next,
      [],
      [],
      [...consumedTasks, ...obsolete],
      consumedMessages,
      new Map(),
      now,
      undefined,
    );
    if (!ok) return;
    inst.history = [];
    if (oldRows > 0)
      await this.#store.deleteRows(
        inst.id,
        Array.from({ length: oldRows }, (_, i) => ordinalKey(i)),
      );
    inst.again = true;
  }
}

function taskKey(executionId: string, id: number): string {
  return `${TASK_PREFIX}${executionId}~${id.toString().padStart(8, '0')}`;
}

function taskRow(t: TaskRecord, executionId: string): Record<string, unknown> {
  const row: Record<string, unknown> = {
    Kind: t.kind,
    TaskId: t.id,
    Name: t.name,
    Episode: t.episode,
    ExecutionId: executionId,
  };
  if (t.input !== null) row.Input = t.input;
  if (t.fireAt) row.FireAt = t.fireAt;
  if (t.childId) row.ChildId = t.childId;
  if (t.target) row.Target = t.target;
  if (t.message) row.Message = t.message;
  return row;
}

/** The activity input text the real host hands the worker (§8.1): strings are already JSON text. */
function activityInput(input: unknown): string | null {
  if (input === undefined || input === null) return null;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

/** Entity instance id: `@<lower-cased name>@<key>` (EntityId.js). */
export function entityInstanceId(name: string, key: string): string {
  return `@${name.toLowerCase()}@${key}`;
}

/** `yyyy-MM-ddTHH:mm:ssZ`, how the extension prints status times. */
function durableTime(d: Date): string {
  return d.toISOString().slice(0, 19) + 'Z';
}

function odataFilter(f: InstanceFilter, store: DurableStore): string {
  const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  // Entities live in the same tables (their ids start with '@'); listings show orchestrations only.
  const parts = ["(PartitionKey lt '@' or PartitionKey ge 'A')"];
  if (f.createdTimeFrom) parts.push(`CreatedTime ge datetime'${f.createdTimeFrom.toISOString()}'`);
  if (f.createdTimeTo) parts.push(`CreatedTime le datetime'${f.createdTimeTo.toISOString()}'`);
  if (f.runtimeStatus?.length)
    parts.push(`(${f.runtimeStatus.map((s) => `RuntimeStatus eq ${quote(s)}`).join(' or ')})`);
  if (f.instanceIdPrefix) {
    const p = store.pk(f.instanceIdPrefix);
    parts.push(`PartitionKey ge ${quote(p)} and PartitionKey lt ${quote(p + '\uffff')}`);
  }
  return parts.join(' and ');
}

/** The status API's `historyEvents` (DurableClient.GetDurableOrchestrationStatusAsync's transformation). */
export function historyForStatus(
  history: HistoryEvent[],
  showOutput: boolean,
  showInput: boolean,
): Record<string, unknown>[] {
  const scheduled = new Map<number, HistoryEvent>();
  const completedIds = new Set<number>();
  for (const e of history) {
    if (
      e.EventType === EventType.TaskScheduled ||
      e.EventType === EventType.SubOrchestrationInstanceCreated
    )
      scheduled.set(e.EventId, e);
    if (typeof e.TaskScheduledId === 'number') completedIds.add(e.TaskScheduledId);
  }
  const out: Record<string, unknown>[] = [];
  for (const e of history) {
    const type = e.EventType;
    if (type === EventType.OrchestratorStarted || type === EventType.OrchestratorCompleted)
      continue;
    if (
      (type === EventType.TaskScheduled || type === EventType.SubOrchestrationInstanceCreated) &&
      completedIds.has(e.EventId)
    )
      continue;
    const o: Record<string, unknown> = { ...e, EventType: EventType[type] };
    delete o.EventId;
    delete o.IsPlayed;
    if (type === EventType.ExecutionStarted) {
      o.FunctionName = e.Name;
      for (const k of ['Name', 'OrchestrationInstance', 'ParentInstance', 'Version', 'Tags'])
        delete o[k];
    }
    if (typeof e.TaskScheduledId === 'number') {
      const s = scheduled.get(e.TaskScheduledId);
      if (s) {
        o.FunctionName = s.Name;
        o.ScheduledTime = s.Timestamp;
        if (showInput) o.Input = s.Input;
      }
    }
    if (type === EventType.TimerFired) delete o.TimerId;
    if (typeof o.OrchestrationStatus === 'number')
      o.OrchestrationStatus = OrchestrationStatus[o.OrchestrationStatus];
    if ('Result' in o) {
      if (showOutput) o.Result = parseJsonText(o.Result as string | null);
      else delete o.Result;
    }
    if (!showInput) delete o.Input;
    out.push(o);
  }
  return out;
}
