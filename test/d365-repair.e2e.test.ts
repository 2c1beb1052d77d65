// The D365 checklist never stays stuck: a checklist whose workflow was terminated is started again by
// POST …/d365 (what was done stays done), and an offer whose partner call fails after every retry shows
// `error` while the others go on, and is tried again by "check again".
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startE2E, type E2E, until } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'd365repair',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '1' },
    [],
    { certificationSeconds: 1 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const checklist = async (accountId: string, token: string): Promise<any> =>
  (await e.call('GET', `/api/accounts/${accountId}/d365`, { token })).body;
const waitFor = (accountId: string, token: string, ok: (c: any) => boolean, ms = 60_000) =>
  until(
    `the checklist of ${accountId}`,
    async () => {
      const c = await checklist(accountId, token);
      return ok(c) ? c : undefined;
    },
    ms,
  );
const offer = (c: any, id: string): any => c.offers.find((o: any) => o.offerId === id);
const step = (c: any, name: string): any => c.steps.find((s: any) => s.name === name);
const instance = async (id: string): Promise<any> =>
  (await fetch(`${e.app.url}/runtime/webhooks/durabletask/instances/${id}`)).json();
const stats = async (): Promise<{ ingestion: { submissions: Record<string, number> } }> =>
  (await fetch(`${e.sandbox.url}/dev/stats`)).json() as never;
async function auditActions(accountId: string): Promise<string[]> {
  const table = TableClient.fromConnectionString(
    inject('storage'),
    `${e.app.env.TABLE_PREFIX}Checklists`,
    { allowInsecureConnection: true },
  );
  const out: string[] = [];
  for await (const r of table.listEntities<{ Action: string }>({
    queryOptions: {
      filter: `PartitionKey eq '${accountId}' and RowKey ge 'audit~' and RowKey lt 'audit~~'`,
    },
  }))
    out.push(r.Action);
  return out;
}

describe('a checklist whose workflow was terminated', () => {
  it('is started again by POST …/d365, keeping what was done', async () => {
    const token = await e.token('tom@tailspintoys.com');
    expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token })).status).toBe(202);
    await waitFor('cpp-tailspin', token, (c) => c.steps.length === 4);
    for (const s of ['pmc-migrated', 'marketplace-enrolled'])
      await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', { token, body: { step: s } });
    await waitFor(
      'cpp-tailspin',
      token,
      (c) =>
        step(c, 'marketplace-enrolled').state === 'done' &&
        step(c, 'pmc-migrated').state === 'done',
    );
    await fetch(
      `${e.app.url}/runtime/webhooks/durabletask/instances/d365-cpp-tailspin/terminate?reason=test`,
      { method: 'POST' },
    );
    await until('the termination', async () =>
      (await instance('d365-cpp-tailspin')).runtimeStatus === 'Terminated' ? true : undefined,
    );
    // Stuck: nothing listens for the owner's answers any more.
    const stuck = await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    expect([stuck.status, stuck.body.error?.code]).toEqual([409, 'not-started']);
    expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token })).status).toBe(202);
    await until('the workflow running again', async () =>
      (await instance('d365-cpp-tailspin')).runtimeStatus === 'Running' ? true : undefined,
    );
    // Nothing can be read without an MPN ID: the two confirmations stayed done.
    let c = await waitFor('cpp-tailspin', token, (x) =>
      x.steps.every((s: any) => s.updatedAt !== undefined),
    );
    expect(step(c, 'pmc-migrated')).toMatchObject({
      state: 'done',
      detail: 'Confirmed by tom@tailspintoys.com.',
    });
    expect(step(c, 'marketplace-enrolled').state).toBe('done');
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', {
          token,
          body: { step: 'isv-addendum' },
        })
      ).status,
    ).toBe(202);
    c = await waitFor('cpp-tailspin', token, (x) =>
      x.offers.every((o: any) => o.state === 'ready-to-go-live'),
    );
    expect(step(c, 'isv-addendum').state).toBe('done');
    expect((await stats()).ingestion.submissions).toMatchObject({
      'tailspin-offer-1': 1,
      'tailspin-offer-2': 1,
    });
    const actions = await auditActions('cpp-tailspin');
    // The request and the workflow's own record of it; the earlier trail is still there.
    expect(actions.filter((a) => a === 'restart')).toHaveLength(2);
    expect(actions).toEqual(
      expect.arrayContaining(['start', 'attest:pmc-migrated', 'attest:marketplace-enrolled']),
    );
  }, 90_000);
});

