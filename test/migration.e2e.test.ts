// Account migration end to end, one test per seed case of the demo world, through the local host,
// the sandbox over HTTP and Azurite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('mig');
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const done = (s: { status: string }): boolean =>
  ['completed', 'failed', 'cancelled'].includes(s.status);

describe('seed cases', () => {
  it('migrates the plain work account and switches CPP to read-only', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const start = await e.call('POST', '/api/accounts/cpp-contoso/migration', {
      token,
      body: { workEmail: 'olivia.owner@contoso.com' },
    });
    expect(start.status).toBe(202);
    expect(start.headers.get('location')).toMatch(/\/api\/accounts\/cpp-contoso\/migration$/);
    const s = await e.waitForStatus('cpp-contoso', token, done);
    expect(s.status).toBe('completed');
    expect(s.tenant).toEqual({ id: '6513270e-269e-4d37-b2a7-4de452e6b438', name: 'Contoso Ltd' });
    expect(s.partnerCenterUrl).toMatch(/cpp-contoso/);
    expect(s.steps.every((x: { state: string }) => x.state === 'done')).toBe(true);
    // A second start returns the first migration.
    const again = await e.call('POST', '/api/accounts/cpp-contoso/migration', { token, body: {} });
    expect(again.status).toBe(200);
    expect(again.body.attempt).toBe(1);
    const banner = await e.call('GET', '/api/accounts/cpp-contoso/banner', { token });
    expect(banner.body).toMatchObject({ banner: 'migrated', partnerCenterUrl: s.partnerCenterUrl });
    // CPP is read-only now (R-COPY-3).
    const write = await fetch(`${e.sandbox.url}/cpp/accounts/cpp-contoso/users/x@contoso.com`, {
      method: 'PUT',
      body: '{"role":"developer"}',
    });
    expect(write.status).toBe(403);
    const summary = (await (
      await fetch(`${e.sandbox.url}/v1/accounts/cpp-contoso/summary`)
    ).json()) as { counts: Record<string, number> };
    expect(summary.counts).toEqual({
      publishingAgreement: 1,
      companyProfile: 1,
      payoutProfile: 1,
      users: 3,
      offers: 5,
    });
    const audit = await e.call('GET', '/api/accounts/cpp-contoso/migration/audit', { token });
    expect(audit.body.items.map((i: { action: string }) => i.action)).toEqual(
      expect.arrayContaining([
        'start-requested',
        'validate-tenant',
        'copy',
        'switch-over',
        'notify',
        'write:users',
        'write:payout-profile',
      ]),
    );
  });

  it('refuses a consumer address for the MSA account, then accepts the work address', async () => {
    const token = await e.token('fabrikam.publisher@outlook.com');
    expect(
      (await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration', { token })).status,
    ).toBe(202);
    await e.waitForStatus('cpp-fabrikam-msa', token, (s) => s.status === 'awaiting-work-email');
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration/work-email', {
          token,
          body: { workEmail: 'me@outlook.com' },
        })
      ).status,
    ).toBe(202);
    const refused = await e.waitForStatus(
      'cpp-fabrikam-msa',
      token,
      (s) => s.error?.code === 'personal-email-not-allowed',
    );
    expect(refused.status).toBe('awaiting-work-email');
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-fabrikam-msa/migration/work-email', {
          token,
          body: { workEmail: 'publisher@fabrikam.com' },
        })
      ).status,
    ).toBe(202);
    const s = await e.waitForStatus('cpp-fabrikam-msa', token, done);
    expect(s.status).toBe('completed');
    expect(s.tenant.name).toBe('Fabrikam Inc');
  });

  it('names the expected tenant on a mismatch, and continues once fixed', async () => {
    const token = await e.token('nina@northwindtraders.com');
    await e.call('POST', '/api/accounts/cpp-northwind/migration', {
      token,
      body: { workEmail: 'nina@contoso.com' },
    });
    const s = await e.waitForStatus(
      'cpp-northwind',
      token,
      (x) => x.error?.code === 'tenant-mismatch',
    );
    expect(s.status).toBe('awaiting-work-email');
    expect(s.error.expectedTenant).toEqual({
      id: '9531985d-5d9d-49f8-9818-e811892f902b',
      name: 'Northwind Traders',
    });
    expect(s.error.message).toContain('Northwind Traders');
    await e.call('POST', '/api/accounts/cpp-northwind/migration/work-email', {
      token,
      body: { workEmail: 'nina@northwindtraders.com' },
    });
    // Northwind's MPN certificate has expired: the migration waits for a valid MPN ID.
    const mpn = await e.waitForStatus('cpp-northwind', token, (x) => x.status === 'awaiting-mpn');
    expect(mpn.error.code).toBe('mpn-certificate-invalid');
    expect(mpn.error.signUpUrl).toMatch(/^https:/);
    expect(mpn.tenant.name).toBe('Northwind Traders');
  });

  it('waits in "enroll in MPN" without an MPN ID, then completes once one is given', async () => {
    const token = await e.token('tom@tailspintoys.com');
    await e.call('POST', '/api/accounts/cpp-tailspin/migration', {
      token,
      body: { workEmail: 'tom@tailspintoys.com' },
    });
    const s = await e.waitForStatus('cpp-tailspin', token, (x) => x.status === 'awaiting-mpn');
    expect(s.error).toMatchObject({ code: 'mpn-required' });
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-tailspin/migration/mpn', {
          token,
          body: { mpnId: '12' },
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await e.call('POST', '/api/accounts/cpp-tailspin/migration/mpn', {
          token,
          body: { mpnId: '4567890' },
        })
      ).status,
    ).toBe(202);
    const fin = await e.waitForStatus('cpp-tailspin', token, done);
    expect(fin.status).toBe('completed');
    expect(fin.mpnId).toBe('4567890');
  });

  it('shows the already-migrated account as migrated and refuses a start politely', async () => {
    const token = await e.token('will@wideworldimporters.com');
    const banner = await e.call('GET', '/api/accounts/cpp-wideworld/banner', { token });
    expect(banner.body.banner).toBe('migrated');
    const start = await e.call('POST', '/api/accounts/cpp-wideworld/migration', { token });
    expect(start.status).toBe(409);
    expect(start.body.error.code).toBe('already-migrated');
  });

  it('migrates the 2,000-user, 270-active-offer account with target equal to source', async () => {
    const token = await e.token('lara@litware.com');
    await e.call('POST', '/api/accounts/cpp-litware/migration', {
      token,
      body: { workEmail: 'lara@litware.com' },
    });
    const s = await e.waitForStatus('cpp-litware', token, done, 60_000);
    expect(s.status).toBe('completed');
    const summary = (await (
      await fetch(`${e.sandbox.url}/v1/accounts/cpp-litware/summary`)
    ).json()) as { counts: Record<string, number> };
    expect(summary.counts.users).toBe(2000);
    // R-COPY-1: the 30 drafts stay in CPP.
    expect(summary.counts.offers).toBe(270);
    expect(s.steps.find((x: { name: string }) => x.name === 'copy:users').detail).toBe(
      '2000 copied',
    );
  }, 90_000);
});

