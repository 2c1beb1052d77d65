// The queue listener against an in-memory queue: batches, delete, release, poison, and stopping.
import type { QueueClient } from '@azure/storage-queue';
import { describe, expect, it } from 'vitest';
import type { RegisteredFunction } from '../core.js';
import type { InvocationOutcome, InvokeRequest, Invoker } from '../invoke.js';
import { HostLogger } from '../logger.js';
import { QueueListener } from './listener.js';
import type { QueuesOptions } from './options.js';

interface Stored {
  id: string;
  text: string;
  dequeueCount: number;
  visible: boolean;
  popReceipt: string;
}

/** Just enough of QueueClient: receive marks messages invisible, update with 0 s makes them visible. */
class MemoryQueue {
  readonly url: string;
  readonly messages: Stored[] = [];
  readonly deleted: string[] = [];
  readonly visibility: number[] = [];
  receives = 0;
  #receipt = 0;

  constructor(readonly name: string) {
    this.url = `memory://${name}`;
  }

  add(text: string, dequeueCount = 0): string {
    const id = `m${this.messages.length + this.deleted.length + 1}`;
    this.messages.push({ id, text, dequeueCount, visible: true, popReceipt: 'p0' });
    return id;
  }

  receiveMessages(o: { numberOfMessages: number }): Promise<unknown> {
    this.receives++;
    const now = new Date();
    const taken = this.messages.filter((m) => m.visible).slice(0, o.numberOfMessages);
    for (const m of taken) {
      m.visible = false;
      m.dequeueCount++;
      m.popReceipt = `p${++this.#receipt}`;
    }
    return Promise.resolve({
      receivedMessageItems: taken.map((m) => ({
        messageId: m.id,
        popReceipt: m.popReceipt,
        messageText: m.text,
        dequeueCount: m.dequeueCount,
        insertedOn: now,
        expiresOn: now,
        nextVisibleOn: now,
      })),
    });
  }

  deleteMessage(id: string, popReceipt: string): Promise<unknown> {
    const i = this.messages.findIndex((m) => m.id === id && m.popReceipt === popReceipt);
    if (i < 0)
      return Promise.reject(Object.assign(new Error('MessageNotFound'), { statusCode: 404 }));
    this.messages.splice(i, 1);
    this.deleted.push(id);
    return Promise.resolve({});
  }

  updateMessage(id: string, popReceipt: string, _text: unknown, seconds: number): Promise<unknown> {
    const m = this.messages.find((x) => x.id === id && x.popReceipt === popReceipt)!;
    this.visibility.push(seconds);
    m.visible = seconds === 0;
    m.popReceipt = `p${++this.#receipt}`;
    return Promise.resolve({ popReceipt: m.popReceipt });
  }

  createIfNotExists(): Promise<unknown> {
    return Promise.resolve({});
  }
}

/** An invoker whose invocations finish when the test says so. */
class HeldInvoker {
  readonly calls: { req: InvokeRequest; finish(ok: boolean): void }[] = [];

  invoke(_fn: RegisteredFunction, req: InvokeRequest): Promise<InvocationOutcome> {
    return new Promise((resolve) => {
      this.calls.push({
        req,
        finish: (ok) =>
          resolve(
            ok
              ? { ok, invocationId: 'i', response: {}, durationMs: 1 }
              : { ok, invocationId: 'i', error: new Error('no'), durationMs: 1 },
          ),
      });
    });
  }
}

const fn = { id: 'f', metadata: { name: 'f', bindings: {} }, callback: () => undefined };
const options = (o: Partial<QueuesOptions>): QueuesOptions => ({
  batchSize: 16,
  newBatchThreshold: 8,
  maxPollingIntervalMs: 100,
  visibilityTimeoutMs: 0,
  maxDequeueCount: 5,
  messageEncoding: 'none',
  ...o,
});

