// A cancel accepted just before the host dies is still honoured after the restart: the copy that runs
// again reads the attempt's gate and writes nothing more (issue 8, item 1, under crashes).
import { afterAll, beforeAll, expect, it } from 'vitest';
import { projectRoot, spawnDevhost } from './support/devhost.js';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('cancelcrash');
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const stats = async (): Promise<{ writes: Record<string, number> }> =>
  (await fetch(`${e.sandbox.url}/dev/stats`)).json() as never;
const faults = async (): Promise<{ times: number }[]> =>
  (await fetch(`${e.sandbox.url}/dev/faults`)).json() as never;

it('honours a cancel accepted during copying when the host is killed right after it', async () => {
  await fetch(`${e.sandbox.url}/dev/faults`, {
    method: 'POST',
    body: JSON.stringify({
      route: '/v1/accounts/cpp-litware/users/$batch',
      latencyMs: 1500,
      times: 4,
    }),
  });
  const token = await e.token('lara@litware.com');
  await e.call('POST', '/api/accounts/cpp-litware/migration', {
    token,
    body: { workEmail: 'lara@litware.com' },
  });
  await e.waitForStatus('cpp-litware', token, (s) => s.status === 'copying');
  const end = Date.now() + 20_000;
  while (!(await faults()).every((f) => f.times === 0) && Date.now() < end)
    await new Promise((r) => setTimeout(r, 25));
  expect(
    (await e.call('POST', '/api/accounts/cpp-litware/migration/cancel', { token })).status,
  ).toBe(202);
  const env = e.app.env;
  await e.app.stop('SIGKILL');
  e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
  const s = await e.waitForStatus('cpp-litware', token, (x) => x.status !== 'copying', 30_000);
  expect(s.status).toBe('cancelled');
  expect(s.steps.filter((x: { state: string }) => x.state === 'running')).toEqual([]);
  // At most the four batches that were in flight when the host died; nothing after the restart.
  const users = (await stats()).writes['cpp-litware/users'] ?? 0;
  expect(users).toBeLessThanOrEqual(400);
  const cpp = (await (await fetch(`${e.sandbox.url}/cpp/accounts/cpp-litware`)).json()) as {
    readOnly: boolean;
  };
  expect(cpp.readOnly).toBe(false);
}, 90_000);
