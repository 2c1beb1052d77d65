// Storage queue triggers and queue output bindings on the local host, against Azurite.
import { randomBytes } from 'node:crypto';
import { QueueServiceClient, type QueueClient } from '@azure/storage-queue';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';
import { until } from './support/e2e.js';

interface Seen {
  fn: string;
  item: unknown;
  type?: string;
  dequeueCount?: number;
  meta?: Record<string, unknown>;
}

const running: DevhostProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((h) => h.stop()));
});

const service = (): QueueServiceClient =>
  QueueServiceClient.fromConnectionString(inject('storage'));

/** Fresh queue names per test (through the app's %settings%), so tests never share a queue. */
function names(): Record<'IN_QUEUE' | 'OUT_QUEUE' | 'FAIL_QUEUE' | 'SLOW_QUEUE', string> {
  const id = randomBytes(4).toString('hex');
  return {
    IN_QUEUE: `in-${id}`,
    OUT_QUEUE: `out-${id}`,
    FAIL_QUEUE: `fail-${id}`,
    SLOW_QUEUE: `slow-${id}`,
  };
}

async function start(env: Record<string, string>): Promise<DevhostProcess> {
  const host = await spawnDevhost(fixture('queue-app'), {
    env: {
      AzureWebJobsStorage: inject('storage'),
      AzureFunctionsJobHost__extensions__durableTask__hubName: `Q${randomBytes(6).toString('hex')}`,
      ...env,
    },
  });
  running.push(host);
  return host;
}

async function seen(host: DevhostProcess): Promise<Seen[]> {
  return (await (await fetch(`${host.url}/api/seen`)).json()) as Seen[];
}

/** Takes every message now visible in a queue (and deletes them), as raw text. */
async function drain(queue: QueueClient): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (items.length === 0) return out;
    for (const m of items) {
      out.push(m.messageText);
      await queue.deleteMessage(m.messageId, m.popReceipt);
    }
  }
}

async function count(queue: QueueClient): Promise<number> {
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string): string => Buffer.from(s, 'base64').toString('utf8');

