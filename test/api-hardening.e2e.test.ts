// The portal API against a careless admin and a hostile caller (issue 8): end to end through the local
// host, the sandbox over HTTP and Azurite. Races are driven by sandbox latency faults, never sleeps.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startE2E, type E2E } from './support/e2e.js';

const PUBLIC_BASE_URL = 'https://migration.contoso.example';

let e: E2E;
beforeAll(async () => {
  e = await startE2E('hard', { PUBLIC_BASE_URL });
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const done = (s: { status: string }): boolean =>
  ['completed', 'failed', 'cancelled'].includes(s.status);
const sandbox = (path: string, init?: RequestInit): Promise<Response> =>
  fetch(`${e.sandbox.url}${path}`, init);
const fault = async (f: Record<string, unknown>): Promise<void> => {
  expect((await sandbox('/dev/faults', { method: 'POST', body: JSON.stringify(f) })).status).toBe(
    201,
  );
};
/** The partner calls made while `work` runs, as `METHOD /path`. */
async function callsDuring(work: () => Promise<unknown>): Promise<string[]> {
  const count = async (): Promise<string[]> =>
    ((await (await sandbox('/dev/calls')).json()) as { calls: string[] }).calls;
  const before = (await count()).length;
  await work();
  return (await count()).slice(before);
}
type AuditItem = { action: string; outcome: string; actor: string; detail?: string };
const auditOf = async (accountId: string, token: string): Promise<AuditItem[]> =>
  (await e.call('GET', `/api/accounts/${accountId}/migration/audit`, { token })).body.items;

describe('accounts CPP does not have (item 7)', () => {
  it('answers an admin 404 account-not-found and starts nothing; an owner keeps the 403', async () => {
    const admin = await e.token('admin@migration.example');
    const start = await e.call('POST', '/api/accounts/cpp-contosso/migration', {
      token: admin,
      body: { workEmail: 'olivia.owner@contoso.com' },
    });
    expect(start.status).toBe(404);
    expect(start.body.error.code).toBe('account-not-found');
    const status = await e.call('GET', '/api/accounts/cpp-contosso/migration', { token: admin });
    expect(status.status).toBe(404);
    const list = await e.call('GET', '/api/admin/migrations', { token: admin });
    expect(list.body.items.map((s: { accountId: string }) => s.accountId)).not.toContain(
      'cpp-contosso',
    );
    const owner = await e.token('olivia.owner@contoso.com');
    const refused = await e.call('POST', '/api/accounts/cpp-contosso/migration', { token: owner });
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('forbidden');
  });
});

describe('preflight (items 9 and 15)', () => {
  it('reads the three documents and counts what is there', async () => {
    // The company profile is emptied in CPP: there is nothing to copy for it.
    expect(
      (await sandbox('/cpp/accounts/cpp-northwind/company-profile', { method: 'PUT', body: '{}' }))
        .status,
    ).toBe(200);
    const token = await e.token('nina@northwindtraders.com');
    let res: Awaited<ReturnType<E2E['call']>> | undefined;
    const calls = await callsDuring(async () => {
      res = await e.call('POST', '/api/accounts/cpp-northwind/preflight', {
        token,
        body: { workEmail: ' Nina@NorthwindTraders.com ' },
      });
    });
    expect(res!.status).toBe(200);
    expect(res!.body.wouldCopy).toMatchObject({
      publishingAgreement: 1,
      companyProfile: 0,
      payoutProfile: 1,
    });
    for (const doc of ['publishing-agreement', 'company-profile', 'payout-profile'])
      expect(calls).toContain(`GET /cpp/accounts/cpp-northwind/${doc}`);
  });

  it("gives one answer for an MPN ID that is not the caller's, naming no tenant, partner or certificate", async () => {
    const token = await e.token('tom@tailspintoys.com');
    const blockerFor = async (mpnId: string): Promise<Record<string, unknown>> => {
      const res = await e.call('POST', '/api/accounts/cpp-tailspin/preflight', {
        token,
        body: { workEmail: 'tom@tailspintoys.com', mpnId },
      });
      expect(res.status).toBe(200);
      expect(res.body.blockers).toHaveLength(1);
      return JSON.parse(JSON.stringify(res.body.blockers[0]).replaceAll(mpnId, '<mpn>')) as never;
    };
    // Contoso's (valid, another tenant), Northwind's (expired, another tenant), and none at all.
    const contoso = await blockerFor('1234567');
    const northwind = await blockerFor('3456789');
    const nobody = await blockerFor('9999999');
    expect(contoso).toEqual(nobody);
    expect(northwind).toEqual(nobody);
    const text = JSON.stringify(contoso);
    for (const secret of ['Contoso', 'Northwind', 'expired', '6513270e', '9531985d', 'Tenant'])
      expect(text).not.toContain(secret);
  });
});

describe('owner checks (item 14)', () => {
  it('cost the same partner calls for a missing account and for someone else’s', async () => {
    const dev = await e.token('dev@contoso.com');
    const shape = (calls: string[], id: string): string[] =>
      calls.map((c) => c.replace(id, '{id}')).sort();
    let missing: Awaited<ReturnType<E2E['call']>> | undefined;
    let foreign: Awaited<ReturnType<E2E['call']>> | undefined;
    const forMissing = await callsDuring(async () => {
      missing = await e.call('GET', '/api/accounts/cpp-nobody/banner', { token: dev });
    });
    const forForeign = await callsDuring(async () => {
      foreign = await e.call('GET', '/api/accounts/cpp-fabrikam-msa/banner', { token: dev });
    });
    expect(missing!.status).toBe(403);
    expect(foreign!.status).toBe(403);
    expect(missing!.body).toEqual(foreign!.body);
    expect(forMissing.length).toBeGreaterThan(0);
    expect(shape(forMissing, 'cpp-nobody')).toEqual(shape(forForeign, 'cpp-fabrikam-msa'));
  });
});

describe('a partner asking for a long pause (item 18)', () => {
  it('answers 503 with Retry-After at once instead of holding the request for an hour', async () => {
    await fault({
      route: '/cpp/accounts/cpp-wideworld',
      method: 'GET',
      status: 429,
      retryAfter: 3600,
      times: 1,
    });
    const token = await e.token('will@wideworldimporters.com');
    const res = await e.call('GET', '/api/accounts/cpp-wideworld/banner', { token });
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('partner-unavailable');
    expect(res.headers.get('retry-after')).toBe('3600');
  }, 20_000);
});

describe('the audit trail (item 10) and the address replies', () => {
  it('records a duplicate start once as refused, trims the work e-mail, and never caches addresses', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const first = await e.call('POST', '/api/accounts/cpp-contoso/migration', {
      token,
      body: { workEmail: '  Olivia.Owner@contoso.com ' },
    });
    expect(first.status).toBe(202);
    expect(first.body.workEmail).toBe('olivia.owner@contoso.com');
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(first.headers.get('location')).toBe(
      `${PUBLIC_BASE_URL}/api/accounts/cpp-contoso/migration`,
    );
    const again = await e.call('POST', '/api/accounts/cpp-contoso/migration', { token });
    expect(again.status).toBe(200);
    const s = await e.waitForStatus('cpp-contoso', token, done);
    expect(s.status).toBe('completed');
    const late = await e.call('POST', '/api/accounts/cpp-contoso/migration/mpn', {
      token,
      body: { mpnId: '1234567' },
    });
    expect(late.status).toBe(409);
    const audit = await auditOf('cpp-contoso', token);
    const outcomes = (action: string): string[] =>
      audit.filter((i) => i.action === action).map((i) => i.outcome);
    expect(outcomes('start-requested').sort()).toEqual(['accepted', 'refused: already-started']);
    expect(outcomes('mpn-id-submitted')).toEqual(['refused: not-waiting-for-mpn']);
    for (const path of ['migration', 'migration/audit', 'banner']) {
      const r = await e.call('GET', `/api/accounts/cpp-contoso/${path}`, { token });
      expect(r.status).toBe(200);
      expect(r.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('audits every back-sync write to CPP', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    expect(
      (
        await sandbox('/v1/accounts/cpp-contoso/users/new.person@contoso.com', {
          method: 'PUT',
          body: JSON.stringify({ role: 'developer' }),
        })
      ).status,
    ).toBe(200);
    const deadline = Date.now() + 15_000;
    let synced: AuditItem[] = [];
    while (Date.now() < deadline && synced.length === 0) {
      synced = (await auditOf('cpp-contoso', token)).filter(
        (i) => i.action === 'back-sync:user-synced',
      );
      if (synced.length === 0) await new Promise((r) => setTimeout(r, 200));
    }
    expect(synced).toHaveLength(1);
    expect(synced[0]).toMatchObject({ actor: 'system', outcome: 'done' });
    expect(synced[0]!.detail).toContain('new.person@contoso.com');
    const users = (await (await sandbox('/cpp/accounts/cpp-contoso/users')).json()) as {
      items: { email: string }[];
    };
    expect(users.items.map((u) => u.email)).toContain('new.person@contoso.com');
  });
});

describe('two concurrent starts (item 12)', () => {
  it('leave one migration that keeps its status: the slow start does not overwrite it', async () => {
    const token = await e.token('tom@tailspintoys.com');
    const body = { workEmail: 'tom@tailspintoys.com' };
    // Both starts know the owner already (as a portal's earlier banner call would have made sure).
    expect((await e.call('GET', '/api/accounts/cpp-tailspin/banner', { token })).status).toBe(200);
    // The slow start reads "no migration yet", then waits on CPP while the fast one runs ahead.
    await fault({ route: '/cpp/accounts/cpp-tailspin', method: 'GET', latencyMs: 6000, times: 1 });
    const slow = e.call('POST', '/api/accounts/cpp-tailspin/migration', { token, body });
    for (;;) {
      const faults = (await (await sandbox('/dev/faults')).json()) as { times: number }[];
      if (faults.every((f) => f.times === 0)) break; // the slow start's CPP read has arrived
      await new Promise((r) => setTimeout(r, 20));
    }
    const fast = await e.call('POST', '/api/accounts/cpp-tailspin/migration', { token, body });
    expect(fast.status).toBe(202);
    // The orchestration has written the row: tailspin has no MPN ID, so it waits for one.
    await e.waitForStatus('cpp-tailspin', token, (s) => s.status === 'awaiting-mpn');
    const late = await slow;
    expect(late.status).toBe(200);
    expect(late.body.status).toBe('awaiting-mpn');
    const now = await e.call('GET', '/api/accounts/cpp-tailspin/migration', { token });
    expect(now.body).toMatchObject({ attempt: 1, status: 'awaiting-mpn' });
    // The owner's answer is taken, and the migration finishes.
    const mpn = await e.call('POST', '/api/accounts/cpp-tailspin/migration/mpn', {
      token,
      body: { mpnId: '4567890' },
    });
    expect(mpn.status).toBe(202);
    expect((await e.waitForStatus('cpp-tailspin', token, done)).status).toBe('completed');
    const starts = (await auditOf('cpp-tailspin', token))
      .filter((i) => i.action === 'start-requested')
      .map((i) => i.outcome)
      .sort();
    expect(starts).toEqual(['accepted', 'refused: already-started']);
  }, 60_000);
});

describe('routes, methods and headers (item 18)', () => {
  it('answers unknown routes and wrong methods with the error envelope', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const unknown = await e.call('GET', '/api/no/such/route', { token });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not-found');
    expect(unknown.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const wrong = await e.call('DELETE', '/api/accounts/cpp-contoso/migration', { token });
    expect(wrong.status).toBe(405);
    expect(wrong.body.error.code).toBe('method-not-allowed');
    expect(wrong.headers.get('allow')).toBe('POST, GET');
    const getCancel = await e.call('GET', '/api/accounts/cpp-contoso/migration/cancel', { token });
    expect(getCancel.status).toBe(405);
    expect(getCancel.headers.get('allow')).toBe('POST');
  });

  it('answers a garbage continuation token with 400', async () => {
    const owner = await e.token('olivia.owner@contoso.com');
    const admin = await e.token('admin@migration.example');
    const audit = await e.call(
      'GET',
      '/api/accounts/cpp-contoso/migration/audit?continuationToken=garbage!!',
      { token: owner },
    );
    expect(audit.status).toBe(400);
    expect(audit.body.error.code).toBe('invalid-request');
    const list = await e.call('GET', '/api/admin/migrations?continuationToken=eyJ4Ijox', {
      token: admin,
    });
    expect(list.status).toBe(400);
  });

  it('builds Location from the configured base URL, not the Host header', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    const url = new URL('/api/accounts/cpp-contoso/migration', e.app.url);
    const location = await new Promise<string | undefined>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            host: 'evil.example',
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
          },
        },
        (res) => {
          res.resume();
          resolve(res.headers.location);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(location).toBe(`${PUBLIC_BASE_URL}/api/accounts/cpp-contoso/migration`);
  });
});
