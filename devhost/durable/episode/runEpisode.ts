// One episode as a pure function: the state, the history, the inbox and what the orchestrator returned
// in; the events, tasks and state to commit out (durabletask-js's orchestration executor, §7).
import { randomUUID } from 'node:crypto';
import { event, EventType, type HistoryEvent } from '../history.js';
import type { EpisodeResult, PendingTask, ReplayState } from '../model.js';
import {
  ActionType,
  schedulingActions,
  type Action,
  type OrchestratorOutcome,
  type OrchestratorResult,
  type SchedulingAction,
} from '../protocol.js';
import { decide, followUp, type Decisions } from './decisions.js';
import { actionSequenceIds, checkDeterminism } from './determinism.js';
import type { Inbox } from './inbox.js';
import {
  carriedEvents,
  continuedAsNew,
  executionCompleted,
  nextExecutionState,
  type Finish,
} from './tail.js';
import { NonDeterminismError } from '../../errors.js';

/** Where new ids come from (tests pass fixed ones). */
export interface IdSource {
  /** an execution id (continueAsNew) */
  executionId(): string;
  /** the request id of an entity operation */
  requestId(): string;
}

export const randomIds: IdSource = {
  executionId: () => randomUUID().replace(/-/g, ''),
  requestId: () => randomUUID(),
};

interface Outcome {
  events: HistoryEvent[];
  newTasks?: PendingTask[];
  removedTasks?: PendingTask[];
  finished?: Finish;
}

/** The EpisodeResult of `state` after the episode; a finished execution leaves no task behind. */
function resultOf(state: ReplayState, inbox: Inbox, o: Outcome): EpisodeResult {
  const historyStart = state.historyLength;
  state.historyLength += o.events.length;
  const removed = [...(o.removedTasks ?? [])];
  if (o.finished) {
    state.status = o.finished.status;
    state.output = o.finished.output;
    for (const t of inbox.pendingTasks) if (!removed.includes(t)) removed.push(t);
  }
  return {
    state,
    historyStart,
    events: o.events,
    messageKeys: inbox.messageKeys,
    newTasks: o.newTasks ?? [],
    removedTasks: removed,
    consumedMessages: inbox.consumedMessages,
    ...(o.finished ? { finished: o.finished } : {}),
    instanceUpdate: {
      RuntimeStatus: state.status,
      CustomStatus: state.customStatus,
      Output: state.output,
      ExecutionId: state.executionId,
      ...(o.finished ? { CompletedTime: inbox.at } : {}),
    },
    at: inbox.at,
  };
}

function terminated(state: ReplayState, inbox: Inbox): EpisodeResult {
  const reason = inbox.terminate!.input;
  const events = [
    inbox.orchestratorStarted,
    event(EventType.ExecutionTerminated, inbox.at, { Input: reason }),
    executionCompleted({ status: 'Terminated', output: reason }, inbox.at, state.nextSequenceId),
    event(EventType.OrchestratorCompleted, inbox.at),
  ];
  return resultOf(state, inbox, {
    events,
    finished: { status: 'Terminated', output: reason ?? '' },
  });
}

/** What invoking the orchestrator came to: its result, and the failure it means (if any). */
function interpret(outcome: OrchestratorOutcome | undefined): {
  result: OrchestratorResult | undefined;
  failure: string | undefined;
} {
  if (!outcome) return { result: undefined, failure: undefined };
  switch (outcome.kind) {
    case 'missing':
      return {
        result: undefined,
        failure: `The function '${outcome.name}' doesn't exist, is disabled, or is not an orchestrator function.`,
      };
    case 'threw':
      return {
        result: outcome.result,
        failure: `Orchestrator function '${outcome.functionName}' failed: ${outcome.result?.error ?? outcome.message}`,
      };
    case 'returned':
      return { result: outcome.result, failure: undefined };
  }
}

/**
 * Timers of a lost Task.any race never fire (§6.5): their tasks (and those of later legs of a long
 * timer) leave, new or pending.
 */
function dropCancelledTimers(
  d: Decisions,
  actions: readonly SchedulingAction[],
  idOfAction: readonly number[],
  inbox: Inbox,
  removed: PendingTask[],
): void {
  actions.forEach((a, k) => {
    const id = idOfAction[k];
    if (a.actionType !== ActionType.CreateTimer || !a.isCanceled || id === undefined) return;
    const legOf = (t: PendingTask): boolean => {
      const f = d.state.followUps[t.sequenceId];
      return t.sequenceId === id || (f?.kind === 'longTimerLeg' && f.timerId === id);
    };
    const pending = inbox.pendingTasks.filter((t) => t.kind === 'timer' && legOf(t));
    const fresh = d.newTasks.filter((t) => t.kind === 'timer' && legOf(t));
    for (const [key, f] of Object.entries(d.state.followUps))
      if (f.kind === 'longTimerLeg' && f.timerId === id) delete d.state.followUps[key];
    for (const t of fresh) d.newTasks.splice(d.newTasks.indexOf(t), 1);
    for (const t of pending) if (!removed.includes(t)) removed.push(t);
  });
}

/** Schedules the actions the history does not hold yet; returns a failure for an unsupported one. */
function scheduleNewActions(
  d: Decisions,
  actions: readonly SchedulingAction[],
  idOfAction: number[],
): string | undefined {
  let failure: string | undefined;
  for (const a of actions.slice(d.state.scheduledActionCount)) {
    const id = d.state.nextSequenceId++;
    idOfAction.push(id);
    failure = decide(d, id, a);
    if (failure) break;
  }
  d.state.scheduledActionCount = Math.max(d.state.scheduledActionCount, actions.length);
  return failure;
}

