// One decision per action type, and what a completion leads to (retries, long-timer legs): the history
// events and tasks each schedules, as DurableTask.Core's per-decision methods and durabletask-js do.
import { dotnetTime, event, EventType, type HistoryEvent } from '../history.js';
import { taskKey, type PendingTask, type ReplayState, type RetryingCall } from '../model.js';
import {
  ActionType,
  actionKind,
  type CallActivityAction,
  type CallActivityWithRetryAction,
  type CallEntityAction,
  type CallSubOrchestratorAction,
  type CallSubOrchestratorWithRetryAction,
  type CreateTimerAction,
  type SchedulingAction,
  type SignalEntityAction,
} from '../protocol.js';

/** What the extension sends for the Azure Storage provider (§3). */
export const LONG_TIMER_INTERVAL_MS = 3 * 86_400_000;
export const MAX_SHORT_TIMER_MS = 6 * 86_400_000;
const DEFAULT_MAX_RETRY_INTERVAL_MS = 6 * 86_400_000;

/** Where decisions write: the state draft, the events and the tasks of this episode. */
export interface Decisions {
  readonly instanceId: string;
  readonly at: Date;
  readonly state: ReplayState;
  readonly events: HistoryEvent[];
  readonly newTasks: PendingTask[];
  /** request ids of entity operations */
  readonly newGuid: () => string;
}

function addTask(d: Decisions, task: Omit<PendingTask, 'key' | 'episode'>): void {
  d.newTasks.push({
    key: taskKey(d.state.executionId, task.sequenceId),
    episode: d.state.episode,
    ...task,
  });
}

function scheduleTimer(d: Decisions, id: number, fireAtMs: number, createTask = true): void {
  const fireAt = new Date(fireAtMs);
  d.events.push(event(EventType.TimerCreated, d.at, { FireAt: dotnetTime(fireAt) }, id));
  if (createTask)
    addTask(d, {
      sequenceId: id,
      kind: 'timer',
      name: '',
      input: null,
      fireAt: fireAt.toISOString(),
    });
}

function scheduleActivity(d: Decisions, id: number, name: string, input: string | null): void {
  d.events.push(
    event(EventType.TaskScheduled, d.at, { Name: name, Version: '', Input: input }, id),
  );
  addTask(d, { sequenceId: id, kind: 'activity', name, input });
}

function scheduleSubOrchestration(
  d: Decisions,
  id: number,
  name: string,
  input: string | null,
  instanceId: string | undefined,
): void {
  const childId = instanceId ?? `${d.state.executionId}:${id}`;
  d.events.push(
    event(
      EventType.SubOrchestrationInstanceCreated,
      d.at,
      { Name: name, Version: '', InstanceId: childId, Input: input },
      id,
    ),
  );
  addTask(d, { sequenceId: id, kind: 'suborch', name, input, childId });
}

/** The activity input text the real host hands the worker (§8.1): strings are already JSON text. */
function activityInput(input: unknown): string | null {
  if (input === undefined || input === null) return null;
  return typeof input === 'string' ? input : JSON.stringify(input);
}

function jsonInput(input: unknown): string | null {
  return input === undefined ? null : JSON.stringify(input);
}

function startRetrying(d: Decisions, id: number, call: Omit<RetryingCall, 'failedAttempts'>): void {
  d.state.followUps[id] = { kind: 'retryAttempt', call: { ...call, failedAttempts: 0 } };
}

function callActivity(d: Decisions, id: number, a: CallActivityAction): void {
  scheduleActivity(d, id, a.functionName, activityInput(a.input));
}

function callActivityWithRetry(d: Decisions, id: number, a: CallActivityWithRetryAction): void {
  const input = activityInput(a.input);
  scheduleActivity(d, id, a.functionName, input);
  startRetrying(d, id, {
    target: 'activity',
    name: a.functionName,
    input,
    options: a.retryOptions,
  });
}

function callSubOrchestrator(d: Decisions, id: number, a: CallSubOrchestratorAction): void {
  scheduleSubOrchestration(d, id, a.functionName, jsonInput(a.input), a.instanceId);
}

function callSubOrchestratorWithRetry(
  d: Decisions,
  id: number,
  a: CallSubOrchestratorWithRetryAction,
): void {
  const input = jsonInput(a.input);
  scheduleSubOrchestration(d, id, a.functionName, input, a.instanceId);
  startRetrying(d, id, {
    target: 'subOrchestration',
    name: a.functionName,
    input,
    ...(a.instanceId ? { instanceId: a.instanceId } : {}),
    options: a.retryOptions,
  });
}

