// The migration read model and its audit trail in Table storage: one partition per account, so the status
// row and the audit rows of one change go in one batch transaction (R-OPS-2).
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { ValidationError } from '../errors.js';
import { AUDIT_PREFIX, auditRows, statusCode, tableClientFor, type AuditRow } from './tables.js';
import type {
  AuditEntry,
  KeyedAuditEntry,
  MigrationStatus,
  MigrationStatusValue,
  PendingStart,
} from '../domain/migration.js';

export type { AuditEntry };

const STATUS_ROW = 'status';

export interface MigrationStore {
  init(): Promise<void>;
  get(accountId: string): Promise<MigrationStatus | undefined>;
  /**
   * Writes the status (the orchestration owns the row once it runs) and inserts its audit entries
   * atomically. The audit is append-only: rows are inserted, never replaced. Writing the same batch
   * again (a retried activity) is a no-op; an entry whose key is taken by a different row is an error.
   */
  save(status: MigrationStatus, audit: KeyedAuditEntry[]): Promise<void>;
  /** Appends audit entries alone (e.g. a refused request), under the same rules. */
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

/** The start route's side of the status row: who creates it (the orchestration writes it afterwards). */
export interface StatusClaims {
  /**
   * The status with its ETag, for a conditional write (claim), and the claimed start while the
   * orchestration has not written the row yet (its first write drops it).
   */
  read(
    accountId: string,
  ): Promise<{ status: MigrationStatus; etag: string; start?: PendingStart } | undefined>;
  /**
   * Creates the status row of a new attempt, only if nobody else did: inserted when `etag` is undefined
   * (no row yet), replaced only if the row is still the version read (`etag`) otherwise. Undefined when
   * another writer won; the new row's ETag when this one did. `start` (no secrets) goes with it.
   */
  claim(
    status: MigrationStatus,
    etag: string | undefined,
    start?: PendingStart,
  ): Promise<string | undefined>;
  /**
   * Takes over a claimed start whose claimer never started it: a new lease, only if the row is still the
   * version read (`etag`). Of concurrent takers exactly one gets the new ETag; the others undefined.
   */
  takeOver(accountId: string, etag: string, leaseUntil: string): Promise<string | undefined>;
  /** Undoes a claim whose migration could not be started (only if the row is still the claimed one). */
  unclaim(accountId: string, previous: MigrationStatus | undefined, etag: string): Promise<void>;
}

/** Two audit rows under one key that say different things: an append-only trail never allows it. */
export class AuditKeyCollisionError extends Error {
  constructor(accountId: string, rowKey: string) {
    super(`Audit key ${rowKey} of ${accountId} is taken by a different entry`);
    this.name = 'AuditKeyCollisionError';
  }
}

const badToken = (): ValidationError =>
  new ValidationError('The continuation token is not valid: use one from a previous page.', [
    { path: 'continuationToken', message: 'not a token this API issued' },
  ]);

/**
 * A continuation token as the SDK makes them (base64 of `{nextPartitionKey, nextRowKey?}`), checked
 * before the SDK sees it: anything else is the caller's mistake (400), not our fault (500).
 */
function checkToken(
  token: string | undefined,
  ok: (t: { nextPartitionKey: string; nextRowKey?: string }) => boolean,
): string | undefined {
  if (token === undefined) return undefined;
  let decoded: unknown;
  try {
    if (!/^[A-Za-z0-9+/=_-]{1,2048}$/.test(token)) throw badToken();
    decoded = JSON.parse(Buffer.from(token, 'base64').toString('utf8')) as unknown;
  } catch {
    throw badToken();
  }
  const t = decoded as { nextPartitionKey?: unknown; nextRowKey?: unknown };
  if (
    typeof decoded !== 'object' ||
    decoded === null ||
    typeof t.nextPartitionKey !== 'string' ||
    (t.nextRowKey !== undefined && typeof t.nextRowKey !== 'string') ||
    !ok(t as { nextPartitionKey: string; nextRowKey?: string })
  )
    throw badToken();
  return token;
}

export class TableMigrationStore implements MigrationStore, StatusClaims {
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
    return (await this.read(accountId))?.status;
  }

