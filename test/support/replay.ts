// Builders for replay tests without processes: typed actions, a typed history, and an instance that
// runs episodes through the pure core (assembleInbox + runEpisode) as the engine would.
import { assembleInbox } from '../../devhost/durable/episode/inbox.js';
import { runEpisode, type IdSource } from '../../devhost/durable/episode/runEpisode.js';
import { event, EventType, type HistoryEvent } from '../../devhost/durable/history.js';
import {
  initialState,
  pendingRow,
  type Completion,
  type EpisodeResult,
  type InboundMessage,
  type InstanceRow,
  type PendingTask,
  type ReplayState,
} from '../../devhost/durable/model.js';
import {
  ActionType,
  type Action,
  type CallActivityAction,
  type CallActivityWithRetryAction,
  type CallEntityAction,
  type ContinueAsNewAction,
  type CreateTimerAction,
  type OrchestratorOutcome,
  type RetryOptionsJson,
  type WaitForExternalEventAction,
  type WhenAllAction,
  type WhenAnyAction,
} from '../../devhost/durable/protocol.js';

// ---------------------------------------------------------------- actions

export const act = {
  activity: (functionName: string, input?: unknown): CallActivityAction => ({
    actionType: ActionType.CallActivity,
    functionName,
    ...(input !== undefined ? { input } : {}),
  }),
  activityWithRetry: (
    functionName: string,
    retryOptions: RetryOptionsJson,
    input?: unknown,
  ): CallActivityWithRetryAction => ({
    actionType: ActionType.CallActivityWithRetry,
    functionName,
    retryOptions,
    ...(input !== undefined ? { input } : {}),
  }),
  timer: (fireAt: Date, isCanceled = false): CreateTimerAction => ({
    actionType: ActionType.CreateTimer,
    fireAt: fireAt.toISOString(),
    isCanceled,
  }),
  waitFor: (externalEventName: string): WaitForExternalEventAction => ({
    actionType: ActionType.WaitForExternalEvent,
    externalEventName,
  }),
  callEntity: (instanceId: string, operation: string, input?: unknown): CallEntityAction => ({
    actionType: ActionType.CallEntity,
    instanceId,
    operation,
    ...(input !== undefined ? { input } : {}),
  }),
  continueAsNew: (input: unknown): ContinueAsNewAction => ({
    actionType: ActionType.ContinueAsNew,
    input,
  }),
  all: (...compoundActions: Action[]): WhenAllAction => ({
    actionType: ActionType.WhenAll,
    compoundActions,
  }),
  any: (...compoundActions: Action[]): WhenAnyAction => ({
    actionType: ActionType.WhenAny,
    compoundActions,
  }),
};

/** What the orchestrator returned: its top-level actions so far, and whether (and how) it finished. */
export function returned(
  actions: Action[],
  end: { output?: unknown; done?: boolean; customStatus?: unknown } = {},
): OrchestratorOutcome {
  return {
    kind: 'returned',
    result: {
      isDone: end.done ?? 'output' in end,
      actions: [actions],
      ...('output' in end ? { output: end.output } : {}),
      ...(end.customStatus !== undefined ? { customStatus: end.customStatus } : {}),
    },
  };
}

// ---------------------------------------------------------------- history

export const T0 = new Date('2030-01-01T00:00:00.000Z');
export const DAY = 86_400_000;

/** A typed history, as an earlier execution recorded it. */
export const hist = {
  started: (name: string, input: string | null = null): HistoryEvent =>
    event(EventType.ExecutionStarted, T0, { Name: name, Input: input }),
  orchestratorStarted: (): HistoryEvent => event(EventType.OrchestratorStarted, T0),
  orchestratorCompleted: (): HistoryEvent => event(EventType.OrchestratorCompleted, T0),
  taskScheduled: (id: number, name: string, input: string | null = null): HistoryEvent =>
    event(EventType.TaskScheduled, T0, { Name: name, Version: '', Input: input }, id),
  timerCreated: (id: number, fireAt: Date): HistoryEvent =>
    event(EventType.TimerCreated, T0, { FireAt: fireAt.toISOString() }, id),
};

/** The names of events' types, in order (what most assertions compare). */
export function types(events: readonly HistoryEvent[]): string[] {
  return events.map((e) => EventType[e.EventType]);
}

// ---------------------------------------------------------------- an instance

/** Fixed ids: executions `exec-1`, `exec-2`, …; entity requests `req-1`, `req-2`, … */
export function fixedIds(): IdSource {
  let executions = 1;
  let requests = 0;
  return {
    executionId: () => `exec-${++executions}`,
    requestId: () => `req-${++requests}`,
  };
}

/** One orchestration instance kept in memory, run one episode at a time through the pure core. */
export class ReplayInstance {
  row: InstanceRow;
  state: ReplayState | undefined;
  history: HistoryEvent[] = [];
  tasks = new Map<string, PendingTask>();
  messages: InboundMessage[] = [];
  now = T0;
  last: EpisodeResult | undefined;
  readonly ids = fixedIds();
  #messages = 0;

  constructor(
    readonly id = 'instance',
    name = 'orchestrator',
    input: string | null = null,
  ) {
    this.row = pendingRow(name, input, T0, 'exec-1', 'TestHub');
  }

  /** Starts from a recorded history and state (what an earlier host committed). */
  static recorded(state: ReplayState, history: HistoryEvent[]): ReplayInstance {
    const inst = new ReplayInstance();
    inst.state = state;
    inst.history = history;
    return inst;
  }

  /** Runs one episode with what the orchestrator returns for it; the result is applied as a commit. */
  episode(outcome?: OrchestratorOutcome): EpisodeResult {
    const state = this.state ?? initialState(this.row.ExecutionId);
    const inbox = assembleInbox(
      this.id,
      this.row,
      state,
      this.tasks.values(),
      this.messages,
      this.now,
    );
    const result = runEpisode(
      state,
      this.history,
      inbox,
      inbox.kind === 'replay' ? outcome : undefined,
      this.ids,
    );
    this.state = result.state;
    this.history = result.discardedHistory !== undefined ? [] : [...this.history, ...result.events];
    for (const t of result.removedTasks) this.tasks.delete(t.key);
    for (const t of result.newTasks) this.tasks.set(t.key, t);
    this.messages = this.messages.filter((m) => !result.consumedMessages.includes(m));
    Object.assign(this.row, result.instanceUpdate);
    this.last = result;
    return result;
  }

  task(sequenceId: number): PendingTask {
    const t = [...this.tasks.values()].find((x) => x.sequenceId === sequenceId);
    if (!t) throw new Error(`no task ${sequenceId}`);
    return t;
  }

  complete(sequenceId: number, completion: Completion): void {
    this.task(sequenceId).completion = completion;
  }

  post(kind: InboundMessage['kind'], name: string, input: string | null): void {
    this.messages.push({
      key: `~m~${String(++this.#messages).padStart(4, '0')}`,
      kind,
      name,
      input,
    });
  }

  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
}
