// The outbox (R-DUE-2, R-COPY-5): mail is queued in Table storage under a deterministic key, in the same
// batch as its ledger row, and a sender drains it through the MailSender port, with backoff on failure.
//
// Layout of the Outbox table: a partition per bucket (a reminder slot, or one account's own mail) holding
// `mail~{id}` rows (State pending|sent) and, for reminders, `ledger~{id}` rows; partition `pending` holds one
// pointer per bucket that may have unsent mail, so a drain never scans sent mail.
import { createHash } from 'node:crypto';
import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { tableClientFor } from '../store/tables.js';

export interface Mail {
  to: string[];
  subject: string;
  text: string;
}

/** Where mail leaves: Azure Communication Services in production, the sandbox's copy of it locally. */
export interface MailSender {
  /** Sends once per operationId: a retry with the same id never mails twice. */
  send(mail: Mail, operationId: string): Promise<void>;
}

export interface QueueEntry {
  /** Unique in its bucket; also the ledger key. */
  id: string;
  mail: Mail;
  /** Extra columns of the ledger row (who, what, when); absent: no ledger row. */
  ledger?: Record<string, string | number>;
}

export interface QueueResult {
  queued: number;
  /** Entries whose row existed: queued before, by this or another sweep. */
  already: number;
}

export interface DrainResult {
  sent: number;
  failed: number;
  /** Rows still pending in the buckets drained (backing off, or over the limit). */
  remaining: number;
}

export interface Outbox {
  queue(bucket: string, entries: QueueEntry[]): Promise<QueueResult>;
  /** Sends pending mail of one bucket, or of every bucket; at most `limit` messages. */
  drain(opts?: { bucket?: string; limit?: number }): Promise<DrainResult>;
  /** The ledger row of an entry, when there is one. */
  ledger(bucket: string, id: string): Promise<Record<string, unknown> | undefined>;
}

const PENDING = 'pending';
const ENTRIES_PER_BATCH = 50; // two rows each: a transaction holds at most 100
const SEND_CONCURRENCY = 48;
const QUEUE_CONCURRENCY = 4;

/** Backoff after the n-th failure: 5 s, 30 s, 2 min, 10 min, then hourly. */
export function backoffSeconds(failures: number): number {
  return [5, 30, 120, 600][failures - 1] ?? 3600;
}

