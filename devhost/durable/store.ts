// Durable state in Table storage: `<Hub>Instances` and `<Hub>History` laid out as the Azure Storage provider does.
import {
  odata,
  type TableClient,
  type TableEntity,
  type TransactionAction,
} from '@azure/data-tables';
import { storageStatus, tableClient } from '../storage.js';
import { escapePartitionKey, unescapePartitionKey as unescape } from './history.js';
import type { RuntimeStatus } from './types.js';

export const SENTINEL = 'sentinel';
/** Rows of pending work (`~t~…`) and inbound messages (`~m~…`) sort after history and the sentinel. */
export const TASK_PREFIX = '~t~';
export const MESSAGE_PREFIX = '~m~';

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

export interface PartitionRows {
  sentinel: (Record<string, unknown> & { etag: string }) | undefined;
  history: Record<string, unknown>[];
  tasks: (Record<string, unknown> & { rowKey: string; etag: string })[];
  messages: (Record<string, unknown> & { rowKey: string; etag: string })[];
}

export type Op = TransactionAction;

/** Batch transactions hold at most 100 operations, all in one partition. */
const MAX_BATCH = 100;

function toRow(row: InstanceRow): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== null && v !== undefined) out[k] = v;
  return out;
}

export class DurableStore {
  readonly instances: TableClient;
  readonly history: TableClient;

  constructor(
    connectionString: string,
    readonly hubName: string,
  ) {
    this.instances = tableClient(connectionString, `${hubName}Instances`);
    this.history = tableClient(connectionString, `${hubName}History`);
  }

  async init(): Promise<void> {
    await Promise.all([this.instances.createTable(), this.history.createTable()]);
  }

  pk(instanceId: string): string {
    return escapePartitionKey(instanceId);
  }

  async getInstance(id: string): Promise<(InstanceRow & { etag: string }) | undefined> {
    try {
      const e = await this.instances.getEntity<Record<string, unknown>>(this.pk(id), '');
      return fromInstanceEntity(e);
    } catch (e) {
      if (storageStatus(e) === 404) return undefined;
      throw e;
    }
  }

  /** Creates the row; returns false when it already exists. */
  async createInstance(id: string, row: InstanceRow): Promise<boolean> {
    try {
      await this.instances.createEntity({ partitionKey: this.pk(id), rowKey: '', ...toRow(row) });
      return true;
    } catch (e) {
      if (storageStatus(e) === 409) return false;
      throw e;
    }
  }

  /** Replaces the row, guarded by `etag` when given (412 → false). */
  async putInstance(id: string, row: InstanceRow, etag?: string): Promise<string | false> {
    try {
      const entity = { partitionKey: this.pk(id), rowKey: '', ...toRow(row) };
      const res = etag
        ? await this.instances.updateEntity(entity, 'Replace', { etag })
        : await this.instances.upsertEntity(entity, 'Replace');
      return res.etag ?? '';
    } catch (e) {
      if (storageStatus(e) === 412 || storageStatus(e) === 404) return false;
      throw e;
    }
  }

  async deleteInstance(id: string): Promise<void> {
    try {
      await this.instances.deleteEntity(this.pk(id), '');
    } catch (e) {
      if (storageStatus(e) !== 404) throw e;
    }
  }

  /** Lists instance rows page by page with an OData filter. */
  async listInstances(
    filter: string | undefined,
    top: number | undefined,
    continuationToken: string | undefined,
  ): Promise<{ rows: (InstanceRow & { id: string })[]; continuationToken?: string }> {
    const pages = this.instances
      .listEntities<Record<string, unknown>>({ queryOptions: filter ? { filter } : {} })
      .byPage({ maxPageSize: top ?? 100, ...(continuationToken ? { continuationToken } : {}) });
    const next = await pages.next();
    if (next.done) return { rows: [] };
    const page = next.value;
    const rows = page.map((e) => ({
      ...fromInstanceEntity(e),
      id: unescape(String(e.partitionKey)),
    }));
    return page.continuationToken ? { rows, continuationToken: page.continuationToken } : { rows };
  }

  /** Every row of an instance's history partition, sorted into sentinel, history, tasks and messages. */
  async loadPartition(id: string): Promise<PartitionRows> {
    const out: PartitionRows = { sentinel: undefined, history: [], tasks: [], messages: [] };
    const rows = this.history.listEntities<Record<string, unknown>>({
      queryOptions: { filter: odata`PartitionKey eq ${this.pk(id)}` },
    });
    for await (const r of rows) {
      const key = String(r.rowKey);
      const row = r as Record<string, unknown> & { rowKey: string; etag: string };
      if (key === SENTINEL) out.sentinel = row;
      else if (key.startsWith(TASK_PREFIX)) out.tasks.push(row);
      else if (key.startsWith(MESSAGE_PREFIX)) out.messages.push(row);
      else out.history.push(row);
    }
    out.history.sort((a, b) => (String(a.rowKey) < String(b.rowKey) ? -1 : 1));
    out.messages.sort((a, b) => (a.rowKey < b.rowKey ? -1 : 1));
    return out;
  }

