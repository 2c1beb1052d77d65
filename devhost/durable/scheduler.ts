// The engine's runtime: instances cached in memory, one episode at a time per instance, dispatch of
// activities, timers, sub-orchestrations and entity requests, and the commit of each episode's result.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import { describeError, type Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import {
  batchDeliveries,
  batchOutcome,
  batchRequest,
  entityNameAndKey,
  entityRequest,
  failedBatch,
  isEntityId,
  type Delivery,
} from './entities.js';
import { assembleInbox, isReady, type Inbox } from './episode/inbox.js';
import { runEpisode } from './episode/runEpisode.js';
import { EventType, type HistoryEvent } from './history.js';
import type { InstanceStore } from './instanceStore.js';
import {
  initialState,
  pendingRow,
  type EntityState,
  type EpisodeResult,
  type InboundMessage,
  type InstanceRow,
  type PendingTask,
  type ReplayState,
} from './model.js';
import type { OrchestratorOutcome } from './protocol.js';
import { Dispatcher, type DispatchHost } from './dispatch.js';
import { DurableFunctions, Semaphore } from './functions.js';
import { TERMINAL_STATUSES } from './types.js';
import { errorMessage, orchestratorOutcome, replayRequest } from './worker.js';

/** Instances kept in memory (as extended sessions do); idle ones beyond this are dropped and re-read on demand. */
const MAX_CACHED = 5000;

/** A pending task as the runtime tracks it: started in this process, and how to cancel its timer. */
export interface LiveTask extends PendingTask {
  dispatched?: boolean;
  cancelTimer?: () => void;
}

export interface Instance {
  id: string;
  loaded: boolean;
  row: InstanceRow | undefined;
  state: ReplayState | undefined;
  /** the store's checkpoint version this process last read or wrote */
  checkpoint: string | undefined;
  history: HistoryEvent[];
  tasks: Map<string, LiveTask>;
  messages: InboundMessage[];
  busy: boolean;
  again: boolean;
  /** the Instances row write in flight, and whether the row changed again meanwhile */
  rowWrite?: Promise<void>;
  rowDirty?: boolean;
  /** entity instances: their state */
  entity?: EntityState;
}

export function nFormatGuid(): string {
  return randomUUID().replace(/-/g, '');
}

export interface SchedulerOptions {
  store: InstanceStore;
  invoker: Invoker;
  logger: HostLogger;
  clock: Clock;
  functions: DurableFunctions;
  maxConcurrentActivityFunctions: number;
  maxConcurrentOrchestratorFunctions: number;
}

function completedIds(history: readonly HistoryEvent[]): Set<number> {
  const ids = new Set<number>();
  for (const e of history) {
    if (typeof e.TaskScheduledId === 'number') ids.add(e.TaskScheduledId);
    if (typeof e.TimerId === 'number') ids.add(e.TimerId);
  }
  return ids;
}

export class Scheduler implements DispatchHost {
  readonly #store: InstanceStore;
  readonly #invoker: Invoker;
  readonly #logger: HostLogger;
  readonly #clock: Clock;
  readonly #functions: DurableFunctions;
  readonly #instances = new Map<string, Instance>();
  readonly #episodeSlots: Semaphore;
  /** who waits for a change of an instance, by instance id */
  readonly #watchers = new Map<string, Set<() => void>>();
  readonly #inflight = new Set<Promise<unknown>>();
  #stopped = false;
  readonly #dispatcher: Dispatcher;

