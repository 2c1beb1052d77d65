// A cancel that is accepted is honoured, and a partner's permanent refusal fails the migration at once
// (issue 8, items 1 and 8): races are driven with sandbox latency faults, never with sleeps.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('cancel');
}, 60_000);
afterAll(async () => {
  await e?.close();
});
afterEach(async () => {
  await fetch(`${e.sandbox.url}/dev/faults`, { method: 'DELETE' });
});

interface Step {
  name: string;
  state: string;
  detail?: string;
}
const done = (s: { status: string }): boolean =>
  ['completed', 'failed', 'cancelled'].includes(s.status);
const stats = async (): Promise<{ writes: Record<string, number> }> =>
  (await fetch(`${e.sandbox.url}/dev/stats`)).json() as never;
const fault = (f: Record<string, unknown>): Promise<Response> =>
  fetch(`${e.sandbox.url}/dev/faults`, { method: 'POST', body: JSON.stringify(f) });
const faults = async (): Promise<{ pattern: string; times: number }[]> =>
  (await fetch(`${e.sandbox.url}/dev/faults`)).json() as never;
const stepOf = (s: { steps: Step[] }, name: string): Step | undefined =>
  s.steps.find((x) => x.name === name);
const unsettled = (s: { steps: Step[] }): Step[] =>
  s.steps.filter((x) => x.state === 'running' || x.state === 'waiting');
const writesOf = (writes: Record<string, number>, account: string): string[] =>
  Object.keys(writes).filter((k) => k.startsWith(`${account}/`));
const cppAccount = async (id: string): Promise<{ readOnly: boolean; migrated: boolean }> =>
  (await fetch(`${e.sandbox.url}/cpp/accounts/${id}`)).json() as never;

/** Polls a real signal (the sandbox's own counters) until it holds. */
async function until(ok: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}
/** True once every injected fault has been used up, i.e. the slowed requests are in flight. */
const faultsUsed = async (): Promise<boolean> => (await faults()).every((f) => f.times === 0);

describe('a cancel that is accepted is honoured', () => {
  it('during copying: the batches in flight land, no further batch is written, nothing stays running', async () => {
    // The first four user batches (one per parallel writer) hang, so the cancel lands while they fly.
    await fault({ route: '/v1/accounts/cpp-litware/users/$batch', latencyMs: 1500, times: 4 });
    const token = await e.token('lara@litware.com');
    await e.call('POST', '/api/accounts/cpp-litware/migration', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    await e.waitForStatus('cpp-litware', token, (s) => s.status === 'copying');
    await until(faultsUsed, 'four user batches in flight');
    const cancel = await e.call('POST', '/api/accounts/cpp-litware/migration/cancel', { token });
    expect(cancel.status).toBe(202);
    const s = await e.waitForStatus('cpp-litware', token, done);
    expect(s.status).toBe('cancelled');
    // When the status says cancelled the copies have stopped: the four batches in flight, and no more.
    const { writes } = await stats();
    expect(writes['cpp-litware/users']).toBe(400);
    expect(stepOf(s, 'copy:users')).toMatchObject({
      state: 'skipped',
      detail: 'stopped after 400 written',
    });
    expect(unsettled(s)).toEqual([]);
    const summary = (await (
      await fetch(`${e.sandbox.url}/v1/accounts/cpp-litware/summary`)
    ).json()) as { counts: Record<string, number> };
    expect(summary.counts.users).toBe(400);
    expect(await cppAccount('cpp-litware')).toMatchObject({ readOnly: false, migrated: false });
  });

  it('during verifying: it stops before the switch-over', async () => {
    await fault({ route: '/v1/accounts/cpp-contoso/summary', latencyMs: 1500, times: 1 });
    const token = await e.token('olivia.owner@contoso.com');
    await e.call('POST', '/api/accounts/cpp-contoso/migration', {
      token,
      body: { workEmail: 'olivia.owner@contoso.com' },
    });
    await e.waitForStatus('cpp-contoso', token, (s) => s.status === 'verifying');
    await until(faultsUsed, 'the verification reading the target');
    const cancel = await e.call('POST', '/api/accounts/cpp-contoso/migration/cancel', { token });
    expect(cancel.status).toBe(202);
    const s = await e.waitForStatus('cpp-contoso', token, done);
    expect(s.status).toBe('cancelled');
    expect(s.partnerCenterUrl).toBeUndefined();
    expect(unsettled(s)).toEqual([]);
    expect(stepOf(s, 'switch-over')?.state).not.toBe('done');
    const { writes } = await stats();
    expect(writes['cpp-contoso/activate']).toBeUndefined();
    expect(writes['cpp-contoso/switch-over']).toBeUndefined();
    expect(await cppAccount('cpp-contoso')).toMatchObject({ readOnly: false, migrated: false });
    const audit = await e.call('GET', '/api/accounts/cpp-contoso/migration/audit', { token });
    expect(audit.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'cancel-requested', outcome: 'accepted' }),
        expect.objectContaining({ action: 'cancel', outcome: 'cancelled' }),
      ]),
    );
  });

  it('once the switch-over began it is refused with 409 too-late-to-cancel, and the migration completes', async () => {
    await fault({ route: '/v1/accounts/cpp-litware/activate', latencyMs: 1500, times: 1 });
    const token = await e.token('lara@litware.com');
    const start = await e.call('POST', '/api/accounts/cpp-litware/migration', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    expect(start.body.attempt).toBe(2);
    await e.waitForStatus('cpp-litware', token, (s) => s.status === 'switching-over', 60_000);
    const late = await e.call('POST', '/api/accounts/cpp-litware/migration/cancel', { token });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('too-late-to-cancel');
    const s = await e.waitForStatus('cpp-litware', token, done);
    expect(s.status).toBe('completed');
  }, 90_000);

  it('during validating-tenant: it stops before anything is written', async () => {
    await fault({ route: '/fabrikam.com/v2.0/', latencyMs: 1500, times: 1 });
    const token = await e.token('fabrikam.publisher@outlook.com');
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', {
      token,
      body: { workEmail: 'publisher@fabrikam.com' },
    });
    await e.waitForStatus('cpp-fabrikam-msa', token, (s) => s.status === 'validating-tenant');
    await until(faultsUsed, 'the tenant discovery in flight');
    const cancel = await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration/cancel', {
      token,
    });
    expect(cancel.status).toBe(202);
    const s = await e.waitForStatus('cpp-fabrikam-msa', token, done);
    expect(s.status).toBe('cancelled');
    expect(unsettled(s)).toEqual([]);
    expect(s.steps.filter((x: Step) => x.name.startsWith('copy:'))).toEqual(
      expect.arrayContaining([expect.objectContaining({ state: 'pending' })]),
    );
    expect(writesOf((await stats()).writes, 'cpp-fabrikam-msa')).toEqual([]);
  });
});

