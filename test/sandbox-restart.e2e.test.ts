// The sandbox restarted mid-checklist (the app's Durable state in Azurite survives it): the ingestion API
// still knows the products it created and the submissions in certification, so the checklist goes on.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startE2E, type E2E, until } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'sbrestart',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '1' },
    [],
    { certificationSeconds: 3 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const checklist = async (token: string): Promise<any> =>
  (await e.call('GET', '/api/accounts/cpp-contoso/d365', { token })).body;
const waitFor = (token: string, what: string, ok: (c: any) => boolean, ms = 30_000) =>
  until(
    what,
    async () => {
      const c = await checklist(token);
      return ok(c) ? c : undefined;
    },
    ms,
  );
const d365 = (c: any): any[] => c.offers.filter((o: any) => o.state !== 'excluded');

it('goes on after a sandbox restart during certification, submitting nothing twice', async () => {
  const token = await e.token('olivia.owner@contoso.com');
  expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token })).status).toBe(202);
  await waitFor(token, 'the steps', (c) => c.steps.length === 4);
  await e.call('POST', '/api/accounts/cpp-contoso/d365/attest', {
    token,
    body: { step: 'isv-addendum' },
  });
  const inCert = await waitFor(token, 'both offers in certification', (c) =>
    d365(c).every((o) => o.state === 'in-certification'),
  );
  expect(d365(inCert).find((o) => o.offerId === 'contoso-offer-4').appSource).toBe('created');
  await e.restartSandbox();
  const ready = await waitFor(
    token,
    'both offers approved',
    (c) => d365(c).every((o) => o.state === 'ready-to-go-live'),
    60_000,
  );
  // The same products and submissions as before the restart: one submission each, the one shown.
  for (const o of d365(ready)) {
    const before = d365(inCert).find((x) => x.offerId === o.offerId);
    expect(o.productId).toBe(before.productId);
    expect(o.submissionId).toBe(before.submissionId);
    const subs = (await (
      await fetch(`${e.sandbox.url}/v1.0/ingestion/products/${o.productId}/submissions`)
    ).json()) as { value: { id: string }[] };
    expect(subs.value.map((s) => s.id)).toEqual([o.submissionId]);
  }
  for (const id of ['contoso-offer-3', 'contoso-offer-4'])
    expect(
      (await e.call('POST', `/api/accounts/cpp-contoso/d365/offers/${id}/go-live`, { token }))
        .status,
    ).toBe(202);
  const done = await waitFor(token, 'completed', (c) => c.status === 'completed');
  expect(d365(done).map((o) => o.state)).toEqual(['live', 'live']);
}, 120_000);