/** A UUID-shaped id derived from the row: the same mail always sends with the same Operation-Id. */
export function operationIdFor(bucket: string, id: string): string {
  const h = createHash('sha256').update(`${bucket}\n${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Table keys may not hold `/ \ # ?` or control characters. */
const key = (s: string): string =>
  [...s].map((c) => (/[/\\#?]/.test(c) || c.charCodeAt(0) < 32 ? '_' : c)).join('');
const isStatus = (e: unknown, code: number): boolean =>
  (e as { statusCode?: number }).statusCode === code;

interface MailRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
  To: string;
  Subject: string;
  Text: string;
  State: string;
  Failures?: number;
  NextAttemptAt?: string;
}

export class TableOutbox implements Outbox {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(
    connectionString: string,
    private readonly sender: MailSender,
    table = 'Outbox',
    private readonly log: (line: string) => void = () => {},
  ) {
    this.#table = tableClientFor(connectionString, table);
  }

  #init(): Promise<void> {
    this.#ready ??= this.#table.createTable();
    return this.#ready;
  }

  async queue(bucket: string, entries: QueueEntry[]): Promise<QueueResult> {
    await this.#init();
    const pk = key(bucket);
    const chunks: QueueEntry[][] = [];
    for (let i = 0; i < entries.length; i += ENTRIES_PER_BATCH)
      chunks.push(entries.slice(i, i + ENTRIES_PER_BATCH));
    let queued = 0;
    let already = 0;
    let next = 0;
    // A few transactions at a time: each is independent (its own rows), so order does not matter.
    const worker = async (): Promise<void> => {
      while (next < chunks.length) {
        const r = await this.#queueChunk(pk, chunks[next++]!);
        queued += r.queued;
        already += r.already;
      }
    };
    await Promise.all(Array.from({ length: QUEUE_CONCURRENCY }, worker));
    // After the rows, never before: a drain that deletes the pointer then sees a changed ETag.
    await this.#table.upsertEntity(
      { partitionKey: PENDING, rowKey: pk, At: new Date().toISOString() },
      'Replace',
    );
    return { queued, already };
  }

  /** One transaction of ledger and mail rows; on a conflict, only the entries not queued before. */
  async #queueChunk(pk: string, entries: QueueEntry[]): Promise<QueueResult> {
    let chunk = entries;
    let already = 0;
    while (chunk.length) {
      try {
        await this.#table.submitTransaction(chunk.flatMap((e) => this.#rows(pk, e)));
        return { queued: chunk.length, already };
      } catch (e) {
        if (!isStatus(e, 409)) throw e;
        // Some were queued already (a retried or concurrent sweep): insert only the others.
        const seen = await this.#existing(pk, chunk);
        already += chunk.filter((c) => seen.has(c.id)).length;
        const rest = chunk.filter((c) => !seen.has(c.id));
        if (rest.length === chunk.length) throw e;
        chunk = rest;
      }
    }
    return { queued: 0, already };
  }

  #rows(pk: string, e: QueueEntry): TransactionAction[] {
    const id = key(e.id);
    const mail: TransactionAction = [
      'create',
      {
        partitionKey: pk,
        rowKey: `mail~${id}`,
        To: e.mail.to.join(';'),
        Subject: e.mail.subject,
        Text: e.mail.text,
        State: 'pending',
        Failures: 0,
      },
    ];
    return e.ledger
      ? [['create', { partitionKey: pk, rowKey: `ledger~${id}`, ...e.ledger }], mail]
      : [mail];
  }

  async #existing(pk: string, chunk: QueueEntry[]): Promise<Set<string>> {
    const ids = chunk.map((c) => key(c.id)).sort();
    const seen = new Set<string>();
    const rows = this.#table.listEntities<{ rowKey: string }>({
      queryOptions: {
        filter: odata`PartitionKey eq ${pk} and RowKey ge ${`mail~${ids[0]}`} and RowKey le ${`mail~${ids.at(-1)}`}`,
        select: ['RowKey'],
      },
    });
    for await (const r of rows) seen.add(r.rowKey.slice('mail~'.length));
    return new Set(chunk.filter((c) => seen.has(key(c.id))).map((c) => c.id));
  }

  async ledger(bucket: string, id: string): Promise<Record<string, unknown> | undefined> {
    await this.#init();
    try {
      return await this.#table.getEntity(key(bucket), `ledger~${key(id)}`);
    } catch (e) {
      if (isStatus(e, 404)) return undefined;
      throw e;
    }
  }

  async drain(opts: { bucket?: string; limit?: number } = {}): Promise<DrainResult> {
    await this.#init();
    const limit = opts.limit ?? 1000;
    const pointers: { bucket: string; etag: string }[] = [];
    if (opts.bucket) {
      const p = await this.#table.getEntity(PENDING, key(opts.bucket)).catch((e: unknown) => {
        if (isStatus(e, 404)) return undefined;
        throw e;
      });
      if (p) pointers.push({ bucket: key(opts.bucket), etag: p.etag });
    } else {
      for await (const p of this.#table.listEntities({
        queryOptions: { filter: odata`PartitionKey eq ${PENDING}` },
      }))
        pointers.push({ bucket: p.rowKey!, etag: p.etag });
    }
    const total: DrainResult = { sent: 0, failed: 0, remaining: 0 };
    for (const p of pointers) {
      const r = await this.#drainBucket(p.bucket, p.etag, limit - total.sent - total.failed);
      total.sent += r.sent;
      total.failed += r.failed;
      total.remaining += r.remaining;
    }
    return total;
  }

  async #drainBucket(pk: string, pointerEtag: string, limit: number): Promise<DrainResult> {
    const now = new Date();
    const pending: MailRow[] = [];
    let remaining = 0;
    const rows = this.#table.listEntities<MailRow>({
      queryOptions: {
        filter: odata`PartitionKey eq ${pk} and RowKey ge ${'mail~'} and RowKey lt ${'mail~~'} and State eq ${'pending'}`,
      },
    });
    for await (const r of rows) {
      if (
        pending.length < limit &&
        (!r.NextAttemptAt || Date.parse(r.NextAttemptAt) <= now.getTime())
      )
        pending.push(r);
      else remaining++;
    }
    const updates: TransactionAction[] = [];
    let sent = 0;
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < pending.length) {
        const row = pending[next++]!;
        const id = row.rowKey.slice('mail~'.length);
        try {
          await this.sender.send(
            { to: row.To.split(';'), subject: row.Subject, text: row.Text },
            operationIdFor(pk, id),
          );
          sent++;
          updates.push([
            'update',
            {
              partitionKey: pk,
              rowKey: row.rowKey,
              State: 'sent',
              SentAt: new Date().toISOString(),
            },
            'Merge',
          ]);
        } catch (e) {
          failed++;
          remaining++;
          const failures = (row.Failures ?? 0) + 1;
          this.log(`Mail ${pk}/${id} not sent (attempt ${failures}): ${(e as Error).message}`);
          updates.push([
            'update',
            {
              partitionKey: pk,
              rowKey: row.rowKey,
              Failures: failures,
              NextAttemptAt: new Date(Date.now() + backoffSeconds(failures) * 1000).toISOString(),
            },
            'Merge',
          ]);
        }
      }
    };
    await Promise.all(Array.from({ length: SEND_CONCURRENCY }, worker));
    for (let i = 0; i < updates.length; i += 100)
      await this.#table.submitTransaction(updates.slice(i, i + 100));
    if (remaining === 0) {
      // Nothing left: drop the pointer unless mail was queued since we read it (its ETag changed).
      await this.#table.deleteEntity(PENDING, pk, { etag: pointerEtag }).catch((e: unknown) => {
        if (!isStatus(e, 412) && !isStatus(e, 404)) throw e;
      });
    }
    return { sent, failed, remaining };
  }
}
