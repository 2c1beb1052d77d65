// The decision that ends an attempt's copying, written once per attempt (R-COPY-3, api.md cancel): a cancel
// (from the cancel route) or a stop (a failed copy) races the switch-over, and the first one written wins.
import type { TableClient } from '@azure/data-tables';
import type { GateDecision } from '../domain/migration.js';
import { tableClientFor } from './tables.js';

export type { GateDecision };

export interface AttemptGate {
  /**
   * Records `decision` for the attempt unless one is there (insert-if-absent), and answers the one that
   * holds: the caller's own when it won, or the earlier one. Safe to repeat: retries and replays agree.
   */
  decide(
    accountId: string,
    attempt: number,
    decision: GateDecision,
    by: string,
  ): Promise<GateDecision>;
  /** The decision so far, if any: copies read it between batches and stop once there is one. */
  read(accountId: string, attempt: number): Promise<GateDecision | undefined>;
}

const rowKey = (attempt: number): string => `gate~${String(attempt).padStart(3, '0')}`;

/** The gate as one row per attempt in the migrations table, beside the account's status row. */
export class TableAttemptGate implements AttemptGate {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(connectionString: string, tableName = 'Migrations') {
    this.#table = tableClientFor(connectionString, tableName);
  }

  #init(): Promise<void> {
    this.#ready ??= this.#table.createTable();
    return this.#ready;
  }

  async decide(
    accountId: string,
    attempt: number,
    decision: GateDecision,
    by: string,
  ): Promise<GateDecision> {
    await this.#init();
    try {
      await this.#table.createEntity({
        partitionKey: accountId,
        rowKey: rowKey(attempt),
        Decision: decision,
        By: by,
        At: new Date().toISOString(),
      });
      return decision;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
      const held = await this.read(accountId, attempt);
      if (!held) throw e;
      return held;
    }
  }

  async read(accountId: string, attempt: number): Promise<GateDecision | undefined> {
    await this.#init();
    try {
      const row = await this.#table.getEntity<{ Decision: GateDecision }>(
        accountId,
        rowKey(attempt),
      );
      return row.Decision;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return undefined;
      throw e;
    }
  }
}