  /**
   * Writes operations on one partition: chunks of at most 100, the chunk holding `sentinel` last so
   * that the sentinel's ETag guards the whole episode. Returns the sentinel's new ETag, or false on 412/409.
   */
  async submit(id: string, ops: Op[], sentinelOp: Op | undefined): Promise<string | false> {
    const all = sentinelOp ? [...ops, sentinelOp] : ops;
    const chunks: Op[][] = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) chunks.push(all.slice(i, i + MAX_BATCH));
    let etag: string | false = '';
    for (const chunk of chunks) {
      try {
        const res = await this.history.submitTransaction(chunk);
        const sentinelIndex = sentinelOp ? chunk.indexOf(sentinelOp) : -1;
        if (sentinelIndex >= 0) etag = res.subResponses[sentinelIndex]?.etag ?? '';
      } catch (e) {
        const status = storageStatus(e);
        if (status === 412 || status === 409 || status === 404) return false;
        throw e;
      }
    }
    return etag;
  }

  async insertMessage(
    id: string,
    rowKey: string,
    props: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.history.createEntity({ partitionKey: this.pk(id), rowKey, ...props });
      return true;
    } catch (e) {
      if (storageStatus(e) === 409) return false;
      throw e;
    }
  }

  async upsertRow(id: string, rowKey: string, props: Record<string, unknown>): Promise<void> {
    await this.history.upsertEntity({ partitionKey: this.pk(id), rowKey, ...props }, 'Merge');
  }

  /** Merges fields into an existing row; false if the row is gone. */
  async mergeRow(id: string, rowKey: string, props: Record<string, unknown>): Promise<boolean> {
    try {
      await this.history.updateEntity({ partitionKey: this.pk(id), rowKey, ...props }, 'Merge', {
        etag: '*',
      });
      return true;
    } catch (e) {
      if (storageStatus(e) === 404) return false;
      throw e;
    }
  }

  async deleteRows(id: string, rowKeys: string[]): Promise<void> {
    for (let i = 0; i < rowKeys.length; i += MAX_BATCH) {
      const chunk = rowKeys.slice(i, i + MAX_BATCH);
      const ops: Op[] = chunk.map((rowKey) => ['delete', { partitionKey: this.pk(id), rowKey }]);
      try {
        await this.history.submitTransaction(ops);
      } catch (e) {
        // A row already gone fails the batch: fall back to one by one, ignoring the missing.
        if (storageStatus(e) !== 404) throw e;
        for (const rowKey of chunk) {
          await this.history.deleteEntity(this.pk(id), rowKey).catch((err: unknown) => {
            if (storageStatus(err) !== 404) throw err;
          });
        }
      }
    }
  }

  /** Deletes a whole history partition (purge). */
  async deletePartition(id: string): Promise<void> {
    const rows = await this.loadPartition(id);
    const keys = [
      ...rows.history.map((r) => String(r.rowKey)),
      ...rows.tasks.map((r) => r.rowKey),
      ...rows.messages.map((r) => r.rowKey),
      ...(rows.sentinel ? [SENTINEL] : []),
    ];
    await this.deleteRows(id, keys);
  }

  /** Instance ids that may have work left: pending work rows and non-terminal instances (for recovery). */
  async scanForRecovery(): Promise<Set<string>> {
    const ids = new Set<string>();
    const work = this.history.listEntities<TableEntity>({
      queryOptions: { filter: odata`RowKey ge ${'~'}`, select: ['PartitionKey', 'RowKey'] },
    });
    for await (const r of work) ids.add(unescape(String(r.partitionKey)));
    const open = this.instances.listEntities<TableEntity>({
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

/** A string property, or the fallback when absent or of another type. */
export function text(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function fromInstanceEntity(e: Record<string, unknown>): InstanceRow & { etag: string } {
  const date = (v: unknown): Date | null =>
    v instanceof Date ? v : typeof v === 'string' ? new Date(v) : null;
  return {
    Name: text(e.Name),
    Version: text(e.Version),
    Input: typeof e.Input === 'string' ? e.Input : null,
    Output: typeof e.Output === 'string' ? e.Output : null,
    CustomStatus: typeof e.CustomStatus === 'string' ? e.CustomStatus : 'null',
    RuntimeStatus: text(e.RuntimeStatus, 'Pending') as RuntimeStatus,
    CreatedTime: date(e.CreatedTime) ?? new Date(0),
    LastUpdatedTime: date(e.LastUpdatedTime) ?? new Date(0),
    CompletedTime: date(e.CompletedTime),
    ExecutionId: text(e.ExecutionId),
    TaskHubName: text(e.TaskHubName),
    Generation: Number(e.Generation ?? 0),
    ParentInstanceId: typeof e.ParentInstanceId === 'string' ? e.ParentInstanceId : null,
    ParentExecutionId: typeof e.ParentExecutionId === 'string' ? e.ParentExecutionId : null,
    ParentTaskScheduledId:
      typeof e.ParentTaskScheduledId === 'number' ? e.ParentTaskScheduledId : null,
    ParentName: typeof e.ParentName === 'string' ? e.ParentName : null,
    etag: text(e.etag),
  };
}
