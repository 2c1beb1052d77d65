// The Dynamics 365 / PowerApps checklist end to end (R-D365): each demo-world publisher with such offers
// through its path, through the local host, the sandbox's ingestion API over HTTP and Azurite.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { World } from '../sandbox/world.js';
import { startE2E, type E2E } from './support/e2e.js';

/** The demo world, with one offer that fails its first certification and one app on an old platform. */
const world = (w: World): World => ({
  ...w,
  cppAccounts: w.cppAccounts.map((a) =>
    a.id === 'cpp-contoso'
      ? {
          ...a,
          offers: a.offers.map((o) =>
            o.id === 'contoso-offer-3' ? { ...o, failsCertificationOnce: true } : o,
          ),
        }
      : a.id === 'cpp-northwind'
        ? {
            ...a,
            offers: [
              ...a.offers,
              {
                id: 'northwind-offer-2',
                name: 'Northwind Field App',
                kind: 'powerapps' as const,
                status: 'live' as const,
                inAppSource: true,
                supportsLatestPlatform: false,
              },
            ],
          }
        : a,
  ),
});

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'd365',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '1' },
    [],
    { world, certificationSeconds: 1 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

interface Stats {
  ingestion: {
    byOffer: Record<string, number>;
    submissions: Record<string, number>;
    productsCreated: Record<string, number>;
    promoted: Record<string, number>;
    calls: number;
  };
}
const stats = async (): Promise<Stats> =>
  (await fetch(`${e.sandbox.url}/dev/stats`)).json() as never;

async function checklist(accountId: string, token: string): Promise<any> {
  const r = await e.call('GET', `/api/accounts/${accountId}/d365`, { token });
  expect(r.status).toBe(200);
  return r.body;
}
async function until(
  accountId: string,
  token: string,
  ok: (c: any) => boolean,
  timeoutMs = 30_000,
): Promise<any> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    last = await checklist(accountId, token);
    if (ok(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`checklist of ${accountId} never matched; last: ${JSON.stringify(last)}`);
}
const offer = (c: any, id: string): any => c.offers.find((o: any) => o.offerId === id);
const step = (c: any, name: string): any => c.steps.find((s: any) => s.name === name);

describe('contoso: a certification failure, a created offer, Business Central untouched', () => {
  it('goes from start to live, refusing go-live until approved', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const before = await checklist('cpp-contoso', token);
    expect(before.status).toBe('not-started');
    expect(before.offers.map((o: any) => [o.offerId, o.state])).toEqual([
      ['contoso-offer-3', 'ready-to-submit'],
      ['contoso-offer-4', 'needs-appsource-offer'],
      ['contoso-offer-5', 'excluded'],
    ]);
    const start = await e.call('POST', '/api/accounts/cpp-contoso/d365', { token });
    expect(start.status).toBe(202);
    // Read from the profile: PMC and enrollment and billing done; the addendum needs the owner.
    let c = await until('cpp-contoso', token, (x) => x.steps.length === 4);
    expect(c.status).toBe('in-progress');
    expect(c.steps.map((s: any) => [s.name, s.state])).toEqual([
      ['pmc-migrated', 'done'],
      ['marketplace-enrolled', 'done'],
      ['isv-addendum', 'action-required'],
      ['billing-complete', 'done'],
    ]);
    expect(step(c, 'isv-addendum').nextAction).toMatch(/ISV addendum/);
    expect(offer(c, 'contoso-offer-5')).toMatchObject({
      state: 'excluded',
      reason: expect.stringMatching(/Business Central/),
    });
    // Not approved: go-live is refused and changes nothing.
    const early = await e.call(
      'POST',
      '/api/accounts/cpp-contoso/d365/offers/contoso-offer-3/go-live',
      {
        token,
      },
    );
    expect(early.status).toBe(409);
    expect(early.body.error.code).toBe('not-ready-to-go-live');
    // Nothing is submitted before the addendum is confirmed.
    expect((await stats()).ingestion.submissions['contoso-offer-3']).toBeUndefined();
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-contoso/d365/attest', {
          token,
          body: { step: 'isv-addendum' },
        })
      ).status,
    ).toBe(202);
    c = await until(
      'cpp-contoso',
      token,
      (x) =>
        offer(x, 'contoso-offer-3').state === 'certification-failed' &&
        offer(x, 'contoso-offer-4').state === 'ready-to-go-live',
    );
    expect(step(c, 'isv-addendum')).toMatchObject({
      state: 'done',
      detail: 'Confirmed by olivia.owner@contoso.com.',
    });
    // The failed report is shown with its reasons.
    expect(offer(c, 'contoso-offer-3').report).toEqual({
      status: 'Failed',
      reasons: expect.arrayContaining([expect.stringMatching(/privacy policy/)]),
    });
    // The PowerApps offer had no AppSource offer: one of kind Customer Engagement was created.
    const created = offer(c, 'contoso-offer-4');
    expect(created.appSource).toBe('created');
    const product = (await (
      await fetch(`${e.sandbox.url}/v1.0/ingestion/products/${created.productId}`)
    ).json()) as { resourceType: string; externalIDs: { value: string }[] };
    expect(product.resourceType).toBe('AzureDynamics365ForCustomerEngagement');
    expect(product.externalIDs[0]!.value).toBe('contoso-offer-4');
    // Resubmission ("check again") after the fix.
    expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token })).status).toBe(202);
    await until(
      'cpp-contoso',
      token,
      (x) => offer(x, 'contoso-offer-3').state === 'ready-to-go-live',
    );
    expect((await stats()).ingestion.submissions['contoso-offer-3']).toBe(2);
    for (const id of ['contoso-offer-3', 'contoso-offer-4'])
      expect(
        (await e.call('POST', `/api/accounts/cpp-contoso/d365/offers/${id}/go-live`, { token }))
          .status,
      ).toBe(202);
    c = await until('cpp-contoso', token, (x) => x.status === 'completed');
    expect(c.offers.map((o: any) => o.state)).toEqual(['live', 'live', 'excluded']);
    const s = await stats();
    expect(s.ingestion.promoted).toMatchObject({ 'contoso-offer-3': 1, 'contoso-offer-4': 1 });
    // Business Central: never touched, not even looked up.
    expect(s.ingestion.byOffer['contoso-offer-5']).toBeUndefined();
    const calls = (
      (await (await fetch(`${e.sandbox.url}/dev/calls`)).json()) as { calls: string[] }
    ).calls;
    expect(calls.some((x) => x.includes('contoso-offer-5'))).toBe(false);
    // The audit trail beside the row: the owner's requests, every state change and external write.
    const table = TableClient.fromConnectionString(
      inject('storage'),
      `${e.app.env.TABLE_PREFIX}Checklists`,
      { allowInsecureConnection: true },
    );
    const actions: string[] = [];
    for await (const r of table.listEntities<{ Action: string; Actor: string }>({
      queryOptions: {
        filter: "PartitionKey eq 'cpp-contoso' and RowKey ge 'audit~' and RowKey lt 'audit~~'",
      },
    }))
      actions.push(r.Action);
    expect(actions).toEqual(
      expect.arrayContaining([
        'start-requested',
        'start',
        'attest:isv-addendum',
        'create-appsource-offer',
        'submit',
        'certification',
        'check-again',
        'go-live:contoso-offer-3',
        'go-live',
      ]),
    );
    // A second start returns the finished checklist; nothing is submitted again.
    const again = await e.call('POST', '/api/accounts/cpp-contoso/d365', { token });
    expect(again.status).toBe(202);
    expect(again.body.status).toBe('completed');
    expect((await stats()).ingestion.submissions['contoso-offer-3']).toBe(2);
  }, 90_000);
});