describe('who may do what', () => {
  it('answers 401 without a valid token and 403 to non-owners, for missing accounts alike', async () => {
    expect((await e.call('GET', '/api/accounts/cpp-contoso/banner')).status).toBe(401);
    expect(
      (await e.call('GET', '/api/accounts/cpp-contoso/banner')).headers.get('www-authenticate'),
    ).toBe('Bearer');
    const expired = await e.token('olivia.owner@contoso.com', { expiresIn: -3600 });
    expect(
      (await e.call('GET', '/api/accounts/cpp-contoso/banner', { token: expired })).status,
    ).toBe(401);
    const foreign = await e.token('olivia.owner@contoso.com', { audience: 'api://someone-else' });
    expect(
      (await e.call('GET', '/api/accounts/cpp-contoso/banner', { token: foreign })).status,
    ).toBe(401);
    const dev = await e.token('dev@contoso.com');
    const a = await e.call('GET', '/api/accounts/cpp-contoso/banner', { token: dev });
    const b = await e.call('GET', '/api/accounts/no-such-account/banner', { token: dev });
    expect(a.status).toBe(403);
    expect(b.status).toBe(403);
    expect(a.body).toEqual(b.body);
    expect((await e.call('GET', '/api/admin/migrations', { token: dev })).status).toBe(403);
  });

  it('lets an admin list migrations', async () => {
    const admin = await e.token('admin@migration.example');
    const res = await e.call('GET', '/api/admin/migrations?status=completed', { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.items.every((s: { status: string }) => s.status === 'completed')).toBe(true);
    expect(
      (await e.call('GET', '/api/admin/migrations?status=bogus', { token: admin })).status,
    ).toBe(400);
  });
});
