// What an episode delivers: control requests, ExecutionStarted, ready completions and raised events (§7).
import { dotnetTime, event, EventType, type HistoryEvent } from '../history.js';
import {
  bySequenceId,
  type InboundMessage,
  type InstanceRow,
  type PendingTask,
  type ReplayState,
} from '../model.js';

export interface Inbox {
  /**
   * `idle`: nothing to do; `terminate`: end the execution; `suspended`: record suspend/resume only;
   * `bookkeeping`: consume no-op messages without a replay; `replay`: run the orchestrator.
   */
  kind: 'idle' | 'terminate' | 'suspended' | 'bookkeeping' | 'replay';
  instanceId: string;
  instance: InstanceRow;
  at: Date;
  /** the first episode of an execution: ExecutionStarted (and carried events) lead the new events */
  isFirstEpisode: boolean;
  orchestratorStarted: HistoryEvent;
  newEvents: HistoryEvent[];
  messageKeys: Map<HistoryEvent, string>;
  /** completions delivered, in delivery order */
  completedTasks: PendingTask[];
  consumedMessages: InboundMessage[];
  /** every task the execution waits for */
  pendingTasks: PendingTask[];
  terminate?: InboundMessage;
}

/** A timer that is due, or a task that has its completion. */
export function isReady(t: PendingTask, nowMs: number): boolean {
  return t.kind === 'timer' ? !!t.fireAt && Date.parse(t.fireAt) <= nowMs : !!t.completion;
}

/** Whether delivering this completion makes the library (and so the host) allocate sequence ids (§6.1.3). */
export function allocatesIds(t: PendingTask, state: ReplayState, nowMs: number): boolean {
  const f = state.followUps[t.sequenceId];
  if (!f) return false;
  if (f.kind === 'retryAttempt') return t.completion?.ok === false;
  if (f.kind === 'retryTimer') return true;
  return Date.parse(f.fireAt) > nowMs;
}

/**
 * Ready completions in sequence-id order, except that at most one id-allocating completion is
 * delivered per episode and it goes first: the library numbers what it schedules next from it.
 */
export function deliverableCompletions(
  tasks: Iterable<PendingTask>,
  state: ReplayState,
  nowMs: number,
): PendingTask[] {
  const ready = [...tasks].filter((t) => isReady(t, nowMs)).sort(bySequenceId);
  const first = ready.find((t) => allocatesIds(t, state, nowMs));
  return first ? [first, ...ready.filter((t) => !allocatesIds(t, state, nowMs))] : ready;
}

export function completionEvent(t: PendingTask, at: Date): HistoryEvent {
  if (t.kind === 'timer')
    return event(EventType.TimerFired, at, { TimerId: t.sequenceId, FireAt: fireAtText(t) });
  const c = t.completion!;
  const sub = t.kind === 'suborch';
  if (c.ok) {
    const type = sub ? EventType.SubOrchestrationInstanceCompleted : EventType.TaskCompleted;
    return event(type, at, { TaskScheduledId: t.sequenceId, Result: c.result });
  }
  const type = sub ? EventType.SubOrchestrationInstanceFailed : EventType.TaskFailed;
  return event(type, at, {
    TaskScheduledId: t.sequenceId,
    Reason: c.reason,
    Details: c.details,
    FailureDetails: null,
  });
}

function fireAtText(t: PendingTask): string {
  return dotnetTime(new Date(t.fireAt!));
}

function executionStarted(instanceId: string, row: InstanceRow, state: ReplayState): HistoryEvent {
  return event(EventType.ExecutionStarted, row.CreatedTime, {
    OrchestrationInstance: { InstanceId: instanceId, ExecutionId: state.executionId },
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
    Input: state.executionInput !== undefined ? state.executionInput : row.Input,
    Tags: null,
    Correlation: null,
    ParentTraceContext: null,
    ScheduledStartTime: null,
    Generation: row.Generation,
    GenerateNewTrace: false,
  });
}

/** Suspend and resume requests in arrival order; ones that change nothing are consumed silently. */
function suspendAndResume(
  messages: readonly InboundMessage[],
  wasSuspended: boolean,
  at: Date,
  inbox: Inbox,
): boolean {
  let suspended = wasSuspended;
  for (const m of messages) {
    if (m.kind !== 'suspend' && m.kind !== 'resume') continue;
    if (m.kind === 'suspend' && !suspended) {
      inbox.newEvents.push(event(EventType.ExecutionSuspended, at, { Reason: m.input }));
      suspended = true;
    } else if (m.kind === 'resume' && suspended) {
      inbox.newEvents.push(event(EventType.ExecutionResumed, at, { Reason: m.input }));
      suspended = false;
    }
    inbox.consumedMessages.push(m);
  }
  return suspended;
}

/**
 * Assembles the inbox of one episode. Terminate wins over everything; a suspended instance takes
 * nothing but resume; otherwise ExecutionStarted (first episode), completions, then raised events.
 */
export function assembleInbox(
  instanceId: string,
  instance: InstanceRow,
  state: ReplayState,
  tasks: Iterable<PendingTask>,
  messages: readonly InboundMessage[],
  at: Date,
): Inbox {
  const inbox: Inbox = {
    kind: 'replay',
    instanceId,
    instance,
    at,
    isFirstEpisode: state.historyLength === 0,
    orchestratorStarted: event(EventType.OrchestratorStarted, at),
    newEvents: [],
    messageKeys: new Map(),
    completedTasks: [],
    consumedMessages: [],
    pendingTasks: [...tasks],
  };
  const terminate = messages.find((m) => m.kind === 'terminate');
  if (terminate) {
    const others = messages.filter((m) => m !== terminate);
    return { ...inbox, kind: 'terminate', terminate, consumedMessages: [terminate, ...others] };
  }
  if (suspendAndResume(messages, state.status === 'Suspended', at, inbox)) {
    const changed = inbox.newEvents.length > 0 || inbox.consumedMessages.length > 0;
    return { ...inbox, kind: changed ? 'suspended' : 'idle' };
  }
  if (inbox.isFirstEpisode) {
    inbox.newEvents.push(executionStarted(instanceId, instance, state));
    for (const c of state.carriedEvents ?? [])
      inbox.newEvents.push(event(EventType.EventRaised, at, { Name: c.name, Input: c.input }));
  }
  for (const t of deliverableCompletions(inbox.pendingTasks, state, at.getTime())) {
    inbox.completedTasks.push(t);
    inbox.newEvents.push(completionEvent(t, at));
  }
  for (const m of messages) {
    if (m.kind !== 'event') continue;
    const e = event(EventType.EventRaised, at, { Name: m.name, Input: m.input });
    inbox.messageKeys.set(e, m.key);
    inbox.newEvents.push(e);
    inbox.consumedMessages.push(m);
  }
  if (inbox.newEvents.length === 0)
    return { ...inbox, kind: inbox.consumedMessages.length ? 'bookkeeping' : 'idle' };
  return inbox;
}
