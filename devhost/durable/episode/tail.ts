// The end of an episode: ExecutionCompleted for a finished execution, or the carry-over of continueAsNew.
import { event, EventType, OrchestrationStatus, type HistoryEvent } from '../history.js';
import type { ReplayState } from '../model.js';
import { ActionType, leafActions, type Action } from '../protocol.js';
import type { RuntimeStatus } from '../types.js';

export interface Finish {
  status: RuntimeStatus;
  output: string | null;
}

const STATUS_NUMBER: Partial<Record<RuntimeStatus, OrchestrationStatus>> = {
  Completed: OrchestrationStatus.Completed,
  Failed: OrchestrationStatus.Failed,
  Terminated: OrchestrationStatus.Terminated,
};

/** ExecutionCompleted; failures carry the message as FailureDetails too. */
export function executionCompleted(finish: Finish, at: Date, eventId: number): HistoryEvent {
  return event(
    EventType.ExecutionCompleted,
    at,
    {
      OrchestrationStatus: STATUS_NUMBER[finish.status],
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
    eventId,
  );
}

export function continuedAsNew(input: string | null, at: Date, eventId: number): HistoryEvent {
  return event(
    EventType.ContinueAsNew,
    at,
    { OrchestrationStatus: OrchestrationStatus.ContinuedAsNew, Result: input },
    eventId,
  );
}

/**
 * Raised events nobody waited for: the library buffers them, and as they belong to the instance they
 * carry over into the execution continueAsNew starts (the latest of each name beyond its waiters).
 */
export function carriedEvents(
  state: ReplayState,
  events: readonly HistoryEvent[],
  actions: readonly Action[],
): { name: string; input: string | null }[] {
  const waiters = new Map<string, number>();
  for (const a of leafActions(actions)) {
    if (a.actionType === ActionType.WaitForExternalEvent && a.externalEventName)
      waiters.set(a.externalEventName, (waiters.get(a.externalEventName) ?? 0) + 1);
  }
  const byName = new Map<string, HistoryEvent[]>();
  for (const e of events) {
    if (e.EventType !== EventType.EventRaised) continue;
    const name = String(e.Name);
    byName.set(name, [...(byName.get(name) ?? []), e]);
  }
  const carry = [...(state.carriedEvents ?? [])];
  for (const [name, list] of byName) {
    const spare = Math.max(0, list.length - (waiters.get(name) ?? 0));
    for (const e of list.slice(list.length - spare))
      carry.push({ name, input: typeof e.Input === 'string' ? e.Input : null });
  }
  return carry;
}

/** The state of the execution continueAsNew starts: a new id, no history, the input and carried events. */
export function nextExecutionState(
  old: ReplayState,
  executionId: string,
  input: string | null,
  carry: { name: string; input: string | null }[],
): ReplayState {
  return {
    executionId,
    episode: old.episode,
    historyLength: 0,
    nextSequenceId: 0,
    scheduledActionCount: 0,
    hostSequenceIds: [],
    followUps: {},
    carriedEvents: carry,
    executionInput: input,
    status: 'Running',
    output: null,
    customStatus: old.customStatus,
  };
}