  constructor(o: SchedulerOptions) {
    this.#store = o.store;
    this.#invoker = o.invoker;
    this.#logger = o.logger;
    this.#clock = o.clock;
    this.#functions = o.functions;
    this.#episodeSlots = new Semaphore(o.maxConcurrentOrchestratorFunctions);
    const activitySlots = new Semaphore(o.maxConcurrentActivityFunctions);
    this.#dispatcher = new Dispatcher({ ...o, activitySlots }, this);
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const inst of this.#instances.values())
      for (const t of inst.tasks.values()) t.cancelTimer?.();
    await Promise.allSettled([...this.#inflight]);
  }

  /** Runs `p` in the background, logging its failure; stop() waits for it. */
  track(p: Promise<unknown>): void {
    const tracked = p.catch((e: unknown) => {
      this.#logger.error('Host.General', `Durable engine error: ${describeError(e)}`);
    });
    this.#inflight.add(tracked);
    void tracked.finally(() => this.#inflight.delete(tracked));
  }

  /** Calls `fn` whenever instance `id` changed, until the returned function is called. */
  watch(id: string, fn: () => void): () => void {
    let set = this.#watchers.get(id);
    if (!set) this.#watchers.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0 && this.#watchers.get(id) === set) this.#watchers.delete(id);
    };
  }

  /** Wakes the watchers of one instance (many waiters on many instances stay O(1) per change). */
  #notify(id: string): void {
    const set = this.#watchers.get(id);
    if (set) for (const w of [...set]) w();
  }

  // ---------------------------------------------------------------- the cache

  /** The cached instance, if any. */
  peek(id: string): Instance | undefined {
    return this.#instances.get(id);
  }

  /** The cached instance, created empty (not loaded) when absent. */
  instance(id: string): Instance {
    let inst = this.#instances.get(id);
    if (!inst) {
      inst = {
        id,
        loaded: false,
        row: undefined,
        state: undefined,
        checkpoint: undefined,
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

  /** Forgets an instance (its timers stop). */
  drop(id: string): void {
    const inst = this.#instances.get(id);
    if (!inst) return;
    for (const t of inst.tasks.values()) t.cancelTimer?.();
    this.#instances.delete(id);
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

  /** Reads an instance from the store, keeping what arrived in memory while it was being read. */
  async load(inst: Instance): Promise<void> {
    const [row, loaded] = await Promise.all([
      this.#store.getInstance(inst.id),
      this.#store.loadInstance(inst.id),
    ]);
    const earlierMessages = inst.messages;
    const earlier = new Map([...inst.tasks.values()].map((t) => [t.key, t]));
    for (const t of inst.tasks.values()) t.cancelTimer?.();
    const state = loaded.state;
    Object.assign(inst, {
      row,
      state,
      checkpoint: loaded.checkpoint,
      history: loaded.history,
      tasks: new Map(),
      messages: loaded.messages,
    });
    if (loaded.entity) inst.entity = loaded.entity;
    const completed = completedIds(inst.history);
    const stale = [...loaded.leftoverMessageKeys];
    for (const { executionId, ...t } of loaded.tasks) {
      const current =
        state &&
        executionId === state.executionId &&
        t.episode <= state.episode &&
        !completed.has(t.sequenceId);
      // From an uncommitted episode, an old execution, or already in history.
      if (current) inst.tasks.set(t.key, t);
      else stale.push(t.key);
    }
    for (const m of earlierMessages) {
      if (!inst.messages.some((x) => x.key === m.key) && !loaded.consumedMessageKeys.has(m.key))
        inst.messages.push(m);
    }
    for (const [key, before] of earlier) {
      const t = inst.tasks.get(key);
      if (!t) continue;
      if (before.completion && !t.completion) t.completion = before.completion;
      // Still running in this process: do not start it a second time.
      if (before.dispatched && t.kind === 'activity') t.dispatched = true;
    }
    inst.loaded = true;
    if (stale.length) await this.#store.removeWork(inst.id, stale);
    this.#repairRow(inst);
    for (const t of inst.tasks.values()) this.#dispatcher.dispatch(inst, t);
  }

  /** A crash between the history commit and the Instances update leaves the row behind: repair it. */
  #repairRow(inst: Instance): void {
    const { state, row } = inst;
    if (!state || !row || isEntityId(inst.id)) return;
    if (row.RuntimeStatus === state.status && row.ExecutionId === state.executionId) return;
    this.#saveRow(inst, {
      RuntimeStatus: state.status,
      Output: state.output,
      CustomStatus: state.customStatus,
      ExecutionId: state.executionId,
      ...(state.executionInput !== undefined ? { Input: state.executionInput } : {}),
    });
  }

  // ---------------------------------------------------------------- scheduling

  /** Asks for an episode of `id` (runs one at a time per instance; a request while busy runs again after). */
  kick(id: string): void {
    if (this.#stopped) return;
    const inst = this.instance(id);
    if (inst.busy) {
      inst.again = true;
      return;
    }
    inst.busy = true;
    const run = async (): Promise<void> => {
      do {
        inst.again = false;
        if (!inst.loaded) await this.load(inst);
        if (isEntityId(id)) await this.#entityEpisode(inst);
        else await this.#episode(inst);
      } while (inst.again && !this.#stopped);
    };
    this.track(
      run()
        .catch((e: unknown) => {
          // A storage hiccup must not strand the instance: re-read it and try again shortly.
          this.#logger.warn(
            'Host.General',
            `Durable: episode of '${id}' failed (${errorMessage(e)}); retrying in 1 s.`,
          );
          inst.loaded = false;
          setTimeout(() => this.kick(id), 1000).unref();
        })
        .finally(() => {
          inst.busy = false;
          this.#evict();
          this.#notify(id);
        }),
    );
  }

  /** Stores a message for an instance and hands it to the instance in memory (idempotent by key). */
  async deliver({ to, message }: Delivery, stored: 'add' | 'put' = 'put'): Promise<boolean> {
    if (stored === 'add') {
      if (!(await this.#store.addMessage(to, message))) return false;
    } else await this.#store.putMessage(to, message);
    const target = this.#instances.get(to);
    if (target && !target.messages.some((m) => m.key === message.key))
      target.messages.push(message);
    return true;
  }

  // ---------------------------------------------------------------- episodes

  /** Deletes what is left of a finished instance's work; true when it is finished. */
  async #closedOut(inst: Instance): Promise<boolean> {
    const row = inst.row!;
    const finished = (s: string): boolean =>
      TERMINAL_STATUSES.has(s as InstanceRow['RuntimeStatus']);
    if (!finished(row.RuntimeStatus) || (inst.state && !finished(inst.state.status))) return false;
    const leftovers = [...inst.messages.map((m) => m.key), ...inst.tasks.keys()];
    if (leftovers.length) {
      inst.messages = [];
      inst.tasks.clear();
      await this.#store.removeWork(inst.id, leftovers);
    }
    return true;
  }

  async #episode(inst: Instance): Promise<void> {
    const row = inst.row;
    // Messages for an instance that does not exist (yet): nothing to run.
    if (!row || (await this.#closedOut(inst))) return;
    const now = this.#clock.now();
    const state = inst.state ?? initialState(row.ExecutionId || nFormatGuid());
    const inbox = assembleInbox(inst.id, row, state, inst.tasks.values(), inst.messages, now);
    if (inbox.kind === 'idle') return;
    const outcome =
      inbox.kind === 'replay' ? await this.#replay(inst, row, state, inbox) : undefined;
    await this.#commit(inst, runEpisode(state, inst.history, inbox, outcome));
  }

  /** Runs the orchestrator over the history and the inbox's new events. */
  async #replay(
    inst: Instance,
    row: InstanceRow,
    state: ReplayState,
    inbox: Inbox,
  ): Promise<OrchestratorOutcome> {
    const orch = this.#functions.orchestrators.get(row.Name.toLowerCase());
    if (!orch) return { kind: 'missing', name: row.Name };
    const payload = replayRequest(inst.id, row, state, inst.history, inbox);
    // maxConcurrentOrchestratorFunctions bounds the replays (CPU), not the storage I/O around them.
    const outcome = await this.#episodeSlots.run(() =>
      this.#invoker.invoke(
        orch.fn,
        { inputData: [{ name: orch.trigger, data: { string: JSON.stringify(payload) } }] },
        `(Orchestrator ${inst.id})`,
      ),
    );
    return orchestratorOutcome(outcome, orch.fn.metadata.name);
  }

  /** Commits an episode's result, then brings memory, the Instances row and the dispatched work in line. */
  async #commit(inst: Instance, result: EpisodeResult): Promise<void> {
    const checkpoint = await this.#store.commitEpisode(inst.id, result, inst.checkpoint);
    if (checkpoint === false) {
      // Someone else wrote this partition (or a row we meant to delete is gone): re-read and retry.
      this.#logger.warn(
        'Host.General',
        `Durable: instance '${inst.id}' changed under this episode; reloading.`,
      );
      inst.loaded = false;
      inst.again = true;
      return;
    }
    inst.checkpoint = checkpoint;
    inst.state = result.state;
    inst.history =
      result.discardedHistory !== undefined
        ? []
        : [
            ...inst.history.map((e) =>
              e.EventType === EventType.OrchestratorStarted ? e : { ...e, IsPlayed: true },
            ),
            ...result.events,
          ];
    for (const t of result.removedTasks) {
      inst.tasks.get(t.key)?.cancelTimer?.();
      inst.tasks.delete(t.key);
    }
    inst.messages = inst.messages.filter((m) => !result.consumedMessages.includes(m));
    for (const t of result.newTasks) inst.tasks.set(t.key, t);
    this.#saveRow(inst, result.instanceUpdate);
    for (const t of result.newTasks) this.#dispatcher.dispatch(inst, t);
    const row = inst.row;
    if (result.finished && row?.ParentInstanceId && row.ParentExecutionId)
      if (row.ParentTaskScheduledId !== null)
        await this.#dispatcher.deliverChildResult(
          row.ParentInstanceId,
          row.ParentExecutionId,
          row.ParentTaskScheduledId,
          row,
        );
    // continueAsNew starts the new execution next; work held back or arrived meanwhile runs next.
    if (result.discardedHistory !== undefined) inst.again = true;
    else if (!result.finished && this.#hasDeliverable(inst)) inst.again = true;
  }

