// The D365 checklist survives a host killed mid-submission: after the restart the offer is submitted
// once (the sandbox counts submissions), and the checklist goes on to ready-to-go-live.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot, spawnDevhost } from './support/devhost.js';
import { startE2E, type E2E, until } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'd365crash',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '1' },
    [],
    { certificationSeconds: 1 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const submitCalls = async (): Promise<string[]> =>
  ((await (await fetch(`${e.sandbox.url}/dev/calls`)).json()) as { calls: string[] }).calls.filter(
    (c) => /^POST \/v1\.0\/ingestion\/products\/[^/]+\/submissions$/.test(c),
  );

describe('a host killed mid-submission', () => {
  it('submits once after the restart', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    // The submission hangs on the wire long enough for the kill to land while it is in flight.
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({
        route: '/v1.0/ingestion/products/*/submissions',
        method: 'POST',
        latencyMs: 2000,
        times: 1,
      }),
    });
    expect((await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365', { token })).status).toBe(
      202,
    );
    await until('the checklist', async () => {
      const c = (await e.call('GET', '/api/accounts/cpp-fabrikam-msa/d365', { token })).body;
      return c.steps.length === 4 ? c : undefined;
    });
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    await until('the submission on the wire', async () =>
      (await submitCalls()).length === 1 ? true : undefined,
    );
    const env = e.app.env;
    await e.app.stop('SIGKILL');
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    const c = await until('ready to go live', async () => {
      const x = (await e.call('GET', '/api/accounts/cpp-fabrikam-msa/d365', { token })).body;
      return x.offers?.[0]?.state === 'ready-to-go-live' ? x : undefined;
    });
    expect(c.offers[0].offerId).toBe('fabrikam-offer-2');
    // The submission was asked for again after the restart, and is still one submission.
    expect((await submitCalls()).length).toBeGreaterThanOrEqual(2);
    const stats = (await (await fetch(`${e.sandbox.url}/dev/stats`)).json()) as {
      ingestion: { submissions: Record<string, number> };
    };
    expect(stats.ingestion.submissions).toEqual({ 'fabrikam-offer-2': 1 });
  }, 90_000);
});
