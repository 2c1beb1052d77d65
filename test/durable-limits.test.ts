// host.json limits: maxConcurrentActivityFunctions bounds how many activities run at once.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { fixture, spawnDevhost } from './support/devhost.js';
import { DurableApi } from './support/durable.js';

it('runs at most maxConcurrentActivityFunctions activities at a time', async () => {
  const log = path.join(mkdtempSync(path.join(tmpdir(), 'limits-')), 'activities.log');
  const host = await spawnDevhost(fixture('durable-conformance'), {
    env: {
      AzureWebJobsStorage: inject('storage'),
      AzureFunctionsJobHost__extensions__durableTask__hubName: `Limits${Date.now()}`,
      AzureFunctionsJobHost__extensions__durableTask__maxConcurrentActivityFunctions: '2',
      ACTIVITY_LOG: log,
    },
  });
  try {
    const api = new DurableApi(host);
    const s = await api.waitFor(await api.start('slowFan', 'limited', { n: 6, ms: 150 }));
    expect(s.output).toBe(15);
    let running = 0;
    let most = 0;
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      running += line.startsWith('start ') ? 1 : -1;
      most = Math.max(most, running);
    }
    expect(most).toBe(2);
  } finally {
    await host.stop();
  }
});
