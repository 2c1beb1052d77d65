// The sandbox's Partner Center ingestion API on its own (A.10): products by kind, submissions through
// certification on the clock, reports, promote, 409 on a second submit, faults, and the counts in /dev/stats.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../sandbox/server.js';
import { loadWorld, type World } from '../sandbox/world.js';
import { projectRoot } from './support/devhost.js';

let sb: RunningSandbox;
beforeAll(async () => {
  const demo = await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`);
  const world: World = {
    ...demo,
    cppAccounts: demo.cppAccounts.map((a) => ({
      ...a,
      offers: a.offers.map((o) =>
        o.id === 'contoso-offer-3' ? { ...o, failsCertificationOnce: true } : o,
      ),
    })),
  };
  sb = await startSandbox({
    world,
    port: 0,
    storage: inject('storage'),
    table: `SandboxI${Date.now().toString(36)}`,
    certificationSeconds: 0.3,
  });
});
afterAll(async () => {
  await sb?.close();
});

const ING = '/v1.0/ingestion';
async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${sb.url}${ING}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}
const byOffer = (offerId: string): string =>
  `/products?$filter=${encodeURIComponent(`ExternalIDs/Any(i:i/Type eq 'AzureOfferID' and i/Value eq '${offerId}')`)}`;
const settled = async (productId: string, id: string): Promise<any> => {
  for (;;) {
    const s = await call('GET', `/products/${productId}/submissions/${id}`);
    if (s.body.substate !== 'Submitted') return s.body;
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('the ingestion API', () => {
  it('lists the products of each Dynamics 365 kind, Business Central as its own type', async () => {
    const ce = await call(
      'GET',
      `/products?$filter=${encodeURIComponent("ResourceType eq 'AzureDynamics365ForCustomerEngagement'")}`,
    );
    expect(ce.status).toBe(200);
    expect(ce.body.value.map((p: any) => p.externalIDs[0].value).sort()).toEqual([
      'contoso-offer-3',
      'tailspin-offer-1',
    ]);
    const bc = await call('GET', byOffer('contoso-offer-5'));
    expect(bc.body.value[0].resourceType).toBe('AzureDynamics365BusinessCentral');
    // Not in AppSource: no product.
    expect((await call('GET', byOffer('contoso-offer-4'))).body.value).toEqual([]);
    expect((await call('GET', '/products')).status).toBe(400);
  });

  it('creates a product once per Client-Request-ID, and refuses a second one for the same offer', async () => {
    const body = {
      resourceType: 'AzureDynamics365ForCustomerEngagement',
      name: 'Contoso Canvas',
      externalIDs: [{ type: 'AzureOfferID', value: 'contoso-offer-4' }],
    };
    const a = await call('POST', '/products', body, { 'client-request-id': 'create-1' });
    expect(a.status).toBe(201);
    const again = await call('POST', '/products', body, { 'client-request-id': 'create-1' });
    expect(again.body.id).toBe(a.body.id);
    expect((await call('POST', '/products', body)).status).toBe(409);
    expect((await call('POST', '/products', { ...body, resourceType: 'Mainframe' })).status).toBe(
      400,
    );
  });

  it('certifies on the clock: fails once with reasons, 409 on a second submit, passes, promotes', async () => {
    const p = (await call('GET', byOffer('contoso-offer-3'))).body.value[0].id;
    const first = await call('POST', `/products/${p}/submissions`, {});
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ state: 'InProgress', substate: 'Submitted' });
    // The same draft submitted again while in certification: a conflict naming the open submission.
    const second = await call('POST', `/products/${p}/submissions`, {});
    expect(second.status).toBe(409);
    expect(second.body.details[0].submissionId).toBe(first.body.id);
    const pending = await call('GET', `/products/${p}/submissions/${first.body.id}/reports`);
    expect(pending.body.value[0].status).toBe('Pending');
    expect((await call('POST', `/products/${p}/submissions/${first.body.id}/promote`)).status).toBe(
      409,
    );
    expect((await settled(p, first.body.id)).substate).toBe('FailedInCertification');
    const report = await call('GET', `/products/${p}/submissions/${first.body.id}/reports`);
    expect(report.body.value[0].status).toBe('Failed');
    const reasons = await call('GET', `/products/${p}/submissions/${first.body.id}/validations`);
    expect(reasons.body.value.length).toBeGreaterThan(0);
    // Resubmitted: it passes, and goes live on promote.
    const retry = await call('POST', `/products/${p}/submissions`, {});
    expect(retry.status).toBe(201);
    expect((await settled(p, retry.body.id)).substate).toBe('ReadyToPublish');
    const live = await call('POST', `/products/${p}/submissions/${retry.body.id}/promote`);
    expect(live.body).toMatchObject({ state: 'Published', substate: 'InStore' });
    const stats = (await (await fetch(`${sb.url}/dev/stats`)).json()) as any;
    expect(stats.ingestion.submissions['contoso-offer-3']).toBe(2);
    expect(stats.ingestion.promoted['contoso-offer-3']).toBe(1);
    expect(stats.ingestion.conflicts).toBe(1);
    expect(stats.ingestion.calls).toBeGreaterThan(10);
  });

  it('answers 429 with Retry-After like the other routes', async () => {
    await fetch(`${sb.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: `${ING}/products`, status: 429, retryAfter: 1, times: 1 }),
    });
    const r = await call('GET', byOffer('contoso-offer-3'));
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect((await call('GET', byOffer('contoso-offer-3'))).status).toBe(200);
  });
});