describe('fabrikam (MSA): an Operations offer with a Premium-tier request', () => {
  it('is approved with notes and goes live', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    const start = await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365', {
      token,
      body: { premiumTier: true },
    });
    expect(start.status).toBe(202);
    await until(
      'cpp-fabrikam-msa',
      token,
      (x) => step(x, 'isv-addendum')?.state === 'action-required',
    );
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    const c = await until(
      'cpp-fabrikam-msa',
      token,
      (x) => offer(x, 'fabrikam-offer-2')?.state === 'ready-to-go-live',
    );
    expect(offer(c, 'fabrikam-offer-2').report.status).toBe('PassedWithNotes');
    expect(offer(c, 'fabrikam-offer-2').reason).toMatch(/Premium tier/);
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365/offers/fabrikam-offer-2/go-live', {
      token,
    });
    const done = await until('cpp-fabrikam-msa', token, (x) => x.status === 'completed');
    expect(offer(done, 'fabrikam-offer-2').state).toBe('live');
    expect(done.steps.every((s: any) => s.state === 'done')).toBe(true);
  }, 60_000);
});

describe('tailspin: no MPN ID, so everything but billing is attested', () => {
  it('creates the missing Customer Engagement offer, goes live, and waits for billing', async () => {
    const token = await e.token('tom@tailspintoys.com');
    expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token })).status).toBe(202);
    let c = await until('cpp-tailspin', token, (x) => x.steps.length === 4);
    expect(c.steps.map((s: any) => s.state)).toEqual([
      'action-required',
      'action-required',
      'action-required',
      'action-required',
    ]);
    expect(step(c, 'pmc-migrated').detail).toMatch(/No MPN ID/);
    for (const s of ['pmc-migrated', 'marketplace-enrolled', 'isv-addendum'])
      expect(
        (
          await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', {
            token,
            body: { step: s },
          })
        ).status,
      ).toBe(202);
    c = await until('cpp-tailspin', token, (x) =>
      x.offers.every((o: any) => o.state === 'ready-to-go-live'),
    );
    expect(offer(c, 'tailspin-offer-2').appSource).toBe('created');
    expect(offer(c, 'tailspin-offer-1').appSource).toBe('existing');
    const products = (await (
      await fetch(
        `${e.sandbox.url}/v1.0/ingestion/products?$filter=${encodeURIComponent("ExternalIDs/Any(i:i/Type eq 'AzureOfferID' and i/Value eq 'tailspin-offer-2')")}`,
      )
    ).json()) as { value: { resourceType: string }[] };
    expect(products.value.map((p) => p.resourceType)).toEqual([
      'AzureDynamics365ForCustomerEngagement',
    ]);
    for (const id of ['tailspin-offer-1', 'tailspin-offer-2'])
      await e.call('POST', `/api/accounts/cpp-tailspin/d365/offers/${id}/go-live`, { token });
    c = await until('cpp-tailspin', token, (x) => x.offers.every((o: any) => o.state === 'live'));
    // Billing cannot be read without an MPN ID: the checklist is not finished, and says so.
    expect(c.status).toBe('in-progress');
    expect(step(c, 'billing-complete')).toMatchObject({
      state: 'action-required',
      nextAction: expect.stringMatching(/billing/),
    });
    // An attestation of a step already done changes nothing.
    const again = await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    expect(again.status).toBe(202);
  }, 90_000);
});

