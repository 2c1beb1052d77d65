// The certification wait is a durable timer on the host's clock (no polling loop in an activity): under a
// virtual clock the app looks again only when the clock moves, however long certification took for real.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E, until } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'd365clock',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '3600' },
    ['--virtual-clock=2019-09-10T12:00:00Z'],
    // long enough for the app's first look to find it pending, even on a busy machine
    { certificationSeconds: 3 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

describe('the certification wait', () => {
  it('follows the host clock: an hour is skipped by moving the clock', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    const get = async (): Promise<any> =>
      (await e.call('GET', '/api/accounts/cpp-fabrikam-msa/d365', { token })).body;
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365', { token });
    await until('the steps', async () => ((await get()).steps.length === 4 ? true : undefined));
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    const c = await until('in certification', async () => {
      const x = await get();
      return x.offers[0].state === 'in-certification' ? x : undefined;
    });
    const { productId, submissionId } = c.offers[0];
    // Certification ends in the sandbox (real time) ...
    await until('the sandbox certified it', async () => {
      const r = (await (
        await fetch(
          `${e.sandbox.url}/v1.0/ingestion/products/${productId}/submissions/${submissionId}/reports`,
        )
      ).json()) as { value: { status: string }[] };
      return r.value[0]!.status === 'Passed' ? true : undefined;
    });
    // ... but the app looks again only when its timer is due on the host's clock.
    expect((await get()).offers[0].state).toBe('in-certification');
    const moved = await fetch(`${e.app.url}/admin/devhost/clock`, {
      method: 'POST',
      body: JSON.stringify({ advanceBy: 'PT1H' }),
    });
    expect(moved.status).toBe(200);
    const ready = await until('ready to go live', async () => {
      const x = await get();
      return x.offers[0].state === 'ready-to-go-live' ? x : undefined;
    });
    expect(ready.offers[0].report.status).toBe('Passed');
  }, 60_000);
});