describe('storage queues on the local host', () => {
  it('an HTTP queue output feeds a queue trigger whose return value reaches a second queue, once each, base64', async () => {
    const q = names();
    const host = await start(q);
    expect(host.output()).toMatch(
      /Function 'blobFn': the blobTrigger trigger is not run by this host/,
    );
    expect(host.output()).toMatch(/relay: queueTrigger/);

    const res = await fetch(`${host.url}/api/enqueue`, {
      method: 'POST',
      body: JSON.stringify({ messages: [{ n: 1 }, 'plain text', 42] }),
    });
    expect(res.status).toBe(202);

    const out = service().getQueueClient(q.OUT_QUEUE);
    const received: string[] = [];
    await until('three relayed messages', async () => {
      received.push(...(await drain(out)));
      return received.length >= 3 ? true : undefined;
    });
    // The output is base64 (the default messageEncoding) holding JSON.
    const bodies = received.map(
      (t) => JSON.parse(unb64(t)) as { echo: unknown; dequeueCount: number },
    );
    expect(bodies.map((b) => b.echo)).toEqual(expect.arrayContaining([{ n: 1 }, 'plain text', 42]));
    expect(bodies.every((b) => b.dequeueCount === 1)).toBe(true);

    const relay = (await seen(host)).filter((s) => s.fn === 'relay');
    expect(relay).toHaveLength(3);
    const byType = Object.fromEntries(relay.map((s) => [s.type, s]));
    expect(byType.object!.item).toEqual({ n: 1 });
    expect(byType.string!.item).toBe('plain text');
    expect(byType.number!.item).toBe(42);
    const meta = byType.object!.meta!;
    expect(meta.dequeueCount).toBe(1);
    expect(typeof meta.id).toBe('string');
    expect(typeof meta.popReceipt).toBe('string');
    expect(new Date(meta.insertionTime as string).getTime()).toBeGreaterThan(0);
    expect(new Date(meta.expirationTime as string).getTime()).toBeGreaterThan(Date.now());
    // The host sends QueueTrigger as a string; the library JSON-parses strings where it can.
    expect(meta.queueTrigger).toEqual({ n: 1 });

    // Delivered once: the trigger queue is empty (deleted on success) and nothing more arrives.
    expect(await count(service().getQueueClient(q.IN_QUEUE))).toBe(0);
    expect(await drain(out)).toEqual([]);
  });

  it('moves a message that keeps failing to <queue>-poison after maxDequeueCount attempts', async () => {
    const q = names();
    const host = await start(q);
    const fail = service().getQueueClient(q.FAIL_QUEUE);
    const raw = b64(JSON.stringify({ order: 7 }));
    await fail.sendMessage(raw);

    const poison = service().getQueueClient(`${q.FAIL_QUEUE}-poison`);
    const poisoned = await until('the poison queue', async () => {
      const got = await poison.peekMessages().catch(() => undefined);
      return got && got.peekedMessageItems.length > 0 ? got.peekedMessageItems : undefined;
    });
    expect(poisoned.map((m) => m.messageText)).toEqual([raw]);
    const attempts = (await seen(host)).filter((s) => s.fn === 'failing');
    expect(attempts.map((s) => s.dequeueCount)).toEqual([1, 2]);
    expect(attempts[0]!.item).toEqual({ order: 7 });
    await host.waitFor(
      /has reached MaxDequeueCount of 2\. Moving message to queue 'fail-[0-9a-f]+-poison'/,
    );
    expect(host.output()).toMatch(/Executed 'Functions\.failing' \(Failed/);
    expect(await count(fail)).toBe(0);
  });

  it('honours messageEncoding "none" (an AzureFunctionsJobHost__ override) both ways', async () => {
    const q = names();
    const host = await start({
      ...q,
      AzureFunctionsJobHost__extensions__queues__messageEncoding: 'none',
    });
    const inQueue = service().getQueueClient(q.IN_QUEUE);
    await inQueue.createIfNotExists();
    await inQueue.sendMessage('{"plain":true}');
    const out = service().getQueueClient(q.OUT_QUEUE);
    const texts = await until('the relayed message', async () => {
      const got = await drain(out).catch(() => []);
      return got.length > 0 ? got : undefined;
    });
    expect(texts).toEqual([JSON.stringify({ echo: { plain: true }, dequeueCount: 1 })]);
    const relay = (await seen(host)).filter((s) => s.fn === 'relay');
    expect(relay.map((s) => s.item)).toEqual([{ plain: true }]);
  });

  it('fails the invocation, with a log line, when the queue service refuses the output', async () => {
    const q = names();
    const host = await start(q);
    const res = await fetch(`${host.url}/api/oversized`, { method: 'POST' });
    expect(res.status).toBe(500);
    await host.waitFor(
      /Sending to queue 'out-[0-9a-f]+' \(queue output '[^']+'\) failed after 0 of 1 message/,
    );
    expect(host.output()).toMatch(/Executed 'Functions\.oversized' \(Failed/);
  });

  it('runs a queue-triggered function from the admin API with the input as its message', async () => {
    const q = names();
    const host = await start(q);
    const res = await fetch(`${host.url}/admin/functions/relay`, {
      method: 'POST',
      body: JSON.stringify({ input: '{"manual":1}' }),
    });
    expect(res.status).toBe(202);
    const out = service().getQueueClient(q.OUT_QUEUE);
    const texts = await until('the relayed message', async () => {
      const got = await drain(out).catch(() => []);
      return got.length > 0 ? got : undefined;
    });
    expect(JSON.parse(unb64(texts[0]!))).toEqual({ echo: { manual: 1 }, dequeueCount: 0 });
  });

  it('sends queue outputs of timer and Durable activity invocations too', async () => {
    const q = names();
    const host = await start(q);
    expect(
      (await fetch(`${host.url}/admin/functions/tick`, { method: 'POST', body: '{}' })).status,
    ).toBe(202);
    const started = await fetch(
      `${host.url}/runtime/webhooks/durabletask/orchestrators/flow/f-${q.OUT_QUEUE}`,
      {
        method: 'POST',
        body: JSON.stringify('order-9'),
      },
    );
    expect(started.status).toBe(202);
    const out = service().getQueueClient(q.OUT_QUEUE);
    const received: unknown[] = [];
    await until('the tick and stamp messages', async () => {
      received.push(
        ...(await drain(out).catch(() => [])).map((t) => JSON.parse(unb64(t)) as unknown),
      );
      return received.length >= 2 ? true : undefined;
    });
    expect(received).toEqual(
      expect.arrayContaining([{ from: 'tick' }, { from: 'stamp', input: 'order-9' }]),
    );
    const status = await until('the orchestration to complete', async () => {
      const r = await fetch(`${host.url}/runtime/webhooks/durabletask/instances/f-${q.OUT_QUEUE}`);
      const s = (await r.json()) as { runtimeStatus: string; output: unknown };
      return s.runtimeStatus === 'Completed' ? s : undefined;
    });
    expect(status.output).toBe('stamped order-9');
  });

  it('names a function whose queue cannot be used, and runs the rest of the app', async () => {
    const q = names();
    const host = await start({
      ...q,
      FAIL_QUEUE: 'Bad_Name',
      'AzureWebJobs.slow.Disabled': 'true',
    });
    expect(host.output()).toMatch(
      /Function 'failing' will not run: its queue trigger: A queue name can contain only lower-case letters, numbers, and dash\(-\) characters - "bad_name"/,
    );
    expect(host.output()).toMatch(/Function 'slow' is disabled\./);
    expect(host.output()).not.toMatch(/\tslow: queueTrigger/);
    // The rest runs: the admin API still drives the relay.
    expect(
      (
        await fetch(`${host.url}/admin/functions/relay`, {
          method: 'POST',
          body: JSON.stringify({ input: 'still here' }),
        })
      ).status,
    ).toBe(202);
    await until('the relay', async () =>
      (await seen(host)).some((s) => s.item === 'still here') ? true : undefined,
    );
  });

  it('lets a running message finish, and deletes it, when the host is stopped', async () => {
    const q = names();
    const host = await start(q);
    const slow = service().getQueueClient(q.SLOW_QUEUE);
    await slow.sendMessage(b64('"job"'));
    await until('the slow function to start', async () =>
      (await seen(host)).some((s) => s.fn === 'slow') ? true : undefined,
    );
    const stopped = host.stop('SIGTERM');
    // The host is closing but waits for the running message; let it finish.
    await until('the release', async () => {
      if (host.child.exitCode !== null)
        throw new Error('the host exited before its running message finished');
      const r = await fetch(`${host.url}/api/release`, { method: 'POST' }).catch(() => undefined);
      return r?.status === 204 ? true : undefined;
    });
    expect(await stopped).toBe(0);
    expect(host.output()).toMatch(/Executed 'Functions\.slow' \(Succeeded/);
    expect(await count(slow)).toBe(0);
    const texts = await drain(service().getQueueClient(q.OUT_QUEUE));
    expect(texts.map((t) => JSON.parse(unb64(t)) as unknown)).toEqual([{ slow: 'job' }]);
  });
});
