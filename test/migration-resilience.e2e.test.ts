// Cancel, bad input, partner storms, a killed host, secrets and back-sync: the migration's promises under stress.
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadWorld } from '../sandbox/world.js';
import { projectRoot, spawnDevhost } from './support/devhost.js';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('res');
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const done = (s: { status: string }): boolean =>
  ['completed', 'failed', 'cancelled'].includes(s.status);
const stats = async (): Promise<{ writes: Record<string, number>; deduplicated: number }> =>
  (await fetch(`${e.sandbox.url}/dev/stats`)).json() as never;
const fault = (f: Record<string, unknown>): Promise<Response> =>
  fetch(`${e.sandbox.url}/dev/faults`, { method: 'POST', body: JSON.stringify(f) });

describe('cancel', () => {
  it('cancels before switch-over, then allows a new attempt; refuses once switched over', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    // Started by an admin, whose address is not the owner's sign-in (R-TEN-1): it waits for one.
    const admin = await e.token('admin@migration.example');
    await e.call('POST', '/api/accounts/cpp-contoso/migration', { token: admin });
    await e.waitForStatus('cpp-contoso', token, (s) => s.status === 'awaiting-work-email');
    expect(
      (await e.call('POST', '/api/accounts/cpp-contoso/migration/cancel', { token })).status,
    ).toBe(202);
    const c = await e.waitForStatus('cpp-contoso', token, done);
    expect(c.status).toBe('cancelled');
    expect(
      (await e.call('POST', '/api/accounts/cpp-contoso/migration/cancel', { token })).body.error
        .code,
    ).toBe('too-late-to-cancel');
    const again = await e.call('POST', '/api/accounts/cpp-contoso/migration', {
      token,
      body: { workEmail: 'olivia.owner@contoso.com' },
    });
    expect(again.status).toBe(202);
    expect(again.body.attempt).toBe(2);
    const s = await e.waitForStatus('cpp-contoso', token, done);
    expect(s.status).toBe('completed');
    const late = await e.call('POST', '/api/accounts/cpp-contoso/migration/cancel', { token });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('too-late-to-cancel');
  });
});

describe('bad input', () => {
  it.each([
    ['malformed JSON', '/api/accounts/cpp-tailspin/migration', { raw: '{"workEmail":' }, 400],
    [
      'an oversized body',
      '/api/accounts/cpp-tailspin/migration',
      { raw: JSON.stringify({ workEmail: 'a@tailspintoys.com', pad: 'x'.repeat(70_000) }) },
      413,
    ],
    [
      'a bad e-mail',
      '/api/accounts/cpp-tailspin/migration',
      { body: { workEmail: 'not-an-email' } },
      400,
    ],
    [
      'an e-mail over 254 characters',
      '/api/accounts/cpp-tailspin/migration',
      { body: { workEmail: `${'a'.repeat(250)}@tailspintoys.com` } },
      400,
    ],
    [
      'an unknown field',
      '/api/accounts/cpp-tailspin/migration',
      { body: { workEmail: 'tom@tailspintoys.com', admin: true } },
      400,
    ],
    ['a short MPN ID', '/api/accounts/cpp-tailspin/migration', { body: { mpnId: '123' } }, 400],
    [
      'a non-numeric MPN ID',
      '/api/accounts/cpp-tailspin/migration',
      { body: { mpnId: '12345ab' } },
      400,
    ],
    ['a bad account id', '/api/accounts/bad%20id!/migration', { body: {} }, 400],
    [
      'an account id over 64 characters',
      `/api/accounts/${'a'.repeat(65)}/migration`,
      { body: {} },
      400,
    ],
  ])('answers %s with a 4xx and changes nothing', async (_name, path, opts, status) => {
    const token = await e.token('tom@tailspintoys.com');
    const before = await stats();
    const res = await e.call('POST', path, { token, ...opts });
    expect(res.status).toBe(status);
    expect(res.body.error.code).toMatch(/^(invalid-request|payload-too-large)$/);
    if (status === 400 && res.body.error.code === 'invalid-request')
      expect(Array.isArray(res.body.error.issues)).toBe(true);
    expect((await e.call('GET', '/api/accounts/cpp-tailspin/migration', { token })).status).toBe(
      404,
    );
    expect(await stats()).toEqual(before);
  });

  it('runs preflight without changing anything', async () => {
    const token = await e.token('nina@northwindtraders.com');
    const before = await stats();
    const res = await e.call('POST', '/api/accounts/cpp-northwind/preflight', {
      token,
      body: { workEmail: 'nina@northwindtraders.com' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      ready: false,
      wouldCopy: {
        publishingAgreement: 1,
        companyProfile: 1,
        payoutProfile: 1,
        users: 1,
        offers: 1,
      },
    });
    expect(res.body.blockers.map((b: { code: string }) => b.code)).toEqual([
      'mpn-certificate-invalid',
    ]);
    expect((await e.call('GET', '/api/accounts/cpp-northwind/migration', { token })).status).toBe(
      404,
    );
    expect(await stats()).toEqual(before);
  });
});

describe('partner storms and crashes', () => {
  it('survives 429 and 500 storms with no duplicate writes', async () => {
    await fault({
      route: '/v1/accounts/cpp-fabrikam-msa/users/$batch',
      status: 429,
      retryAfter: 0,
      times: 3,
    });
    await fault({ route: '/v1/accounts/cpp-fabrikam-msa/offers/$batch', status: 500, times: 3 });
    await fault({ route: '/v1/profiles/mpn', status: 503, times: 2 });
    const token = await e.token('fabrikam.publisher@outlook.com');
    await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', {
      token,
      body: { workEmail: 'publisher@fabrikam.com' },
    });
    const s = await e.waitForStatus('cpp-fabrikam-msa', token, done, 60_000);
    expect(s.status).toBe('completed');
    const { writes } = await stats();
    expect(writes['cpp-fabrikam-msa/users']).toBe(2);
    expect(writes['cpp-fabrikam-msa/offers']).toBe(2);
    expect(writes['cpp-fabrikam-msa/payout-profile']).toBe(1);
  });

  it('finishes the large account after the host is killed during copy:users, target equal to source', async () => {
    // Slow the user batches so the kill lands mid-copy.
    await fault({ route: '/v1/accounts/cpp-litware/users/$batch', latencyMs: 300, times: 20 });
    const token = await e.token('lara@litware.com');
    await e.call('POST', '/api/accounts/cpp-litware/migration', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    await e.waitForStatus('cpp-litware', token, (s) => s.status === 'copying', 30_000);
    await new Promise((r) => setTimeout(r, 500));
    const writesBefore = (await stats()).writes['cpp-litware/users'] ?? 0;
    const env = e.app.env;
    await e.app.stop('SIGKILL');
    e.app = Object.assign(await spawnDevhost(projectRoot, { env }), { env });
    const s = await e.waitForStatus('cpp-litware', token, done, 30_000).catch((err: unknown) => {
      console.log(e.app.output().slice(-6000));
      throw err;
    });
    expect(s.status).toBe('completed');
    const summary = (await (
      await fetch(`${e.sandbox.url}/v1/accounts/cpp-litware/summary`)
    ).json()) as { counts: Record<string, number> };
    expect(summary.counts).toMatchObject({ users: 2000, offers: 270 });
    const { writes } = await stats();
    // Re-run batches carried the same MS-RequestId and were not applied twice.
    expect(writes['cpp-litware/users']).toBe(2000);
    // The kill landed mid-copy: some batches were written before it, the rest after.
    expect(writesBefore).toBeLessThan(2000);
    expect(writes['cpp-litware/offers']).toBe(270);
  }, 120_000);
});

