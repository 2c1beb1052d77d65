// The migration read model and its audit trail in Table storage: one partition per account, so the status
// row and the audit rows of one change go in one batch transaction (R-OPS-2).
import {
  odata,
  type TableClient,
  type TableTransactionEntityResponse,
  type TransactionAction,
} from '@azure/data-tables';
import { tableClientFor } from './tables.js';
import type {
  AuditEntry,
  KeyedAuditEntry,
  MigrationStatus,
  MigrationStatusValue,
} from '../domain/migration.js';

export type { AuditEntry };

const STATUS_ROW = 'status';
const AUDIT_PREFIX = 'audit~';

export interface MigrationStore {
  init(): Promise<void>;
  get(accountId: string): Promise<MigrationStatus | undefined>;
  /** Writes the status and its audit entries atomically; entries with the same key are written once. */
  save(status: MigrationStatus, audit: KeyedAuditEntry[]): Promise<void>;
  /** Appends audit entries alone (e.g. a refused request). */
  audit(accountId: string, audit: KeyedAuditEntry[]): Promise<void>;
  listAudit(
    accountId: string,
    continuationToken?: string,
  ): Promise<{ items: AuditEntry[]; continuationToken?: string }>;
  list(
    status: MigrationStatusValue | undefined,
    continuationToken?: string,
  ): Promise<{ items: MigrationStatus[]; continuationToken?: string }>;
}

export class TableMigrationStore implements MigrationStore {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(connectionString: string, tableName = 'Migrations') {
    this.#table = tableClientFor(connectionString, tableName);
  }

  /** Creates the table once per process, on first use. */
  init(): Promise<void> {
    this.#ready ??= this.#table.createTable();
    return this.#ready;
  }

  async get(accountId: string): Promise<MigrationStatus | undefined> {
    await this.init();
    try {
      const row = await this.#table.getEntity<{ Status: string }>(accountId, STATUS_ROW);
      return JSON.parse(row.Status) as MigrationStatus;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw e;
    }
  }

  #auditOps(accountId: string, audit: KeyedAuditEntry[]): TransactionAction[] {
    return audit.map((a) => [
      'upsert',
      {
        partitionKey: accountId,
        rowKey: `${AUDIT_PREFIX}${a.key}`,
        At: a.at,
        Actor: a.actor,
        Action: a.action,
        Outcome: a.outcome,
        ...(a.detail ? { Detail: a.detail } : {}),
      },
      'Replace',
    ]);
  }

  async save(status: MigrationStatus, audit: KeyedAuditEntry[]): Promise<void> {
    await this.init();
    const ops: TransactionAction[] = [
      [
        'upsert',
        {
          partitionKey: status.accountId,
          rowKey: STATUS_ROW,
          Status: JSON.stringify(status),
          State: status.status,
          UpdatedAt: status.updatedAt,
        },
        'Replace',
      ],
      ...this.#auditOps(status.accountId, audit),
    ];
    for (let i = 0; i < ops.length; i += 100) {
      const res: { subResponses: TableTransactionEntityResponse[] } =
        await this.#table.submitTransaction(ops.slice(i, i + 100));
      void res;
    }
  }

  async audit(accountId: string, audit: KeyedAuditEntry[]): Promise<void> {
    await this.init();
    if (audit.length) await this.#table.submitTransaction(this.#auditOps(accountId, audit));
  }

  async listAudit(
    accountId: string,
    continuationToken?: string,
  ): Promise<{ items: AuditEntry[]; continuationToken?: string }> {
    await this.init();
    const pages = this.#table
      .listEntities<Record<string, string>>({
        queryOptions: {
          filter: odata`PartitionKey eq ${accountId} and RowKey ge ${AUDIT_PREFIX} and RowKey lt ${'audit~~'}`,
        },
      })
      .byPage({ maxPageSize: 200, ...(continuationToken ? { continuationToken } : {}) });
    const page = (await pages.next()).value as
      (Record<string, string>[] & { continuationToken?: string }) | undefined;
    if (!page) return { items: [] };
    const items = page.map((r) => ({
      at: r.At ?? '',
      actor: r.Actor ?? '',
      action: r.Action ?? '',
      outcome: r.Outcome ?? '',
      ...(r.Detail ? { detail: r.Detail } : {}),
    }));
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }

  async list(
    status: MigrationStatusValue | undefined,
    continuationToken?: string,
  ): Promise<{ items: MigrationStatus[]; continuationToken?: string }> {
    await this.init();
    const filter = status
      ? odata`RowKey eq ${STATUS_ROW} and State eq ${status}`
      : odata`RowKey eq ${STATUS_ROW}`;
    const pages = this.#table
      .listEntities<{ Status: string }>({ queryOptions: { filter } })
      .byPage({ maxPageSize: 100, ...(continuationToken ? { continuationToken } : {}) });
    const page = (await pages.next()).value as
      ({ Status: string }[] & { continuationToken?: string }) | undefined;
    if (!page) return { items: [] };
    const items = page.map((r) => JSON.parse(r.Status) as MigrationStatus);
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }
}