  #hasDeliverable(inst: Instance): boolean {
    const now = this.#clock.now().getTime();
    if (inst.messages.length) return true;
    for (const t of inst.tasks.values()) if (isReady(t, now)) return true;
    return false;
  }

  /**
   * Updates the Instances row: at once in memory (status queries read it), in storage behind the
   * episode, coalesced per instance (the checkpoint holds the truth; a crash in between is repaired on load).
   */
  #saveRow(inst: Instance, changes: Partial<InstanceRow>): void {
    const row = inst.row;
    if (!row) return;
    Object.assign(row, changes, { LastUpdatedTime: this.#clock.now() });
    this.#notify(inst.id);
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
    this.track(p);
  }

  // ---------------------------------------------------------------- entities

  /** Runs the pending operations of an entity as one batch (§10), committing its state with them. */
  async #entityEpisode(inst: Instance): Promise<void> {
    const ops = inst.messages.filter((m) => m.kind === 'entityOp');
    if (ops.length === 0) return;
    const { name, key } = entityNameAndKey(inst.id);
    const requests = ops.map(entityRequest);
    const current = inst.entity ?? { exists: false, state: null };
    const entry = this.#functions.entities.get(name.toLowerCase());
    let outcome = failedBatch(requests.length, `No entity function named '${name}'.`, current);
    if (entry) {
      const payload = batchRequest({ name: entry.fn.metadata.name, key }, current, requests);
      const invoked = await this.#episodeSlots.run(() =>
        this.#invoker.invoke(
          entry.fn,
          { inputData: [{ name: entry.trigger, data: { string: JSON.stringify(payload) } }] },
          `(Entity ${inst.id})`,
        ),
      );
      outcome = batchOutcome(invoked, requests.length, current);
    }
    // Replies and outgoing signals first, under keys derived from the request ids: a crash before the
    // commit re-runs the batch from the same state and writes the same rows again (idempotent).
    const deliveries = batchDeliveries(ops, requests, outcome);
    for (const d of deliveries) await this.deliver(d);
    const checkpoint = await this.#store.commitEntity(inst.id, outcome.next, ops, inst.checkpoint);
    if (checkpoint === false) {
      inst.loaded = false;
      inst.again = true;
      return;
    }
    inst.checkpoint = checkpoint;
    inst.entity = outcome.next;
    inst.messages = inst.messages.filter((m) => !ops.includes(m));
    if (!inst.row) {
      const row = this.newRow(`@${name.toLowerCase()}`, null);
      inst.row = { ...row, RuntimeStatus: 'Running', ExecutionId: '' };
      await this.#store.putInstance(inst.id, inst.row);
    }
    for (const id of new Set(deliveries.map((d) => d.to))) this.kick(id);
    if (inst.messages.some((m) => m.kind === 'entityOp')) inst.again = true;
  }

  // ---------------------------------------------------------------- shared with the client

  /** A Pending Instances row, as the client's start (or a parent's sub-orchestration) creates it. */
  newRow(name: string, input: string | null, parent: Partial<InstanceRow> = {}): InstanceRow {
    const row = pendingRow(name, input, this.#clock.now(), nFormatGuid(), this.#store.hubName);
    return { ...row, ...parent };
  }

  /** Deletes an instance from memory and storage. */
  async purge(id: string): Promise<void> {
    this.drop(id);
    await this.#store.purge(id);
  }

  /** Announces a change of an instance to its watchers (purges). */
  changed(id: string): void {
    this.#notify(id);
  }
}