describe('a checklist terminated while an offer waits for go-live', () => {
  it('takes the approved submission over after the restart, submitting nothing twice', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    expect((await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365', { token })).status).toBe(
      202,
    );
    await waitFor('cpp-fabrikam-msa', token, (c) => c.steps.length === 4);
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    const before = await waitFor(
      'cpp-fabrikam-msa',
      token,
      (c) => offer(c, 'fabrikam-offer-2').state === 'ready-to-go-live',
    );
    const offerInstance = 'd365-cpp-fabrikam-msa--fabrikam-offer-2';
    expect((await instance(offerInstance)).runtimeStatus).toBe('Running');
    await fetch(
      `${e.app.url}/runtime/webhooks/durabletask/instances/d365-cpp-fabrikam-msa/terminate?reason=test`,
      { method: 'POST' },
    );
    await until('the termination', async () =>
      (await instance('d365-cpp-fabrikam-msa')).runtimeStatus === 'Terminated' ? true : undefined,
    );
    expect((await e.call('POST', '/api/accounts/cpp-fabrikam-msa/d365', { token })).status).toBe(
      202,
    );
    // The offer's workflow is the new checklist's: it looked at the approved submission again.
    await until('the offer workflow taken over', async () => {
      const i = await instance(offerInstance);
      return i.runtimeStatus === 'Running' && i.input?.previous ? true : undefined;
    });
    const again = await waitFor(
      'cpp-fabrikam-msa',
      token,
      (c) =>
        offer(c, 'fabrikam-offer-2').state === 'ready-to-go-live' &&
        offer(c, 'fabrikam-offer-2').updatedAt !== offer(before, 'fabrikam-offer-2').updatedAt,
    );
    expect(offer(again, 'fabrikam-offer-2').submissionId).toBe(
      offer(before, 'fabrikam-offer-2').submissionId,
    );
    expect(
      (
        await e.call(
          'POST',
          '/api/accounts/cpp-fabrikam-msa/d365/offers/fabrikam-offer-2/go-live',
          { token },
        )
      ).status,
    ).toBe(202);
    await waitFor('cpp-fabrikam-msa', token, (c) => c.status === 'completed');
    expect((await stats()).ingestion.submissions['fabrikam-offer-2']).toBe(1);
    await until('the checklist workflow completed', async () =>
      (await instance('d365-cpp-fabrikam-msa')).runtimeStatus === 'Completed' ? true : undefined,
    );
  }, 90_000);
});

describe('an offer whose submission fails after every retry', () => {
  it('shows it stalled in its contract state with the next action, the other offer goes on, and check again retries it', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token })).status).toBe(202);
    let c = await waitFor('cpp-contoso', token, (x) => x.steps.length === 4);
    const productId = offer(c, 'contoso-offer-3').productId as string;
    expect(productId).toBeTruthy();
    // Partner Center answers this offer's submission 503 (come back in 5 minutes) on every try the
    // retry policy makes: five activity attempts, each failing at once.
    await fetch(`${e.sandbox.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({
        route: `/v1.0/ingestion/products/${productId}/submissions`,
        method: 'POST',
        status: 503,
        retryAfter: 300,
        times: 5,
      }),
    });
    await e.call('POST', '/api/accounts/cpp-contoso/d365/attest', {
      token,
      body: { step: 'isv-addendum' },
    });
    c = await waitFor(
      'cpp-contoso',
      token,
      (x) =>
        offer(x, 'contoso-offer-3').stalled === true &&
        offer(x, 'contoso-offer-4').state === 'ready-to-go-live',
      80_000,
    );
    // It keeps a state of api.md's contract: the submission is what failed.
    expect(offer(c, 'contoso-offer-3')).toMatchObject({
      state: 'ready-to-submit',
      reason: expect.stringMatching(/could not submit the offer for certification/),
      nextAction: expect.stringMatching(/Check again/),
    });
    expect((await instance('d365-cpp-contoso')).runtimeStatus).toBe('Running');
    // The checklist still follows the other offer.
    await e.call('POST', '/api/accounts/cpp-contoso/d365/offers/contoso-offer-4/go-live', {
      token,
    });
    await waitFor('cpp-contoso', token, (x) => offer(x, 'contoso-offer-4').state === 'live');
    const faults = (await (await fetch(`${e.sandbox.url}/dev/faults`)).json()) as {
      times: number;
    }[];
    expect(faults.every((f) => f.times === 0)).toBe(true);
    expect((await e.call('POST', '/api/accounts/cpp-contoso/d365', { token })).status).toBe(202);
    c = await waitFor(
      'cpp-contoso',
      token,
      (x) => offer(x, 'contoso-offer-3').state === 'ready-to-go-live',
    );
    expect(offer(c, 'contoso-offer-3').stalled).toBeUndefined();
    await e.call('POST', '/api/accounts/cpp-contoso/d365/offers/contoso-offer-3/go-live', {
      token,
    });
    c = await waitFor('cpp-contoso', token, (x) => x.status === 'completed');
    expect(c.offers.map((o: any) => o.state)).toEqual(['live', 'live', 'excluded']);
    expect((await stats()).ingestion.submissions['contoso-offer-3']).toBe(1);
  }, 120_000);
});