interface Ending {
  finish?: Finish;
  continueWith?: { input: string | null };
}

/**
 * Applies the orchestrator's result: new actions, cancelled timers, custom status and how it ended.
 * An unsupported action replaces `failure`; the orchestrator's own error only fills an empty one.
 */
function applyResult(
  d: Decisions,
  inbox: Inbox,
  result: OrchestratorResult,
  removed: PendingTask[],
  failure: string | undefined,
): { failure: string | undefined; ending: Ending } {
  const actions = result.actions?.[0] ?? [];
  const scheduling = schedulingActions(actions);
  const idOfAction = actionSequenceIds(d.state);
  failure = scheduleNewActions(d, scheduling, idOfAction) ?? failure;
  dropCancelledTimers(d, scheduling, idOfAction, inbox, removed);
  if (result.customStatus !== undefined && result.customStatus !== null)
    d.state.customStatus = JSON.stringify(result.customStatus);
  if (!failure && result.error)
    failure = `Orchestrator function '${inbox.instance.Name}' failed: ${result.error}`;
  if (failure || !result.isDone) return { failure, ending: {} };
  const last: Action | undefined = actions[actions.length - 1];
  if (last?.actionType === ActionType.ContinueAsNew) {
    const input = last.input === undefined ? null : JSON.stringify(last.input);
    return { failure, ending: { continueWith: { input } } };
  }
  const output = result.output === undefined ? null : JSON.stringify(result.output);
  return { failure, ending: { finish: { status: 'Completed', output } } };
}

/**
 * continueAsNew: the old execution's last episode is not kept (the new execution's rows replace the
 * old ones from ordinal 0); the new input and the events the old execution never consumed go into the
 * state, and the next episode starts the new execution with them.
 */
function continued(
  state: ReplayState,
  history: readonly HistoryEvent[],
  inbox: Inbox,
  episodeEvents: HistoryEvent[],
  actions: readonly Action[],
  input: string | null,
  ids: IdSource,
): EpisodeResult {
  const carry = carriedEvents(state, [...history, ...episodeEvents], actions);
  const next = nextExecutionState(state, ids.executionId(), input, carry);
  const result = resultOf(
    next,
    { ...inbox, messageKeys: new Map() },
    {
      events: [],
      removedTasks: inbox.pendingTasks,
    },
  );
  return {
    ...result,
    discardedHistory: history.length,
    instanceUpdate: {
      ...result.instanceUpdate,
      Input: input,
      Generation: inbox.instance.Generation + 1,
    },
  };
}

function replayed(
  state: ReplayState,
  history: readonly HistoryEvent[],
  inbox: Inbox,
  outcome: OrchestratorOutcome | undefined,
  ids: IdSource,
): EpisodeResult {
  const d: Decisions = {
    instanceId: inbox.instanceId,
    at: inbox.at,
    state,
    events: [],
    newTasks: [],
    newGuid: () => ids.requestId(),
  };
  if (inbox.isFirstEpisode) delete state.carriedEvents;
  state.status = 'Running';
  for (const t of inbox.completedTasks) followUp(d, t);
  const removed = [...inbox.completedTasks];
  const interpreted = interpret(outcome);
  let failure = interpreted.failure;
  const result = interpreted.result;
  let ending: Ending = {};
  try {
    const mayStopEarly = !!failure || !!result?.isDone;
    checkDeterminism(schedulingActions(result?.actions?.[0] ?? []), state, history, mayStopEarly);
    if (result) {
      ({ failure, ending } = applyResult(d, inbox, result, removed, failure));
    }
  } catch (e) {
    if (!(e instanceof NonDeterminismError)) throw e;
    failure = e.message;
  }
  if (failure) {
    ending = { finish: { status: 'Failed', output: failure } };
    d.newTasks.length = 0;
  }
  const tail = ending.finish
    ? [executionCompleted(ending.finish, inbox.at, state.nextSequenceId)]
    : ending.continueWith
      ? [continuedAsNew(ending.continueWith.input, inbox.at, state.nextSequenceId)]
      : [];
  const events = [
    inbox.orchestratorStarted,
    ...inbox.newEvents,
    ...d.events,
    ...tail,
    event(EventType.OrchestratorCompleted, inbox.at),
  ];
  if (ending.continueWith) {
    const actions = result?.actions?.[0] ?? [];
    return continued(state, history, inbox, events, actions, ending.continueWith.input, ids);
  }
  return resultOf(state, inbox, {
    events,
    newTasks: d.newTasks,
    removedTasks: removed,
    ...(ending.finish ? { finished: ending.finish } : {}),
  });
}

/**
 * Runs one episode. `state` is the execution's state before it (not changed); `outcome` is what the
 * orchestrator returned for the inbox's replay (undefined when the inbox needs none).
 */
export function runEpisode(
  state: ReplayState,
  history: readonly HistoryEvent[],
  inbox: Inbox,
  outcome: OrchestratorOutcome | undefined,
  ids: IdSource = randomIds,
): EpisodeResult {
  const draft = structuredClone(state);
  draft.episode++;
  switch (inbox.kind) {
    case 'terminate':
      return terminated(draft, inbox);
    case 'suspended':
      draft.status = 'Suspended';
      return resultOf(draft, inbox, { events: inbox.newEvents });
    case 'idle':
      return resultOf(draft, inbox, { events: [] });
    case 'bookkeeping':
      draft.status = 'Running';
      return resultOf(draft, inbox, { events: [] });
    case 'replay':
      return replayed(draft, history, inbox, outcome, ids);
  }
}