describe('secrets and back-sync', () => {
  it('never shows payout data in history, logs, audit or replies', async () => {
    const world = await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`);
    const secrets = world.cppAccounts.flatMap((a) =>
      Object.values(a.payoutProfile).filter(
        (v): v is string => typeof v === 'string' && v.length >= 8 && /\d/.test(v),
      ),
    );
    expect(secrets.length).toBeGreaterThan(5);
    const seen: string[] = [e.app.output()];
    const storage = inject('storage');
    const hub = e.app.env.AzureFunctionsJobHost__extensions__durableTask__hubName!;
    for (const t of [`${hub}History`, `${hub}Instances`, `${e.app.env.TABLE_PREFIX}Migrations`]) {
      const client = TableClient.fromConnectionString(storage, t, {
        allowInsecureConnection: true,
      });
      for await (const row of client.listEntities()) seen.push(JSON.stringify(row));
    }
    for (const [account, owner] of [
      ['cpp-contoso', 'olivia.owner@contoso.com'],
      ['cpp-litware', 'lara@litware.com'],
    ] as const) {
      const token = await e.token(owner);
      for (const path of ['migration', 'migration/audit', 'banner'])
        seen.push(
          JSON.stringify((await e.call('GET', `/api/accounts/${account}/${path}`, { token })).body),
        );
    }
    const text = seen.join('\n');
    expect(text.length).toBeGreaterThan(10_000);
    for (const secret of secrets)
      expect(text.includes(secret), `found a payout value in history, logs, audit or replies`).toBe(
        false,
      );
  });

  it('syncs a user added in Partner Center back into the read-only CPP account', async () => {
    const added = await fetch(
      `${e.sandbox.url}/v1/accounts/cpp-contoso/users/new.person@contoso.com`,
      { method: 'PUT', body: JSON.stringify({ role: 'developer' }) },
    );
    expect(added.status).toBe(200);
    const deadline = Date.now() + 15_000;
    let emails: string[] = [];
    while (Date.now() < deadline) {
      const users = (await (
        await fetch(`${e.sandbox.url}/cpp/accounts/cpp-contoso/users`)
      ).json()) as { items: { email: string }[] };
      emails = users.items.map((u) => u.email);
      if (emails.includes('new.person@contoso.com')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(emails).toContain('new.person@contoso.com');
  });
});
