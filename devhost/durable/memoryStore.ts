// The InstanceStore in memory: the same contract as Table storage (conformance suite), for tests.
import type { HistoryEvent } from './history.js';
import type { InstanceQuery, InstanceStore, LoadedInstance } from './instanceStore.js';
import type {
  Completion,
  EntityState,
  EpisodeResult,
  InboundMessage,
  InstanceRow,
  PendingTask,
  ReplayState,
} from './model.js';
import { escapePartitionKey } from './codec.js';

interface Partition {
  checkpoint?: { version: string; state?: ReplayState; entity?: EntityState };
  /** by ordinal */
  history: Map<number, { executionId: string; event: HistoryEvent; messageKey?: string }>;
  tasks: Map<string, PendingTask & { executionId: string }>;
  messages: Map<string, InboundMessage>;
}

const copy = <T>(v: T): T => structuredClone(v);

export class MemoryInstanceStore implements InstanceStore {
  readonly #instances = new Map<string, InstanceRow>();
  readonly #partitions = new Map<string, Partition>();
  #versions = 0;

  constructor(readonly hubName = 'MemoryHub') {}

  init(): Promise<void> {
    return Promise.resolve();
  }

  #partition(id: string): Partition {
    let p = this.#partitions.get(id);
    if (!p) {
      p = { history: new Map(), tasks: new Map(), messages: new Map() };
      this.#partitions.set(id, p);
    }
    return p;
  }

  getInstance(id: string): Promise<InstanceRow | undefined> {
    const row = this.#instances.get(id);
    return Promise.resolve(row && copy(row));
  }

  createInstance(id: string, row: InstanceRow): Promise<boolean> {
    if (this.#instances.has(id)) return Promise.resolve(false);
    this.#instances.set(id, copy(row));
    return Promise.resolve(true);
  }

  putInstance(id: string, row: InstanceRow): Promise<void> {
    this.#instances.set(id, copy(row));
    return Promise.resolve();
  }

  listInstances(
    q: InstanceQuery,
    pageSize: number,
    continuationToken: string | undefined,
  ): Promise<{ instances: { id: string; row: InstanceRow }[]; continuationToken?: string }> {
    const matching = [...this.#instances]
      .filter(([id, row]) => {
        if (id.startsWith('@')) return false;
        if (q.createdTimeFrom && row.CreatedTime < q.createdTimeFrom) return false;
        if (q.createdTimeTo && row.CreatedTime > q.createdTimeTo) return false;
        if (q.runtimeStatus?.length && !q.runtimeStatus.includes(row.RuntimeStatus)) return false;
        return !q.instanceIdPrefix || id.startsWith(q.instanceIdPrefix);
      })
      .sort(([a], [b]) => (escapePartitionKey(a) < escapePartitionKey(b) ? -1 : 1));
    const start = continuationToken ? Number(continuationToken) : 0;
    const instances = matching
      .slice(start, start + pageSize)
      .map(([id, row]) => ({ id, row: copy(row) }));
    const next = start + pageSize;
    return Promise.resolve(
      next < matching.length ? { instances, continuationToken: String(next) } : { instances },
    );
  }

  #history(p: Partition): HistoryEvent[] {
    const state = p.checkpoint?.state;
    if (!state) return [];
    const out: HistoryEvent[] = [];
    for (let i = 0; i < state.historyLength; i++) {
      const h = p.history.get(i);
      if (h?.executionId === state.executionId) out.push(copy(h.event));
    }
    return out;
  }

  loadInstance(id: string): Promise<LoadedInstance> {
    const p = this.#partition(id);
    const consumed = new Set([...p.history.values()].map((h) => h.messageKey));
    const messages = [...p.messages.values()].sort((a, b) => (a.key < b.key ? -1 : 1));
    return Promise.resolve({
      checkpoint: p.checkpoint?.version,
      state: copy(p.checkpoint?.state),
      entity: copy(p.checkpoint?.entity),
      history: this.#history(p),
      tasks: [...p.tasks.values()].map(copy),
      messages: messages.filter((m) => !consumed.has(m.key)).map(copy),
      consumedMessageKeys: new Set([...consumed].filter((k): k is string => !!k)),
      leftoverMessageKeys: messages.filter((m) => consumed.has(m.key)).map((m) => m.key),
    });
  }

  readHistory(id: string): Promise<HistoryEvent[]> {
    return Promise.resolve(this.#history(this.#partition(id)));
  }

  /** The checkpoint moves only from the version the caller read. */
  #advance(p: Partition, checkpoint: string | undefined): string | false {
    if (p.checkpoint?.version !== checkpoint) return false;
    return String(++this.#versions);
  }

  commitEpisode(
    id: string,
    result: EpisodeResult,
    checkpoint: string | undefined,
  ): Promise<string | false> {
    const p = this.#partition(id);
    const version = this.#advance(p, checkpoint);
    if (version === false) return Promise.resolve(false);
    const { executionId } = result.state;
    result.events.forEach((event, i) => {
      const messageKey = result.messageKeys.get(event);
      p.history.set(result.historyStart + i, {
        executionId,
        event: copy(event),
        ...(messageKey ? { messageKey } : {}),
      });
    });
    for (const t of result.newTasks) p.tasks.set(t.key, { ...copy(t), executionId });
    for (const t of result.removedTasks) p.tasks.delete(t.key);
    for (const m of result.consumedMessages) p.messages.delete(m.key);
    p.checkpoint = { version, state: copy(result.state) };
    for (let i = 0; i < (result.discardedHistory ?? 0); i++) p.history.delete(i);
    return Promise.resolve(version);
  }

  commitEntity(
    id: string,
    entity: EntityState,
    consumed: readonly InboundMessage[],
    checkpoint: string | undefined,
  ): Promise<string | false> {
    const p = this.#partition(id);
    const version = this.#advance(p, checkpoint);
    if (version === false) return Promise.resolve(false);
    for (const m of consumed) p.messages.delete(m.key);
    p.checkpoint = { version, entity: copy(entity) };
    return Promise.resolve(version);
  }

  addMessage(id: string, m: InboundMessage): Promise<boolean> {
    const p = this.#partition(id);
    if (p.messages.has(m.key)) return Promise.resolve(false);
    p.messages.set(m.key, copy(m));
    return Promise.resolve(true);
  }

  putMessage(id: string, m: InboundMessage): Promise<void> {
    this.#partition(id).messages.set(m.key, copy(m));
    return Promise.resolve();
  }

  completeTask(id: string, taskKey: string, completion: Completion): Promise<boolean> {
    const t = this.#partition(id).tasks.get(taskKey);
    if (t) t.completion = copy(completion);
    return Promise.resolve(!!t);
  }

  removeWork(id: string, keys: readonly string[]): Promise<void> {
    const p = this.#partition(id);
    for (const k of keys) {
      p.tasks.delete(k);
      p.messages.delete(k);
    }
    return Promise.resolve();
  }

  purge(id: string): Promise<void> {
    this.#partitions.delete(id);
    this.#instances.delete(id);
    return Promise.resolve();
  }

  recoverableInstanceIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const [id, p] of this.#partitions) if (p.tasks.size || p.messages.size) ids.add(id);
    for (const [id, row] of this.#instances)
      if (['Pending', 'Running', 'Suspended', 'ContinuedAsNew'].includes(row.RuntimeStatus))
        ids.add(id);
    return Promise.resolve(ids);
  }
}