function listen(o: Partial<QueuesOptions>, queue = new MemoryQueue('q')) {
  const invoker = new HeldInvoker();
  const poison = new MemoryQueue('q-poison');
  const lines: string[] = [];
  const logger = new HostLogger({}, { write: (line) => lines.push(line) });
  const listener = new QueueListener(
    {
      fn: fn,
      triggerName: 't',
      dataType: undefined,
      queue: queue as unknown as QueueClient,
      poison: poison as unknown as QueueClient,
    },
    options(o),
    invoker as unknown as Invoker,
    logger,
    (_p, text) => {
      poison.add(text);
      return Promise.resolve();
    },
  );
  return { queue, poison, invoker, lines, listener };
}

/** Waits for a condition the listener brings about (each check after the event loop turned). */
async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ok()).toBe(true);
}

/** Lets every in-memory step that is ready run (no I/O here, so a few turns are enough). */
const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

describe('QueueListener', () => {
  it('fetches batchSize messages and a new batch only once at most newBatchThreshold run', async () => {
    const t = listen({ batchSize: 2, newBatchThreshold: 1 });
    for (let i = 0; i < 5; i++) t.queue.add(`"m${i}"`);
    t.listener.start();
    await until(() => t.invoker.calls.length === 2);
    await settle();
    expect(t.invoker.calls).toHaveLength(2);
    expect(t.queue.receives).toBe(1);

    t.invoker.calls[0]!.finish(true);
    await until(() => t.invoker.calls.length === 4);
    expect(t.queue.deleted).toEqual(['m1']);
    for (const c of t.invoker.calls.slice(1)) c.finish(true);
    await until(() => t.invoker.calls.length === 5);
    t.invoker.calls[4]!.finish(true);
    await t.listener.stop();
    expect(t.queue.deleted.sort()).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
  });

  it('hands over the message and its metadata', async () => {
    const t = listen({});
    t.queue.add('{"a":1}');
    t.listener.start();
    await until(() => t.invoker.calls.length === 1);
    const req = t.invoker.calls[0]!.req;
    expect(req.inputData).toEqual([{ name: 't', data: { json: '{"a":1}' } }]);
    expect(req.triggerMetadata?.DequeueCount).toEqual({ json: '1' });
    expect(req.triggerMetadata?.Id).toEqual({ string: 'm1' });
    t.invoker.calls[0]!.finish(true);
    await t.listener.stop();
  });

  it('releases a failed message with visibilityTimeout, then poisons it at maxDequeueCount', async () => {
    const t = listen({ maxDequeueCount: 2, visibilityTimeoutMs: 0 });
    t.queue.add('job');
    t.listener.start();
    await until(() => t.invoker.calls.length === 1);
    t.invoker.calls[0]!.finish(false);
    await until(() => t.invoker.calls.length === 2);
    expect(t.queue.visibility).toEqual([0]);
    t.invoker.calls[1]!.finish(false);
    await until(() => t.poison.messages.length === 1);
    expect(t.poison.messages[0]!.text).toBe('job');
    expect(t.queue.messages).toEqual([]);
    expect(t.lines.join('\n')).toMatch(
      /Message 'm1' has reached MaxDequeueCount of 2\. Moving message to queue 'q-poison'\./,
    );
    await t.listener.stop();
    expect(t.invoker.calls).toHaveLength(2);
  });

  it('keeps a failed message invisible for visibilityTimeout seconds', async () => {
    const t = listen({ visibilityTimeoutMs: 30_000 });
    t.queue.add('job');
    t.listener.start();
    await until(() => t.invoker.calls.length === 1);
    t.invoker.calls[0]!.finish(false);
    await until(() => t.queue.visibility.length === 1);
    expect(t.queue.visibility).toEqual([30]);
    await t.listener.stop();
  });

  it('poisons a message received above maxDequeueCount without running it', async () => {
    const t = listen({ maxDequeueCount: 3 });
    t.queue.add('stale', 3);
    t.listener.start();
    await until(() => t.poison.messages.length === 1);
    await t.listener.stop();
    expect(t.invoker.calls).toHaveLength(0);
  });

  it('stop() waits for the running message and deletes it', async () => {
    const t = listen({});
    t.queue.add('job');
    t.listener.start();
    await until(() => t.invoker.calls.length === 1);
    let stopped = false;
    const stopping = t.listener.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    t.invoker.calls[0]!.finish(true);
    await stopping;
    expect(t.queue.deleted).toEqual(['m1']);
  });
});
