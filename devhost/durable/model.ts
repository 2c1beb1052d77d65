// What the engine, the episode and the store share: the replay state, pending tasks and inbound messages.
import type { HistoryEvent } from './history.js';
import type { RetryOptionsJson } from './protocol.js';
import type { RuntimeStatus } from './types.js';

/** One row of `<Hub>Instances` (§12.1), plus the parent link of sub-orchestrations. */
export interface InstanceRow {
  Name: string;
  Version: string;
  Input: string | null;
  Output: string | null;
  CustomStatus: string;
  RuntimeStatus: RuntimeStatus;
  CreatedTime: Date;
  LastUpdatedTime: Date;
  CompletedTime: Date | null;
  ExecutionId: string;
  TaskHubName: string;
  Generation: number;
  ParentInstanceId: string | null;
  ParentExecutionId: string | null;
  ParentTaskScheduledId: number | null;
  ParentName: string | null;
}

/** A call made with retry options: what each attempt needs and how many failed so far. */
export interface RetryingCall {
  target: 'activity' | 'subOrchestration';
  name: string;
  input: string | null;
  instanceId?: string;
  options: RetryOptionsJson;
  failedAttempts: number;
}

/** What the completion of a task leads to beyond its history event (the host's own scheduling). */
export type FollowUp =
  /** an attempt of a retrying call: its failure starts a retry timer */
  | { kind: 'retryAttempt'; call: RetryingCall }
  /** the timer before the next attempt: its firing starts the attempt (unless none are left) */
  | { kind: 'retryTimer'; call: RetryingCall }
  /** one leg of a timer longer than the longest Table storage timer: the next leg until `fireAt` */
  | { kind: 'longTimerLeg'; fireAt: string; timerId: number };

/** The host-side replay state of one execution, kept in the sentinel row and committed with the history. */
export interface ReplayState {
  executionId: string;
  /** episodes run by this instance (task rows name the episode that wrote them) */
  episode: number;
  /** history events of this execution committed so far */
  historyLength: number;
  /** the next sequence id (EventId) to hand out */
  nextSequenceId: number;
  /** id-taking actions the orchestrator has scheduled so far */
  scheduledActionCount: number;
  /** sequence ids taken by the host (retry timers and attempts, long-timer legs), not by actions */
  hostSequenceIds: number[];
  /** by sequence id: what the completion of that task leads to */
  followUps: Record<string, FollowUp>;
  /** events raised but not consumed before continueAsNew; the new execution receives them first */
  carriedEvents?: { name: string; input: string | null }[];
  /** the input of an execution started by continueAsNew (also written to the Instances row) */
  executionInput?: string | null;
  status: RuntimeStatus;
  output: string | null;
  customStatus: string;
}

/** The Instances row of an instance that has not run yet. */
export function pendingRow(
  name: string,
  input: string | null,
  now: Date,
  executionId: string,
  hubName: string,
): InstanceRow {
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
    ExecutionId: executionId,
    TaskHubName: hubName,
    Generation: 0,
    ParentInstanceId: null,
    ParentExecutionId: null,
    ParentTaskScheduledId: null,
    ParentName: null,
  };
}

export function initialState(executionId: string): ReplayState {
  return {
    executionId,
    episode: 0,
    historyLength: 0,
    nextSequenceId: 0,
    scheduledActionCount: 0,
    hostSequenceIds: [],
    followUps: {},
    status: 'Running',
    output: null,
    customStatus: 'null',
  };
}

export type Completion =
  { ok: true; result: string | null } | { ok: false; reason: string; details: string };

/** Work an execution waits for, kept as a `~t~` row until its completion enters the history. */
export interface PendingTask {
  key: string;
  sequenceId: number;
  kind: 'activity' | 'timer' | 'suborch' | 'send';
  name: string;
  input: string | null;
  /** the episode that scheduled it */
  episode: number;
  /** timers: ISO 8601 */
  fireAt?: string;
  /** sub-orchestrations */
  childId?: string;
  /** entity requests: the entity's instance id and the request */
  target?: string;
  message?: string;
  completion?: Completion;
}

/** A message to an instance (`~m~` row): a raised event, a control request or an entity operation. */
export interface InboundMessage {
  key: string;
  kind: 'event' | 'terminate' | 'suspend' | 'resume' | 'entityOp';
  name: string;
  input: string | null;
}

/** An entity's state, kept in its sentinel. */
export interface EntityState {
  exists: boolean;
  state: string | null;
}

/** What an episode decided; the engine commits it to the store in one call. */
export interface EpisodeResult {
  /** the state after the episode */
  state: ReplayState;
  /** the ordinal of the first new event (the history length before) */
  historyStart: number;
  events: HistoryEvent[];
  /** events made from messages, and the message each came from (recovery knows them as consumed) */
  messageKeys: ReadonlyMap<HistoryEvent, string>;
  newTasks: PendingTask[];
  /** task rows to delete: consumed, cancelled, or left behind by a finished execution */
  removedTasks: PendingTask[];
  consumedMessages: InboundMessage[];
  /** set when the execution ended */
  finished?: { status: RuntimeStatus; output: string | null };
  /** set by continueAsNew: the old execution's history rows to delete once committed */
  discardedHistory?: number;
  /** the Instances row's new values */
  instanceUpdate: Partial<InstanceRow>;
  at: Date;
}

/** Sequence-id order for tasks and timers. */
export function bySequenceId(a: PendingTask, b: PendingTask): number {
  return a.sequenceId - b.sequenceId;
}

/** Keys of pending tasks (`~t~…`) and inbound messages (`~m~…`): they sort after history and the sentinel. */
export const TASK_PREFIX = '~t~';
export const MESSAGE_PREFIX = '~m~';

export function taskKey(executionId: string, sequenceId: number): string {
  return `${TASK_PREFIX}${executionId}~${sequenceId.toString().padStart(8, '0')}`;
}
