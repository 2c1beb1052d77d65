// The outbox: each message is written once under a deterministic key (insert-if-absent), so a retried
// activity never mails twice; delivery is a log line locally (no mail server here).
import type { TableClient } from '@azure/data-tables';
import { tableClientFor } from '../store/tables.js';

export interface Message {
  key: string;
  subject: string;
  to: string;
  text: string;
}

export interface Notifier {
  /** True when this call sent it, false when the same key was sent before. */
  send(partition: string, message: Message): Promise<boolean>;
}

export class TableOutbox implements Notifier {
  readonly #table: TableClient;
  #ready: Promise<void> | undefined;

  constructor(
    connectionString: string,
    private readonly deliver: (m: Message) => void,
    table = 'Outbox',
  ) {
    this.#table = tableClientFor(connectionString, table);
  }

  async send(partition: string, m: Message): Promise<boolean> {
    this.#ready ??= this.#table.createTable();
    await this.#ready;
    try {
      await this.#table.createEntity({
        partitionKey: partition,
        rowKey: m.key,
        To: m.to,
        Subject: m.subject,
        Text: m.text,
      });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode === 409) return false;
      throw e;
    }
    this.deliver(m);
    return true;
  }
}
