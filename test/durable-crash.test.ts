// Crash safety: the host killed with SIGKILL mid-activity and mid-episode, restarted, finishes everything.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { fixture, spawnDevhost, type DevhostProcess } from './support/devhost.js';
import { DurableApi, eventsOf, type Status } from './support/durable.js';

const app = fixture('durable-conformance');

function env(hub: string, log: string): Record<string, string> {
  return {
    AzureWebJobsStorage: inject('storage'),
    AzureFunctionsJobHost__extensions__durableTask__hubName: hub,
    ACTIVITY_LOG: log,
  };
}

function logLines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

/** Every scheduled task completed exactly once: no lost and no duplicated history. */
function expectCleanHistory(s: Status, tasks: number): void {
  const completed = eventsOf(s, 'TaskCompleted').map((e) => e.TaskScheduledId as number);
  expect(completed).toHaveLength(tasks);
  expect(new Set(completed).size).toBe(tasks);
  expect(eventsOf(s, 'ExecutionStarted')).toHaveLength(1);
  expect(eventsOf(s, 'ExecutionCompleted')).toHaveLength(1);
}

describe('SIGKILL and restart', () => {
  it('reruns only the activity that was running; committed ones never run again', async () => {
    const hub = `Crash${Date.now()}`;
    const log = path.join(mkdtempSync(path.join(tmpdir(), 'crash-')), 'activities.log');
    let host: DevhostProcess = await spawnDevhost(app, { env: env(hub, log) });
    let api = new DurableApi(host);
    const id = await api.start('slowChain', 'chain-kill', { steps: 4, ms: 800 });
    // Kill once step 0 has ended (and its next episode committed it) and step 1 is running.
    const deadline = Date.now() + 15_000;
    while (!logLines(log).includes('start chain-kill:1') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 100));
    await host.stop('SIGKILL');
    expect(logLines(log)).toContain('end chain-kill:0');
    expect(logLines(log)).not.toContain('end chain-kill:1');

    host = await spawnDevhost(app, { env: env(hub, log) });
    api = new DurableApi(host);
    try {
      const s = await api.waitFor(id, undefined, 20_000);
      expect(s.runtimeStatus).toBe('Completed');
      expect(s.output).toEqual([0, 1, 2, 3]);
      expectCleanHistory(s, 4);
      const lines = logLines(log);
      expect(lines.filter((l) => l === 'start chain-kill:0')).toHaveLength(1);
      expect(lines.filter((l) => l === 'start chain-kill:1')).toHaveLength(2);
      expect(lines.filter((l) => l === 'start chain-kill:3')).toHaveLength(1);
    } finally {
      await host.stop();
    }
  });

  it('finishes a fan-out and a chain after repeated kills at random moments', async () => {
    const hub = `Chaos${Date.now()}`;
    const log = path.join(mkdtempSync(path.join(tmpdir(), 'chaos-')), 'activities.log');
    let host = await spawnDevhost(app, { env: env(hub, log) });
    const api0 = new DurableApi(host);
    const fan = await api0.start('slowFan', 'fan-chaos', { n: 50, ms: 150 });
    const chain = await api0.start('slowChain', 'chain-chaos', { steps: 10, ms: 100 });
    for (let kill = 0; kill < 5; kill++) {
      await new Promise((r) => setTimeout(r, 100 + Math.floor(Math.random() * 600)));
      await host.stop('SIGKILL');
      host = await spawnDevhost(app, { env: env(hub, log) });
    }
    const api = new DurableApi(host);
    try {
      const [f, c] = await Promise.all([
        api.waitFor(fan, undefined, 30_000),
        api.waitFor(chain, undefined, 30_000),
      ]);
      expect(f.runtimeStatus).toBe('Completed');
      expect(f.output).toBe((49 * 50) / 2);
      expectCleanHistory(f, 50);
      expect(c.output).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expectCleanHistory(c, 10);
      // At-least-once: every activity ended at least once.
      const ended = new Set(logLines(log).filter((l) => l.startsWith('end ')));
      for (let i = 0; i < 50; i++) expect(ended.has(`end fan-chaos:${i}`)).toBe(true);
    } finally {
      await host.stop();
    }
  }, 90_000);

  it('resumes a fan-out of 1,000 retrying calls with long inputs after a kill once its first episode committed', async () => {
    // The replay state then spans far more than eight columns of the sentinel (issue 9).
    const hub = `RetryFan${Date.now()}`;
    const log = path.join(mkdtempSync(path.join(tmpdir(), 'retryfan-')), 'activities.log');
    let host = await spawnDevhost(app, { env: env(hub, log) });
    const id = await new DurableApi(host).start('slowRetryFan', 'retry-fan', {
      n: 1000,
      ms: 20,
      pad: 'p'.repeat(220),
    });
    // Activities start only once the episode that scheduled them committed.
    const deadline = Date.now() + 20_000;
    while (logLines(log).length === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    await host.stop('SIGKILL');
    expect(logLines(log).length).toBeGreaterThan(0);

    host = await spawnDevhost(app, { env: env(hub, log) });
    try {
      const api = new DurableApi(host);
      await api.waitFor(id, undefined, 60_000, '');
      const s = (await api.status(id, 'showHistory=true&showHistoryOutput=true'))!;
      expect(s.runtimeStatus).toBe('Completed');
      expect(s.output).toBe((999 * 1000) / 2);
      expectCleanHistory(s, 1000);
    } finally {
      await host.stop();
    }
  }, 120_000);
});