  async read(
    accountId: string,
  ): Promise<{ status: MigrationStatus; etag: string; start?: PendingStart } | undefined> {
    await this.init();
    try {
      const row = await this.#table.getEntity<{
        Status: string;
        Start?: string;
        StartLease?: string;
      }>(accountId, STATUS_ROW);
      const status = JSON.parse(row.Status) as MigrationStatus;
      return row.Start && row.StartLease
        ? {
            status,
            etag: row.etag,
            start: {
              request: JSON.parse(row.Start) as PendingStart['request'],
              leaseUntil: row.StartLease,
            },
          }
        : { status, etag: row.etag };
    } catch (e) {
      if (statusCode(e) === 404) return undefined;
      throw e;
    }
  }

  #statusRow(status: MigrationStatus): {
    partitionKey: string;
    rowKey: string;
    Status: string;
    State: string;
    UpdatedAt: string;
  } {
    return {
      partitionKey: status.accountId,
      rowKey: STATUS_ROW,
      Status: JSON.stringify(status),
      State: status.status,
      UpdatedAt: status.updatedAt,
    };
  }

  async claim(
    status: MigrationStatus,
    etag: string | undefined,
    start?: PendingStart,
  ): Promise<string | undefined> {
    await this.init();
    const row = {
      ...this.#statusRow(status),
      ...(start ? { Start: JSON.stringify(start.request), StartLease: start.leaseUntil } : {}),
    };
    try {
      const res =
        etag === undefined
          ? await this.#table.createEntity(row)
          : await this.#table.updateEntity(row, 'Replace', { etag });
      return res.etag ?? '*';
    } catch (e) {
      // 409: a row appeared since we read none; 412: the row changed since we read it.
      if (statusCode(e) === 409 || statusCode(e) === 412) return undefined;
      throw e;
    }
  }

  async takeOver(accountId: string, etag: string, leaseUntil: string): Promise<string | undefined> {
    await this.init();
    try {
      const res = await this.#table.updateEntity(
        { partitionKey: accountId, rowKey: STATUS_ROW, StartLease: leaseUntil },
        'Merge',
        { etag },
      );
      return res.etag ?? '*';
    } catch (e) {
      if (statusCode(e) === 412 || statusCode(e) === 404) return undefined;
      throw e;
    }
  }

  async unclaim(
    accountId: string,
    previous: MigrationStatus | undefined,
    etag: string,
  ): Promise<void> {
    await this.init();
    try {
      if (previous) await this.#table.updateEntity(this.#statusRow(previous), 'Replace', { etag });
      else await this.#table.deleteEntity(accountId, STATUS_ROW, { etag });
    } catch (e) {
      // The orchestration got to write first after all: the row is its now.
      if (statusCode(e) !== 412 && statusCode(e) !== 404) throw e;
    }
  }

  /**
   * Submits one transaction whose audit rows are inserts. When an insert conflicts, the rows already
   * there decide: all of them the same as ours means this very transaction was applied before (a
   * retry), so nothing is written again; any other row under one of our keys is a collision.
   */
  async #submit(ops: TransactionAction[], rows: AuditRow[]): Promise<void> {
    try {
      await this.#table.submitTransaction(ops);
    } catch (e) {
      if (statusCode(e) !== 409 || rows.length === 0) throw e;
      const found = await Promise.all(
        rows.map((r) =>
          this.#table
            .getEntity<Omit<AuditRow, 'partitionKey' | 'rowKey'>>(r.partitionKey, r.rowKey)
            .catch((err: unknown) => {
              if (statusCode(err) === 404) return undefined;
              throw err;
            }),
        ),
      );
      rows.forEach((r, i) => {
        const f = found[i];
        const same =
          f !== undefined &&
          f.At === r.At &&
          f.Actor === r.Actor &&
          f.Action === r.Action &&
          f.Outcome === r.Outcome &&
          (f.Detail ?? undefined) === r.Detail;
        if (!same) throw new AuditKeyCollisionError(r.partitionKey, r.rowKey);
      });
    }
  }

  async save(status: MigrationStatus, audit: KeyedAuditEntry[]): Promise<void> {
    await this.init();
    const rows = auditRows(status.accountId, audit);
    const ops: TransactionAction[] = [
      ['upsert', this.#statusRow(status), 'Replace'],
      ...rows.map((r): TransactionAction => ['create', r]),
    ];
    for (let i = 0; i < ops.length; i += 100) {
      // The status is in the first chunk; each chunk's audit rows tell whether it was applied.
      const chunk = ops.slice(i, i + 100);
      await this.#submit(chunk, rows.slice(Math.max(0, i - 1), i + 99));
    }
  }

  async audit(accountId: string, audit: KeyedAuditEntry[]): Promise<void> {
    await this.init();
    const rows = auditRows(accountId, audit);
    for (let i = 0; i < rows.length; i += 100) {
      const chunk = rows.slice(i, i + 100);
      await this.#submit(
        chunk.map((r): TransactionAction => ['create', r]),
        chunk,
      );
    }
  }

  async listAudit(
    accountId: string,
    continuationToken?: string,
  ): Promise<{ items: AuditEntry[]; continuationToken?: string }> {
    await this.init();
    const token = checkToken(
      continuationToken,
      (t) => t.nextPartitionKey === accountId && (t.nextRowKey ?? '').startsWith(AUDIT_PREFIX),
    );
    const pages = this.#table
      .listEntities<Record<string, string>>({
        queryOptions: {
          filter: odata`PartitionKey eq ${accountId} and RowKey ge ${AUDIT_PREFIX} and RowKey lt ${'audit~~'}`,
        },
      })
      .byPage({ maxPageSize: 200, ...(token ? { continuationToken: token } : {}) });
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
    const token = checkToken(continuationToken, () => true);
    const filter = status
      ? odata`RowKey eq ${STATUS_ROW} and State eq ${status}`
      : odata`RowKey eq ${STATUS_ROW}`;
    const pages = this.#table
      .listEntities<{ Status: string }>({ queryOptions: { filter } })
      .byPage({ maxPageSize: 100, ...(token ? { continuationToken: token } : {}) });
    const page = (await pages.next()).value as
      ({ Status: string }[] & { continuationToken?: string }) | undefined;
    if (!page) return { items: [] };
    const items = page.map((r) => JSON.parse(r.Status) as MigrationStatus);
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }
}
