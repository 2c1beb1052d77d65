// The InstanceStore in Table storage: `<Hub>Instances` and `<Hub>History` laid out as the Azure Storage
// provider does (§12); one partition per instance holds its history, sentinel, task and message rows.
import {
  odata,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from '@azure/data-tables';
import { storageStatus, tableClient } from '../storage.js';
import {
  checkpointToRow,
  completionToRow,
  entityFromRow,
  entityToRow,
  escapePartitionKey,
  eventToRow,
  instanceFromEntity,
  instanceToEntity,
  messageFromRow,
  messageToRow,
  ordinalKey,
  rowToEvent,
  SENTINEL,
  stateFromCheckpoint,
  taskFromRow,
  taskToRow,
  unescapePartitionKey as unescape,
} from './codec.js';
import type { HistoryEvent } from './history.js';
import type { InstanceQuery, InstanceStore, LoadedInstance } from './instanceStore.js';
import {
  MESSAGE_PREFIX,
  TASK_PREFIX,
  type Completion,
  type EntityState,
  type EpisodeResult,
  type InboundMessage,
  type InstanceRow,
} from './model.js';

type Op = TransactionAction;
type Row = Record<string, unknown> & { rowKey: string; etag: string };

/** Batch transactions hold at most 100 operations, all in one partition. */
const MAX_BATCH = 100;

interface PartitionRows {
  sentinel: Row | undefined;
  history: Row[];
  tasks: Row[];
  messages: Row[];
}

/** The committed history rows of the execution the sentinel names, in order. */
function currentHistory(rows: PartitionRows, executionId: unknown, count: number): HistoryEvent[] {
  return rows.history
    .filter((r) => r.ExecutionId === executionId && parseInt(r.rowKey, 16) < count)
    .map(rowToEvent);
}

/** The OData filter of a listing; entities (ids starting with '@') share the tables and are left out. */
function odataFilter(q: InstanceQuery): string {
  const quote = (s: string): string => `'${s.replace(/'/g, "''")}'`;
  const parts = ["(PartitionKey lt '@' or PartitionKey ge 'A')"];
  if (q.createdTimeFrom) parts.push(`CreatedTime ge datetime'${q.createdTimeFrom.toISOString()}'`);
  if (q.createdTimeTo) parts.push(`CreatedTime le datetime'${q.createdTimeTo.toISOString()}'`);
  if (q.runtimeStatus?.length)
    parts.push(`(${q.runtimeStatus.map((s) => `RuntimeStatus eq ${quote(s)}`).join(' or ')})`);
  if (q.instanceIdPrefix) {
    const p = escapePartitionKey(q.instanceIdPrefix);
    parts.push(`PartitionKey ge ${quote(p)} and PartitionKey lt ${quote(p + '\uffff')}`);
  }
  return parts.join(' and ');
}

export class TableInstanceStore implements InstanceStore {
  readonly #instances: TableClient;
  readonly #history: TableClient;

  constructor(
    connectionString: string,
    readonly hubName: string,
  ) {
    this.#instances = tableClient(connectionString, `${hubName}Instances`);
    this.#history = tableClient(connectionString, `${hubName}History`);
  }

  async init(): Promise<void> {
    await Promise.all([this.#instances.createTable(), this.#history.createTable()]);
  }

  #pk(id: string): string {
    return escapePartitionKey(id);
  }

  async getInstance(id: string): Promise<InstanceRow | undefined> {
    try {
      return instanceFromEntity(await this.#instances.getEntity(this.#pk(id), ''));
    } catch (e) {
      if (storageStatus(e) === 404) return undefined;
      throw e;
    }
  }

  async createInstance(id: string, row: InstanceRow): Promise<boolean> {
    try {
      await this.#instances.createEntity({
        partitionKey: this.#pk(id),
        rowKey: '',
        ...instanceToEntity(row),
      });
      return true;
    } catch (e) {
      if (storageStatus(e) === 409) return false;
      throw e;
    }
  }

  async putInstance(id: string, row: InstanceRow): Promise<void> {
    const entity = { partitionKey: this.#pk(id), rowKey: '', ...instanceToEntity(row) };
    await this.#instances.upsertEntity(entity, 'Replace');
  }

  async listInstances(
    query: InstanceQuery,
    pageSize: number,
    continuationToken: string | undefined,
  ): Promise<{ instances: { id: string; row: InstanceRow }[]; continuationToken?: string }> {
    const pages = this.#instances
      .listEntities<Record<string, unknown>>({ queryOptions: { filter: odataFilter(query) } })
      .byPage({ maxPageSize: pageSize, ...(continuationToken ? { continuationToken } : {}) });
    const next = await pages.next();
    if (next.done) return { instances: [] };
    const page = next.value;
    const instances = page.map((e) => ({
      id: unescape(String(e.partitionKey)),
      row: instanceFromEntity(e),
    }));
    return page.continuationToken
      ? { instances, continuationToken: page.continuationToken }
      : { instances };
  }

  /** Every row of an instance's partition, sorted into sentinel, history, tasks and messages. */
  async #partition(id: string): Promise<PartitionRows> {
    const out: PartitionRows = { sentinel: undefined, history: [], tasks: [], messages: [] };
    const rows = this.#history.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${this.#pk(id)}` },
    });
    for await (const r of rows) {
      const row = r as Row;
      if (row.rowKey === SENTINEL) out.sentinel = row;
      else if (row.rowKey.startsWith(TASK_PREFIX)) out.tasks.push(row);
      else if (row.rowKey.startsWith(MESSAGE_PREFIX)) out.messages.push(row);
      else out.history.push(row);
    }
    out.history.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    out.messages.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    return out;
  }

  async loadInstance(id: string): Promise<LoadedInstance> {
    const rows = await this.#partition(id);
    const state = rows.sentinel ? stateFromCheckpoint(rows.sentinel) : undefined;
    const consumed = new Set<string>();
    for (const r of rows.history)
      if (typeof r._xMessageKey === 'string') consumed.add(r._xMessageKey);
    return {
      checkpoint: rows.sentinel?.etag,
      state,
      entity: rows.sentinel ? entityFromRow(rows.sentinel) : undefined,
      history: state ? currentHistory(rows, state.executionId, state.historyLength) : [],
      tasks: rows.tasks.map(taskFromRow),
      messages: rows.messages.filter((r) => !consumed.has(r.rowKey)).map(messageFromRow),
      consumedMessageKeys: consumed,
      leftoverMessageKeys: rows.messages.filter((r) => consumed.has(r.rowKey)).map((r) => r.rowKey),
    };
  }

  async readHistory(id: string): Promise<HistoryEvent[]> {
    const rows = await this.#partition(id);
    const count = Number(rows.sentinel?.HistoryCount ?? 0);
    return currentHistory(rows, rows.sentinel?.ExecutionId, count);
  }

  #sentinelOp(props: Record<string, unknown>, checkpoint: string | undefined, pk: string): Op {
    const sentinel: TableEntity = { partitionKey: pk, rowKey: SENTINEL, ...props };
    return checkpoint
      ? ['update', sentinel, 'Replace', { etag: checkpoint }]
      : ['create', sentinel];
  }

  /**
   * History rows, new task rows and the sentinel (with the state) in one partition, in batches of 100
   * with the sentinel last; consumed rows are deleted in the same batch when it fits, else right after
   * (recovery recognises them by what the history holds). continueAsNew's old rows go last.
   */
  async commitEpisode(
    id: string,
    result: EpisodeResult,
    checkpoint: string | undefined,
  ): Promise<string | false> {
    const pk = this.#pk(id);
    const { state } = result;
    const ops: Op[] = result.events.map((e, i) => {
      const key = result.messageKeys.get(e);
      const extra = key ? { _xMessageKey: key } : {};
      const row = eventToRow(e, state.executionId, extra);
      return [
        'upsert',
        { partitionKey: pk, rowKey: ordinalKey(result.historyStart + i), ...row },
        'Replace',
      ];
    });
    for (const t of result.newTasks)
      ops.push([
        'upsert',
        { partitionKey: pk, rowKey: t.key, ...taskToRow(t, state.executionId) },
        'Replace',
      ]);
    const deletes = [
      ...result.removedTasks.map((t) => t.key),
      ...result.consumedMessages.map((m) => m.key),
    ];
    const sentinel = this.#sentinelOp(checkpointToRow(state, result.at), checkpoint, pk);
    const etag = await this.#submitWithDeletes(id, ops, deletes, sentinel);
    if (etag !== false && result.discardedHistory) {
      const old = Array.from({ length: result.discardedHistory }, (_, i) => ordinalKey(i));
      await this.#deleteRows(id, old);
    }
    return etag;
  }

  async commitEntity(
    id: string,
    entity: EntityState,
    consumed: readonly InboundMessage[],
    checkpoint: string | undefined,
  ): Promise<string | false> {
    const sentinel = this.#sentinelOp(entityToRow(entity), checkpoint, this.#pk(id));
    return this.#submitWithDeletes(
      id,
      [],
      consumed.map((m) => m.key),
      sentinel,
    );
  }

  async #submitWithDeletes(
    id: string,
    ops: Op[],
    deletes: string[],
    sentinel: Op,
  ): Promise<string | false> {
    const together = ops.length + deletes.length + 1 <= MAX_BATCH;
    const deleteOps: Op[] = deletes.map((rowKey) => [
      'delete',
      { partitionKey: this.#pk(id), rowKey },
    ]);
    const etag = await this.#submit(together ? [...ops, ...deleteOps] : ops, sentinel);
    if (etag !== false && !together && deletes.length) await this.#deleteRows(id, deletes);
    return etag;
  }

  /**
   * Writes operations on one partition: chunks of at most 100, the chunk holding `sentinel` last so
   * that the sentinel's ETag guards the whole episode. Returns the sentinel's new ETag, or false on 412/409.
   */
  async #submit(ops: Op[], sentinelOp: Op): Promise<string | false> {
    const all = [...ops, sentinelOp];
    let etag: string | false = '';
    for (let i = 0; i < all.length; i += MAX_BATCH) {
      const chunk = all.slice(i, i + MAX_BATCH);
      try {
        const res = await this.#history.submitTransaction(chunk);
        const sentinelIndex = chunk.indexOf(sentinelOp);
        if (sentinelIndex >= 0) etag = res.subResponses[sentinelIndex]?.etag ?? '';
      } catch (e) {
        const status = storageStatus(e);
        if (status === 412 || status === 409 || status === 404) return false;
        throw e;
      }
    }
    return etag;
  }

  async addMessage(id: string, m: InboundMessage): Promise<boolean> {
    try {
      await this.#history.createEntity({
        partitionKey: this.#pk(id),
        rowKey: m.key,
        ...messageToRow(m),
      });
      return true;
    } catch (e) {
      if (storageStatus(e) === 409) return false;
      throw e;
    }
  }

  async putMessage(id: string, m: InboundMessage): Promise<void> {
    const entity = { partitionKey: this.#pk(id), rowKey: m.key, ...messageToRow(m) };
    await this.#history.upsertEntity(entity, 'Merge');
  }

  async completeTask(id: string, taskKey: string, completion: Completion): Promise<boolean> {
    try {
      const entity = {
        partitionKey: this.#pk(id),
        rowKey: taskKey,
        ...completionToRow(completion),
      };
      await this.#history.updateEntity(entity, 'Merge', { etag: '*' });
      return true;
    } catch (e) {
      if (storageStatus(e) === 404) return false;
      throw e;
    }
  }

  removeWork(id: string, keys: readonly string[]): Promise<void> {
    return this.#deleteRows(id, keys);
  }

  async #deleteRows(id: string, rowKeys: readonly string[]): Promise<void> {
    const pk = this.#pk(id);
    for (let i = 0; i < rowKeys.length; i += MAX_BATCH) {
      const chunk = rowKeys.slice(i, i + MAX_BATCH);
      const ops: Op[] = chunk.map((rowKey) => ['delete', { partitionKey: pk, rowKey }]);
      try {
        await this.#history.submitTransaction(ops);
      } catch (e) {
        // A row already gone fails the batch: fall back to one by one, ignoring the missing.
        if (storageStatus(e) !== 404) throw e;
        for (const rowKey of chunk) {
          await this.#history.deleteEntity(pk, rowKey).catch((err: unknown) => {
            if (storageStatus(err) !== 404) throw err;
          });
        }
      }
    }
  }

  async purge(id: string): Promise<void> {
    const rows = await this.#partition(id);
    const keys = [
      ...rows.history,
      ...rows.tasks,
      ...rows.messages,
      ...(rows.sentinel ? [rows.sentinel] : []),
    ];
    await this.#deleteRows(
      id,
      keys.map((r) => r.rowKey),
    );
    try {
      await this.#instances.deleteEntity(this.#pk(id), '');
    } catch (e) {
      if (storageStatus(e) !== 404) throw e;
    }
  }

  async recoverableInstanceIds(): Promise<Set<string>> {
    const ids = new Set<string>();
    const work = this.#history.listEntities<TableEntity>({
      queryOptions: { filter: odata`RowKey ge ${'~'}`, select: ['PartitionKey', 'RowKey'] },
    });
    for await (const r of work) ids.add(unescape(String(r.partitionKey)));
    const open = this.#instances.listEntities<TableEntity>({
      queryOptions: {
        filter:
          "RuntimeStatus eq 'Pending' or RuntimeStatus eq 'Running' or RuntimeStatus eq 'Suspended' or RuntimeStatus eq 'ContinuedAsNew'",
        select: ['PartitionKey'],
      },
    });
    for await (const r of open) ids.add(unescape(String(r.partitionKey)));
    return ids;
  }
}
