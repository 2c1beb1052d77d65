// The billing step in the sandbox: `/dev/billing` completes an account's billing profile (a world like
// Tailspin's starts incomplete), and "check again" then completes the step and the checklist.
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { World } from '../sandbox/world.js';
import { startE2E, type E2E, until } from './support/e2e.js';

/** Tailspin with its MPN ID (4567890: billing incomplete, membership still in PMC). */
const world = (w: World): World => ({
  ...w,
  cppAccounts: w.cppAccounts.map((a) => (a.id === 'cpp-tailspin' ? { ...a, mpnId: '4567890' } : a)),
});

let e: E2E;
beforeAll(async () => {
  e = await startE2E(
    'd365billing',
    { MIGRATION_DEADLINE: '2099-10-15T23:59:59-07:00', D365_CERTIFICATION_CHECK_SECONDS: '1' },
    [],
    { world, certificationSeconds: 1 },
  );
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const checklist = async (token: string): Promise<any> =>
  (await e.call('GET', '/api/accounts/cpp-tailspin/d365', { token })).body;
const waitFor = (token: string, what: string, ok: (c: any) => boolean) =>
  until(what, async () => {
    const c = await checklist(token);
    return ok(c) ? c : undefined;
  });
const step = (c: any, name: string): any => c.steps.find((s: any) => s.name === name);
const billing = async (): Promise<unknown> =>
  await (await fetch(`${e.sandbox.url}/v1/profiles/billing?mpnId=4567890`)).json();

it('completes the billing step once the sandbox says the profile is complete', async () => {
  const token = await e.token('tom@tailspintoys.com');
  expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token })).status).toBe(202);
  let c = await waitFor(token, 'the steps', (x) => x.steps.length === 4);
  expect(step(c, 'billing-complete')).toMatchObject({
    state: 'action-required',
    detail: 'The billing profile is incomplete.',
  });
  for (const s of ['pmc-migrated', 'isv-addendum'])
    await e.call('POST', '/api/accounts/cpp-tailspin/d365/attest', { token, body: { step: s } });
  await waitFor(token, 'approval', (x) =>
    x.offers.every((o: any) => o.state === 'ready-to-go-live'),
  );
  for (const id of ['tailspin-offer-1', 'tailspin-offer-2'])
    await e.call('POST', `/api/accounts/cpp-tailspin/d365/offers/${id}/go-live`, { token });
  c = await waitFor(token, 'live', (x) => x.offers.every((o: any) => o.state === 'live'));
  // Everything else is done: only billing is left, and check again alone cannot change it.
  expect(c.status).toBe('in-progress');
  await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token });
  // Bad requests change nothing.
  for (const body of [{ accountId: 'cpp-tailspin' }, { mpnId: '999999', complete: true }]) {
    const r = await fetch(`${e.sandbox.url}/dev/billing`, {
      method: 'POST',
      body: JSON.stringify(body),
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
  }
  expect(await billing()).toMatchObject({ complete: false });
  const set = await fetch(`${e.sandbox.url}/dev/billing`, {
    method: 'POST',
    body: JSON.stringify({ accountId: 'cpp-tailspin', complete: true }),
  });
  expect([set.status, await set.json()]).toEqual([200, { mpnId: '4567890', complete: true }]);
  // Kept in the sandbox's storage, like its other state.
  await e.restartSandbox();
  expect(await billing()).toMatchObject({ complete: true });
  expect((await e.call('POST', '/api/accounts/cpp-tailspin/d365', { token })).status).toBe(202);
  c = await waitFor(token, 'completed', (x) => x.status === 'completed');
  expect(step(c, 'billing-complete')).toMatchObject({
    state: 'done',
    detail: 'The billing profile is complete.',
  });
  // The workflow itself finished, each offer's workflow scheduled once.
  const inst = (await (
    await fetch(
      `${e.app.url}/runtime/webhooks/durabletask/instances/d365-cpp-tailspin?showHistory=true`,
    )
  ).json()) as { runtimeStatus: string; historyEvents: { EventType: string }[] };
  expect(inst.runtimeStatus).toBe('Completed');
  expect(inst.historyEvents.filter((h) => h.EventType.startsWith('SubOrchestration'))).toHaveLength(
    2,
  );
}, 90_000);
