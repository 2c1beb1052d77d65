// The subject index (R-DUE-2): one row per unfinished subject (an account's migration, later its D365
// checklist), so that a reminder sweep reads what is unfinished and never all accounts. Fed by CPP's account
// listing (accounts that never started a migration) and kept current by every status change.
//
// Layout of the Subjects table: partitions `open~00`…`open~15` (a shard per hash of the account id, so a
// sweep fans out over shards) with rows `{kind}~{accountId}`; partition `meta` holds the CPP listing cursor.
import { createHash } from 'node:crypto';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import type { Language, SubjectSummary } from '../notify/messages.js';
import type { CppAccountSummary } from '../partners/adapters.js';
import { tableClientFor } from './tables.js';

export const SHARDS = 16;
export type SubjectKind = 'migration' | 'd365';

export interface Subject {
  kind: SubjectKind;
  accountId: string;
  displayName?: string;
  owners: string[];
  language: Language;
  summary: SubjectSummary;
  /** Finished: the sweep skips it and drops the row. */
  done: boolean;
  etag: string;
}

export interface SubjectPage {
  items: Subject[];
  continuationToken?: string;
}

export interface SubjectIndex {
  /** Applies a page of CPP's account listing: unfinished accounts in, migrated ones marked done. */
  applyCppAccounts(accounts: CppAccountSummary[], firstBuild: boolean): Promise<number>;
  /** Records a subject's state on every status change; `done` once it finished (R-DUE-2). */
  record(
    kind: SubjectKind,
    accountId: string,
    summary: SubjectSummary,
    done: boolean,
  ): Promise<void>;
  page(shard: number, continuationToken?: string): Promise<SubjectPage>;
  /** Drops rows that are finished, unless they changed since they were read. */
  drop(subjects: Subject[]): Promise<void>;
  cursor(): Promise<number>;
  setCursor(version: number): Promise<void>;
}

export function shardOf(accountId: string): number {
  return createHash('sha256').update(accountId).digest()[0]! % SHARDS;
}
const partition = (shard: number): string => `open~${String(shard).padStart(2, '0')}`;

interface Row {
  partitionKey: string;
  rowKey: string;
  etag: string;
  AccountId: string;
  Kind: SubjectKind;
  DisplayName?: string;
  Owners?: string;
  Language?: string;
  Summary?: string;
  Done?: boolean;
}

export class TableSubjectIndex implements SubjectIndex {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(connectionString: string, table = 'Subjects') {
    this.#table = tableClientFor(connectionString, table);
  }

  #init(): Promise<void> {
    this.#ready ??= this.#table.createTable();
    return this.#ready;
  }

  async applyCppAccounts(accounts: CppAccountSummary[], firstBuild: boolean): Promise<number> {
    await this.#init();
    const byShard = new Map<string, TransactionAction[]>();
    for (const a of accounts) {
      const pk = partition(shardOf(a.id));
      const ops = byShard.get(pk) ?? [];
      byShard.set(pk, ops);
      // R-D365 / R-DUE-2: an account with such offers has a checklist to finish, started or not. Merge:
      // the state its checklist records survives a refresh from CPP.
      if (a.d365Offers)
        ops.push([
          'upsert',
          {
            partitionKey: pk,
            rowKey: `d365~${a.id}`,
            AccountId: a.id,
            Kind: 'd365',
            DisplayName: a.displayName,
            Owners: a.owners.join(';'),
            Language: a.language ?? 'en',
          },
          'Merge',
        ]);
      // On the first build a migrated account has no migration row to close: leave it out.
      if (a.migrated && firstBuild) continue;
      // Merge: the summary written by status changes survives a refresh from CPP.
      ops.push([
        'upsert',
        {
          partitionKey: pk,
          rowKey: `migration~${a.id}`,
          AccountId: a.id,
          Kind: 'migration',
          DisplayName: a.displayName,
          Owners: a.owners.join(';'),
          Language: a.language ?? 'en',
          ...(a.migrated ? { Done: true } : {}),
        },
        'Merge',
      ]);
      byShard.set(pk, ops);
    }
    let written = 0;
    for (const ops of byShard.values())
      for (let i = 0; i < ops.length; i += 100) {
        const chunk = ops.slice(i, i + 100);
        await this.#table.submitTransaction(chunk);
        written += chunk.length;
      }
    return written;
  }

  async record(
    kind: SubjectKind,
    accountId: string,
    summary: SubjectSummary,
    done: boolean,
  ): Promise<void> {
    await this.#init();
    await this.#table.upsertEntity(
      {
        partitionKey: partition(shardOf(accountId)),
        rowKey: `${kind}~${accountId}`,
        AccountId: accountId,
        Kind: kind,
        Summary: JSON.stringify(summary),
        Done: done,
      },
      'Merge',
    );
  }

  async page(shard: number, continuationToken?: string): Promise<SubjectPage> {
    await this.#init();
    const pages = this.#table
      .listEntities<Row>({ queryOptions: { filter: odata`PartitionKey eq ${partition(shard)}` } })
      .byPage({ maxPageSize: 1000, ...(continuationToken ? { continuationToken } : {}) });
    const page = (await pages.next()).value as (Row[] & { continuationToken?: string }) | undefined;
    if (!page) return { items: [] };
    const items = page.map((r): Subject => ({
      kind: r.Kind,
      accountId: r.AccountId,
      ...(r.DisplayName ? { displayName: r.DisplayName } : {}),
      owners: r.Owners ? r.Owners.split(';').filter(Boolean) : [],
      language: r.Language === 'nl' ? 'nl' : 'en',
      summary: r.Summary
        ? (JSON.parse(r.Summary) as SubjectSummary)
        : r.Kind === 'd365'
          ? { kind: 'd365', status: 'not-started' }
          : { status: 'not-started' },
      done: r.Done === true,
      etag: r.etag,
    }));
    return page.continuationToken
      ? { items, continuationToken: page.continuationToken }
      : { items };
  }

  async drop(subjects: Subject[]): Promise<void> {
    await this.#init();
    await Promise.all(
      subjects.map((s) =>
        this.#table
          .deleteEntity(partition(shardOf(s.accountId)), `${s.kind}~${s.accountId}`, {
            etag: s.etag,
          })
          .catch((e: unknown) => {
            const code = (e as { statusCode?: number }).statusCode;
            if (code !== 404 && code !== 412) throw e;
          }),
      ),
    );
  }

  async cursor(): Promise<number> {
    await this.#init();
    try {
      const row = await this.#table.getEntity<{ Version: number }>('meta', 'cpp-cursor');
      return Number(row.Version) || 0;
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 404) return 0;
      throw e;
    }
  }

  async setCursor(version: number): Promise<void> {
    await this.#init();
    await this.#table.upsertEntity(
      { partitionKey: 'meta', rowKey: 'cpp-cursor', Version: version },
      'Replace',
    );
  }
}
