// The D365 checklist read model and its audit trail (R-D365, R-OPS-2), in Table storage: one row per account
// (`checklist`), each offer in a property of its own (`O000`, `O001`, …) so that the per-offer workflows
// write side by side (Merge) without conflicts, and the route answers with one point read. Audit rows
// (`audit~…`) share the partition and go in the same batch transaction as the change they record.
import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { KeyedAuditEntry } from '../domain/migration.js';
import type {
  ChecklistChange,
  ChecklistOffer,
  ChecklistRecord,
  ChecklistStep,
} from '../domain/d365.js';
import { auditRows, statusCode, tableClientFor } from './tables.js';

const ROW = 'checklist';
const offerProp = (index: number): string => `O${String(index).padStart(3, '0')}`;

export type { ChecklistChange };

export interface ChecklistStore {
  get(accountId: string): Promise<ChecklistRecord | undefined>;
  /** Merges a change into the row and appends its audit rows, in one transaction; a retry is a no-op. */
  save(accountId: string, change: ChecklistChange, audit: KeyedAuditEntry[]): Promise<void>;
  /** Appends audit rows alone (a request), never touching the checklist row. */
  audit(accountId: string, audit: KeyedAuditEntry[]): Promise<void>;
  listAudit(accountId: string): Promise<KeyedAuditEntry[]>;
}

export class TableChecklistStore implements ChecklistStore {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(connectionString: string, tableName = 'Checklists') {
    this.#table = tableClientFor(connectionString, tableName);
  }

  #init(): Promise<void> {
    this.#ready ??= this.#table.createTable();
    return this.#ready;
  }

  async get(accountId: string): Promise<ChecklistRecord | undefined> {
    await this.#init();
    let row: Record<string, string>;
    try {
      row = await this.#table.getEntity<Record<string, string>>(accountId, ROW);
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
    const offers = Object.keys(row)
      .filter((k) => /^O\d{3}$/.test(k))
      .sort()
      .map((k) => JSON.parse(row[k]!) as ChecklistOffer);
    return {
      accountId,
      steps: JSON.parse(row.Steps ?? '[]') as ChecklistStep[],
      offers,
      createdAt: row.CreatedAt ?? '',
      updatedAt: row.UpdatedAt ?? '',
    };
  }

  async audit(accountId: string, audit: KeyedAuditEntry[]): Promise<void> {
    await this.#init();
    for (const row of auditRows(accountId, audit))
      await this.#table.createEntity(row).catch((e: unknown) => {
        if (statusCode(e) !== 409) throw e;
      });
  }

  async save(accountId: string, change: ChecklistChange, audit: KeyedAuditEntry[]): Promise<void> {
    await this.#init();
    const entity: Record<string, unknown> = {
      partitionKey: accountId,
      rowKey: ROW,
      UpdatedAt: change.updatedAt,
      ...(change.createdAt ? { CreatedAt: change.createdAt } : {}),
      ...(change.steps ? { Steps: JSON.stringify(change.steps) } : {}),
    };
    for (const o of change.offers ?? []) entity[offerProp(o.index)] = JSON.stringify(o.offer);
    const rows = auditRows(accountId, audit);
    const ops: TransactionAction[] = [
      ['upsert', entity as { partitionKey: string; rowKey: string }, 'Merge'],
      ...rows.slice(0, 99).map((r): TransactionAction => ['create', r]),
    ];
    try {
      await this.#table.submitTransaction(ops);
    } catch (e) {
      // 409 on an audit insert: this very change was applied before (a retried activity).
      if (statusCode(e) !== 409 || rows.length === 0) throw e;
      await this.#table.getEntity(accountId, rows[0]!.rowKey);
    }
    for (const r of rows.slice(99))
      await this.#table.createEntity(r).catch((e: unknown) => {
        if (statusCode(e) !== 409) throw e;
      });
  }

  async listAudit(accountId: string): Promise<KeyedAuditEntry[]> {
    await this.#init();
    const out: KeyedAuditEntry[] = [];
    for await (const r of this.#table.listEntities<Record<string, string>>({
      queryOptions: {
        filter: `PartitionKey eq '${accountId.replace(/'/g, "''")}' and RowKey ge 'audit~' and RowKey lt 'audit~~'`,
      },
    }))
      out.push({
        key: String(r.rowKey).slice(6),
        at: r.At ?? '',
        actor: r.Actor ?? '',
        action: r.Action ?? '',
        outcome: r.Outcome ?? '',
        ...(r.Detail ? { detail: r.Detail } : {}),
      });
    return out;
  }
}