/** Timers beyond the longest short timer run as legs of LONG_TIMER_INTERVAL_MS (the library's rule). */
function createTimer(d: Decisions, id: number, a: CreateTimerAction): void {
  const fireAt = Date.parse(a.fireAt);
  const nowMs = d.at.getTime();
  let first = fireAt;
  if (fireAt - nowMs > MAX_SHORT_TIMER_MS) {
    first = nowMs + LONG_TIMER_INTERVAL_MS;
    d.state.followUps[id] = {
      kind: 'longTimerLeg',
      fireAt: new Date(fireAt).toISOString(),
      timerId: id,
    };
  }
  scheduleTimer(d, id, first, !a.isCanceled);
}

/** Entity calls and signals: an EventSent, and a task that delivers the request to the entity. */
function entityRequest(d: Decisions, id: number, a: CallEntityAction | SignalEntityAction): void {
  const message = JSON.stringify({
    op: a.operation,
    ...(a.actionType === ActionType.SignalEntity ? { signal: true } : {}),
    ...(a.input !== undefined ? { input: JSON.stringify(a.input) } : {}),
    id: d.newGuid(),
    parent: d.instanceId,
    parentExecution: d.state.executionId,
  });
  d.events.push(
    event(EventType.EventSent, d.at, { InstanceId: a.instanceId, Name: 'op', Input: message }, id),
  );
  addTask(d, {
    sequenceId: id,
    kind: 'send',
    name: a.operation,
    input: null,
    target: a.instanceId,
    message,
  });
}

/**
 * Schedules a new action under sequence id `id`. Returns the failure of the orchestration for an
 * action the local host cannot run, else undefined.
 */
export function decide(d: Decisions, id: number, a: SchedulingAction): string | undefined {
  switch (a.actionType) {
    case ActionType.CallActivity:
      callActivity(d, id, a);
      break;
    case ActionType.CallActivityWithRetry:
      callActivityWithRetry(d, id, a);
      break;
    case ActionType.CallSubOrchestrator:
      callSubOrchestrator(d, id, a);
      break;
    case ActionType.CallSubOrchestratorWithRetry:
      callSubOrchestratorWithRetry(d, id, a);
      break;
    case ActionType.CreateTimer:
      createTimer(d, id, a);
      break;
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      entityRequest(d, id, a);
      break;
    case ActionType.CallHttp:
    case ActionType.LockEntities:
      return `The local host does not support ${actionKind(a)}s (action type ${a.actionType}).`;
  }
  return undefined;
}

/** A host-taken sequence id (the library takes the same one for the same follow-up). */
function hostSequenceId(state: ReplayState): number {
  const id = state.nextSequenceId++;
  state.hostSequenceIds.push(id);
  return id;
}

/**
 * DTFx RetryInterceptor's delay before the next attempt. `retryTimeoutInMilliseconds` is ignored: the
 * library always expects the next attempt after a retry timer, so honouring it would hang (§6.4, §13.11).
 */
export function retryDelay(call: RetryingCall): number {
  const o = call.options;
  if (call.failedAttempts >= o.maxNumberOfAttempts) return 0;
  const raw =
    o.firstRetryIntervalInMilliseconds *
    Math.pow(o.backoffCoefficient ?? 1, call.failedAttempts - 1);
  return Math.min(raw, o.maxRetryIntervalInMilliseconds ?? DEFAULT_MAX_RETRY_INTERVAL_MS);
}

/** Schedules what the completion of `task` leads to (§6.4 retries, §6.5 long timers), if anything. */
export function followUp(d: Decisions, task: PendingTask): void {
  const f = d.state.followUps[task.sequenceId];
  if (!f) return;
  delete d.state.followUps[task.sequenceId];
  const nowMs = d.at.getTime();
  if (f.kind === 'retryAttempt') {
    if (task.completion?.ok !== false) return;
    // The library waits for one timer after every failed attempt, even the last (§6.4).
    const call = { ...f.call, failedAttempts: f.call.failedAttempts + 1 };
    const id = hostSequenceId(d.state);
    scheduleTimer(d, id, nowMs + retryDelay(call));
    d.state.followUps[id] = { kind: 'retryTimer', call };
  } else if (f.kind === 'retryTimer') {
    const call = f.call;
    if (call.failedAttempts >= call.options.maxNumberOfAttempts) return;
    const id = hostSequenceId(d.state);
    if (call.target === 'activity') scheduleActivity(d, id, call.name, call.input);
    else scheduleSubOrchestration(d, id, call.name, call.input, call.instanceId);
    d.state.followUps[id] = { kind: 'retryAttempt', call };
  } else {
    const fireAt = Date.parse(f.fireAt);
    if (fireAt <= nowMs) return;
    const id = hostSequenceId(d.state);
    scheduleTimer(
      d,
      id,
      fireAt - nowMs > MAX_SHORT_TIMER_MS ? nowMs + LONG_TIMER_INTERVAL_MS : fireAt,
    );
    d.state.followUps[id] = { ...f };
  }
}