describe('northwind: an app that does not support the latest platform', () => {
  it('is refused with the reason, and never submitted', async () => {
    const token = await e.token('nina@northwindtraders.com');
    expect((await e.call('POST', '/api/accounts/cpp-northwind/d365', { token })).status).toBe(202);
    await until('cpp-northwind', token, (x) => x.steps.length === 4);
    for (const s of ['pmc-migrated', 'marketplace-enrolled', 'isv-addendum'])
      await e.call('POST', '/api/accounts/cpp-northwind/d365/attest', { token, body: { step: s } });
    const c = await until('cpp-northwind', token, (x) =>
      /latest Business Applications platform/.test(offer(x, 'northwind-offer-2')?.reason ?? ''),
    );
    expect(offer(c, 'northwind-offer-2').state).toBe('ready-to-submit');
    expect((await stats()).ingestion.submissions['northwind-offer-2']).toBeUndefined();
  }, 60_000);

  it('an account without such offers has no checklist to start', async () => {
    const token = await e.token('lara@litware.com');
    const r = await e.call('POST', '/api/accounts/cpp-litware/d365', { token });
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe('no-d365-offers');
    expect((await checklist('cpp-litware', token)).offers).toEqual([]);
  });
});

describe('bad input', () => {
  it('answers 4xx on every route and changes nothing', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const before = await checklist('cpp-contoso', token);
    const statsBefore = (await stats()).ingestion;
    const cases: [string, string, { raw?: string; body?: unknown }, number][] = [
      ['GET', '/api/accounts/bad%20id!/d365', {}, 400],
      ['POST', '/api/accounts/cpp-contoso/d365', { body: { premiumTier: 'yes' } }, 400],
      ['POST', '/api/accounts/cpp-contoso/d365', { raw: '{"premiumTier":' }, 400],
      ['POST', '/api/accounts/cpp-contoso/d365', { body: { other: 1 } }, 400],
      ['POST', '/api/accounts/cpp-contoso/d365/attest', { body: {} }, 400],
      [
        'POST',
        '/api/accounts/cpp-contoso/d365/attest',
        { body: { step: 'billing-complete' } },
        400,
      ],
      ['POST', '/api/accounts/cpp-contoso/d365/attest', { raw: 'nope' }, 400],
      ['POST', '/api/accounts/cpp-contoso/d365/offers/bad%20offer!/go-live', {}, 400],
      [
        'POST',
        '/api/accounts/cpp-contoso/d365/offers/contoso-offer-3/go-live',
        { body: { x: 1 } },
        400,
      ],
      ['POST', '/api/accounts/cpp-contoso/d365/offers/no-such-offer/go-live', {}, 404],
      ['POST', '/api/accounts/cpp-contoso/d365/offers/contoso-offer-5/go-live', {}, 409],
    ];
    for (const [method, path, opts, status] of cases) {
      const r = await e.call(method, path, { token, ...opts });
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(r.body.error.code).toMatch(/^[a-z-]+$/);
    }
    // Without a token, and for someone else's account.
    expect((await e.call('GET', '/api/accounts/cpp-contoso/d365')).status).toBe(401);
    const other = await e.token('tom@tailspintoys.com');
    expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token: other })).status).toBe(
      403,
    );
    expect(await checklist('cpp-contoso', token)).toMatchObject({
      updatedAt: before.updatedAt,
      offers: before.offers,
      steps: before.steps,
    });
    expect((await stats()).ingestion.submissions).toEqual(statsBefore.submissions);
    // Before a start: an attestation or a go-live is refused (409 not-started) and starts nothing.
    const admin = await e.token('admin@example.com', { roles: ['Migration.Admin'] });
    const attest = await e.call('POST', '/api/accounts/cpp-wideworld/d365/attest', {
      token: admin,
      body: { step: 'isv-addendum' },
    });
    expect([attest.status, attest.body.error.code]).toEqual([409, 'not-started']);
    const live = await e.call('POST', '/api/accounts/cpp-wideworld/d365/offers/x/go-live', {
      token: admin,
    });
    expect([live.status, live.body.error.code]).toEqual([409, 'not-started']);
    expect((await checklist('cpp-wideworld', admin)).status).toBe('not-started');
    expect(
      (await e.call('GET', '/api/accounts/no-such-account/d365', { token: admin })).status,
    ).toBe(404);
  });
});
