// The determinism check (§6.3): every action the history already scheduled must come back the same.
import { EventType, type HistoryEvent } from '../history.js';
import type { ReplayState } from '../model.js';
import { ActionType, describeAction, type SchedulingAction } from '../protocol.js';
import { NonDeterminismError } from '../../errors.js';

const SCHEDULED_TYPES = new Set([
  EventType.TaskScheduled,
  EventType.TimerCreated,
  EventType.SubOrchestrationInstanceCreated,
  EventType.EventSent,
]);

/** Sequence ids of the orchestrator's own actions, in order: every id the host did not take itself. */
export function actionSequenceIds(state: ReplayState): number[] {
  const host = new Set(state.hostSequenceIds);
  const out: number[] = [];
  for (let i = 0; i < state.nextSequenceId; i++) if (!host.has(i)) out.push(i);
  return out;
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

function sameName(x: unknown, y: unknown): boolean {
  const lower = (v: unknown): string => (typeof v === 'string' ? v : '').toLowerCase();
  return lower(x) === lower(y);
}

/** True when the replayed action is the one the history recorded with that id (names case-insensitive). */
export function matchesScheduled(a: SchedulingAction, e: HistoryEvent): boolean {
  switch (a.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
      return e.EventType === EventType.TaskScheduled && sameName(e.Name, a.functionName);
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
      return (
        e.EventType === EventType.SubOrchestrationInstanceCreated &&
        sameName(e.Name, a.functionName)
      );
    case ActionType.CreateTimer:
      return e.EventType === EventType.TimerCreated;
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return e.EventType === EventType.EventSent && sameName(e.InstanceId, a.instanceId);
    default:
      return true;
  }
}

const QUESTION =
  'Was a change made to the orchestrator code after this instance had already started running?';

/**
 * Throws NonDeterminismError when a replayed action differs from the history's, or (unless the
 * orchestrator finished or failed, which may legitimately stop early) when one the history holds is missing.
 */
export function checkDeterminism(
  actions: readonly SchedulingAction[],
  state: ReplayState,
  history: readonly HistoryEvent[],
  mayStopEarly: boolean,
): void {
  const ids = actionSequenceIds(state);
  const scheduled = new Map<number, HistoryEvent>();
  for (const e of history) if (SCHEDULED_TYPES.has(e.EventType)) scheduled.set(e.EventId, e);
  const known = Math.min(actions.length, state.scheduledActionCount);
  for (let k = 0; k < known; k++) {
    const expected = scheduled.get(ids[k]!);
    if (expected && !matchesScheduled(actions[k]!, expected)) {
      throw new NonDeterminismError(
        `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describeScheduled(expected)} with sequence ID ${ids[k]}, but the current replay execution scheduled ${describeAction(actions[k]!)} instead. ${QUESTION}`,
      );
    }
  }
  if (mayStopEarly || actions.length >= state.scheduledActionCount) return;
  const missing = scheduled.get(ids[actions.length]!);
  if (missing) {
    throw new NonDeterminismError(
      `Non-Deterministic workflow detected: A previous execution of this orchestration scheduled ${describeScheduled(missing)} with sequence ID ${missing.EventId}, but the current replay execution hasn't scheduled this task. ${QUESTION}`,
    );
  }
}