describe('a permanent partner error is not retried', () => {
  it('fails the migration at once when Partner Center refuses a copy (403), after one request', async () => {
    await fault({
      route: '/v1/accounts/cpp-fabrikam-msa/users/$batch',
      status: 403,
      times: 10,
    });
    const token = await e.token('fabrikam.publisher@outlook.com');
    const start = await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', {
      token,
      body: { workEmail: 'publisher@fabrikam.com' },
    });
    expect(start.body.attempt).toBe(2);
    const s = await e.waitForStatus('cpp-fabrikam-msa', token, done, 10_000);
    expect(s.status).toBe('failed');
    expect(s.error.code).toBe('copy-failed');
    expect(s.error.message).toContain('403');
    expect(stepOf(s, 'copy:users')?.state).toBe('failed');
    expect(unsettled(s)).toEqual([]);
    // One request, not one per retry: nine of the ten injected refusals are left.
    expect((await faults()).map((f) => f.times)).toEqual([9]);
    expect(await cppAccount('cpp-fabrikam-msa')).toMatchObject({ readOnly: false });
  });

  it('fails at once when Partner Center refuses the MPN lookup (403), instead of hanging in retries', async () => {
    const token = await e.token('tom@tailspintoys.com');
    await e.call('POST', '/api/accounts/cpp-tailspin/migration', {
      token,
      body: { workEmail: 'tom@tailspintoys.com' },
    });
    await e.waitForStatus('cpp-tailspin', token, (s) => s.status === 'awaiting-mpn');
    await fault({ route: '/v1/profiles/mpn', status: 403, times: 10 });
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-tailspin/migration/mpn', {
          token,
          body: { mpnId: '4567890' },
        })
      ).status,
    ).toBe(202);
    const s = await e.waitForStatus('cpp-tailspin', token, done, 10_000);
    expect(s.status).toBe('failed');
    expect(s.error.code).toBe('partner-refused');
    expect(stepOf(s, 'mpn')?.state).toBe('failed');
    expect((await faults()).map((f) => f.times)).toEqual([9]);
  });
});
