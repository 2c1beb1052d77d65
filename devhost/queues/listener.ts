// One queue trigger's listener, as the Queues extension's QueueListener and QueueProcessor behave.
import type { QueueClient } from '@azure/storage-queue';
import type { RegisteredFunction } from '../core.js';
import { describeError, type Invoker } from '../invoke.js';
import type { HostLogger } from '../logger.js';
import { storageStatus } from '../storage.js';
import { decodeBody, triggerInput, triggerMetadata, type ReceivedMessage } from './messages.js';
import { MIN_POLLING_MS, type QueuesOptions } from './options.js';

/** A received message stays invisible this long while it runs, renewed at half-time (QueueListener). */
export const RUNNING_VISIBILITY_S = 600;

/** Storage errors that mean "someone else has it now" or "it is gone": nothing left to do. */
function isGone(e: unknown): boolean {
  const status = storageStatus(e);
  return status === 404 || (status === 400 && /popreceipt/i.test(String((e as Error).message)));
}

/** RandomizedExponentialBackoffStrategy: 100 ms, then about doubling (±20 %) up to the maximum. */
export class Backoff {
  #current = 0;
  #exponent = 1;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {}

  next(found: boolean): number {
    if (found) {
      this.#current = this.minMs;
      this.#exponent = 1;
    } else if (this.#current !== this.maxMs) {
      const factor = 0.8 + Math.random() * 0.4;
      const ms = this.minMs + factor * 2 ** (this.#exponent - 1) * this.minMs;
      if (ms < this.maxMs) {
        this.#current = ms;
        this.#exponent++;
      } else this.#current = this.maxMs;
    }
    return this.#current;
  }
}

export interface ListenerTarget {
  fn: RegisteredFunction;
  triggerName: string;
  dataType: unknown;
  queue: QueueClient;
  /** undefined for queues that get none (names ending in -poison, or too long for the suffix) */
  poison: QueueClient | undefined;
}

export class QueueListener {
  readonly #processing = new Set<Promise<void>>();
  readonly #backoff: Backoff;
  #stopped = false;
  #notified = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;
  #found = false;

  constructor(
    private readonly target: ListenerTarget,
    private readonly options: QueuesOptions,
    private readonly invoker: Invoker,
    private readonly logger: HostLogger,
    private readonly sendPoison: (poison: QueueClient, text: string) => Promise<void>,
  ) {
    this.#backoff = new Backoff(MIN_POLLING_MS, options.maxPollingIntervalMs);
  }

  get #category(): string {
    return `Function.${this.target.fn.metadata.name}`;
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** A message was just added to this queue by this host: poll now instead of after the backoff. */
  notify(): void {
    this.#notified = true;
    this.#wake?.();
  }

