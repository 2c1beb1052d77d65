// The storage boundary of the Durable engine (like DurableTask.Core's tracking store): instances, history,
// tasks, messages and episode results, never rows. `tableStore.ts` and `memoryStore.ts` implement it.
import type { HistoryEvent } from './history.js';
import type {
  Completion,
  EntityState,
  EpisodeResult,
  InboundMessage,
  InstanceRow,
  PendingTask,
  ReplayState,
} from './model.js';
import type { InstanceFilter } from './types.js';

/** Which instances a listing returns (entities never). */
export type InstanceQuery = Pick<
  InstanceFilter,
  'createdTimeFrom' | 'createdTimeTo' | 'runtimeStatus' | 'instanceIdPrefix'
>;

/** What an instance's partition holds, as the engine loads it. */
export interface LoadedInstance {
  /** the checkpoint's version; a commit names it and fails if someone else committed meanwhile */
  checkpoint: string | undefined;
  state: ReplayState | undefined;
  entity: EntityState | undefined;
  /** the committed history of the current execution */
  history: HistoryEvent[];
  /** every task row, with the execution that wrote it */
  tasks: (PendingTask & { executionId: string })[];
  /** messages whose events are not in the history yet */
  messages: InboundMessage[];
  /** keys of every message whose event the partition's history holds */
  consumedMessageKeys: ReadonlySet<string>;
  /** rows of such messages that are left over (a crash after the commit) */
  leftoverMessageKeys: string[];
}

export interface InstanceStore {
  readonly hubName: string;
  init(): Promise<void>;

  getInstance(id: string): Promise<InstanceRow | undefined>;
  /** false when the instance exists */
  createInstance(id: string, row: InstanceRow): Promise<boolean>;
  putInstance(id: string, row: InstanceRow): Promise<void>;
  /** A page of instances (ordered by id), `pageSize` at most. */
  listInstances(
    query: InstanceQuery,
    pageSize: number,
    continuationToken: string | undefined,
  ): Promise<{ instances: { id: string; row: InstanceRow }[]; continuationToken?: string }>;

  loadInstance(id: string): Promise<LoadedInstance>;
  /** The committed history of the current execution. */
  readHistory(id: string): Promise<HistoryEvent[]>;
  /**
   * Commits an episode: its events, new tasks, removed tasks and consumed messages and the state, in
   * one checkpoint guarded by `checkpoint`. Returns the new checkpoint, or false when it changed.
   */
  commitEpisode(
    id: string,
    result: EpisodeResult,
    checkpoint: string | undefined,
  ): Promise<string | false>;
  /** Commits an entity batch: its new state and the operations it consumed. */
  commitEntity(
    id: string,
    entity: EntityState,
    consumed: readonly InboundMessage[],
    checkpoint: string | undefined,
  ): Promise<string | false>;

  /** Adds a message; false when one with that key exists. */
  addMessage(id: string, message: InboundMessage): Promise<boolean>;
  /** Writes a message whatever is there (idempotent deliveries). */
  putMessage(id: string, message: InboundMessage): Promise<void>;
  /** Records a task's completion on its row; false when the task is gone. */
  completeTask(id: string, taskKey: string, completion: Completion): Promise<boolean>;
  /** Deletes task and message rows; missing ones are ignored. */
  removeWork(id: string, keys: readonly string[]): Promise<void>;
  /** Deletes an instance: its row and everything in its partition. */
  purge(id: string): Promise<void>;
  /** Ids of instances that may have work left: pending tasks or messages, or not finished. */
  recoverableInstanceIds(): Promise<Set<string>>;
}