  /** Stops polling, then waits for every message in hand to finish (and be deleted or released). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    await Promise.all(this.#processing);
  }

  async #run(): Promise<void> {
    let lastError: string | undefined;
    while (!this.#stopped) {
      let received: ReceivedMessage[] = [];
      try {
        const res = await this.target.queue.receiveMessages({
          numberOfMessages: this.options.batchSize,
          visibilityTimeout: RUNNING_VISIBILITY_S,
        });
        received = res.receivedMessageItems;
        if (lastError) {
          this.logger.info(
            this.#category,
            `Polling queue '${this.target.queue.name}' works again.`,
          );
          lastError = undefined;
        }
      } catch (e) {
        const text = (e as Error).message.split('\n')[0] ?? String(e);
        if (storageStatus(e) === 404) {
          // Deleted under us: create it again, as the listener's existence check leads to.
          await this.target.queue.createIfNotExists().catch(() => undefined);
        } else if (text !== lastError) {
          this.logger.log(
            this.#category,
            'warning',
            `Polling queue '${this.target.queue.name}' failed (${text}); retrying with backoff.`,
          );
        }
        lastError = text;
      }
      for (const message of received) this.#track(this.#process(message));
      if (received.length > 0) {
        this.#found = true;
        // A new batch is fetched only once at most newBatchThreshold messages are still running.
        while (this.#processing.size > this.options.newBatchThreshold)
          await Promise.race(this.#processing);
        continue;
      }
      await this.#sleep(this.#backoff.next(this.#found));
      this.#found = false;
    }
  }

  #track(work: Promise<void>): void {
    const done = work.finally(() => this.#processing.delete(done));
    this.#processing.add(done);
  }

  async #sleep(ms: number): Promise<void> {
    if (this.#notified || this.#stopped) {
      this.#notified = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#wake = undefined;
    this.#notified = false;
  }

  async #process(message: ReceivedMessage): Promise<void> {
    const { queue, poison, fn } = this.target;
    try {
      const max = this.options.maxDequeueCount;
      // Already tried too often (a host died while running it): straight to the poison queue.
      if (message.dequeueCount > max && poison) {
        await this.#toPoison(message, poison);
        return;
      }
      const body = decodeBody(message.messageText, this.options.messageEncoding);
      if (!body) {
        this.logger.error(
          this.#category,
          `Message '${message.messageId}' on queue '${queue.name}' is not base64, which messageEncoding "base64" expects (set extensions.queues.messageEncoding to "none" for plain text).`,
        );
        if (poison) await this.#toPoison(message, poison);
        return;
      }
      let popReceipt = message.popReceipt;
      const renew = this.#keepInvisible(
        message.messageId,
        () => popReceipt,
        (r) => (popReceipt = r),
      );
      const outcome = await this.invoker
        .invoke(
          fn,
          {
            inputData: [
              { name: this.target.triggerName, data: triggerInput(body, this.target.dataType) },
            ],
            triggerMetadata: triggerMetadata(message, body.toString('utf8')),
          },
          `New queue message detected on '${queue.name}'.`,
        )
        .finally(() => renew.stop());
      await renew.idle();
      const current = { ...message, popReceipt };
      if (outcome.ok) await this.#delete(current);
      else if (poison && message.dequeueCount >= max) await this.#toPoison(current, poison);
      else if (poison) await this.#release(current);
      // Without a poison queue the message stays invisible (10 min), so it cannot spin.
    } catch (e) {
      this.logger.error(
        this.#category,
        `Handling message '${message.messageId}' of queue '${queue.name}' failed: ${describeError(e)}`,
      );
    }
  }

  /** Renews the running message's invisibility at half-time, as the listener's visibility timer does. */
  #keepInvisible(
    id: string,
    receipt: () => string,
    onReceipt: (r: string) => void,
  ): { stop(): void; idle(): Promise<void> } {
    let pending: Promise<void> = Promise.resolve();
    const timer = setInterval(
      () => {
        pending = this.target.queue
          .updateMessage(id, receipt(), undefined, RUNNING_VISIBILITY_S)
          .then((r) => {
            if (r.popReceipt) onReceipt(r.popReceipt);
          })
          .catch((e: unknown) => {
            this.logger.log(
              this.#category,
              'warning',
              `Keeping message '${id}' invisible failed: ${(e as Error).message.split('\n')[0]}`,
            );
          });
      },
      (RUNNING_VISIBILITY_S * 1000) / 2,
    );
    timer.unref();
    return { stop: () => clearInterval(timer), idle: () => pending };
  }

  async #delete(m: ReceivedMessage): Promise<void> {
    try {
      await this.target.queue.deleteMessage(m.messageId, m.popReceipt);
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  /** A failed message becomes visible again after `visibilityTimeout` (0 = at once). */
  async #release(m: ReceivedMessage): Promise<void> {
    try {
      await this.target.queue.updateMessage(
        m.messageId,
        m.popReceipt,
        undefined,
        Math.round(this.options.visibilityTimeoutMs / 1000),
      );
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  async #toPoison(m: ReceivedMessage, poison: QueueClient): Promise<void> {
    this.logger.log(
      this.#category,
      'warning',
      `Message '${m.messageId}' has reached MaxDequeueCount of ${this.options.maxDequeueCount}. Moving message to queue '${poison.name}'.`,
    );
    await this.sendPoison(poison, m.messageText);
    await this.#delete(m);
  }
}
