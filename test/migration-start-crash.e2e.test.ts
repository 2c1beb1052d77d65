// A start whose process died between claiming the status row and starting the orchestration: the row is
// written here as `claim` writes it (through the store), with no orchestration, and a later start must
// finish it once, with the request stored at claim time; an attempt whose orchestration exists is left be.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { initialSteps, migrationInstanceId } from '../lib/domain/migration.js';
import { TableMigrationStore } from '../lib/store/migrations.js';
import { startE2E, type E2E } from './support/e2e.js';

let e: E2E;
let store: TableMigrationStore;
beforeAll(async () => {
  e = await startE2E('startcrash');
  store = new TableMigrationStore(inject('storage'), `${e.app.env.TABLE_PREFIX}Migrations`);
}, 60_000);
afterAll(async () => {
  await e?.close();
});

const instance = async (id: string): Promise<{ status: number; body: any }> => {
  const r = await fetch(
    `${e.app.url}/runtime/webhooks/durabletask/instances/${encodeURIComponent(id)}`,
  );
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
};
const audit = async (accountId: string, token: string): Promise<any[]> =>
  (await e.call('GET', `/api/accounts/${accountId}/migration/audit`, { token })).body.items;

describe('a claimed start that never started', () => {
  it('is started by a later POST, once among concurrent ones, as first requested', async () => {
    const token = await e.token('olivia.owner@contoso.com');
    // The crashed start: claimed a minute ago (its lease long over), no orchestration.
    const claimedAt = new Date(Date.now() - 60_000).toISOString();
    await store.claim(
      {
        accountId: 'cpp-contoso',
        attempt: 1,
        status: 'validating-tenant',
        steps: initialSteps(claimedAt),
        workEmail: 'olivia.owner@contoso.com',
        createdAt: claimedAt,
        updatedAt: claimedAt,
      },
      undefined,
      {
        request: {
          workEmail: 'olivia.owner@contoso.com',
          workEmailFrom: 'given',
          requestedBy: 'olivia.owner@contoso.com',
          createdAt: claimedAt,
        },
        leaseUntil: new Date(Date.parse(claimedAt) + 30_000).toISOString(),
      },
    );
    expect((await instance(migrationInstanceId('cpp-contoso', 1))).status).toBe(404);
    // Three starts at once, each with another body: one starts the claimed attempt, as claimed.
    const replies = await Promise.all(
      ['a', 'b', 'c'].map((x) =>
        e.call('POST', '/api/accounts/cpp-contoso/migration', {
          token,
          body: { workEmail: `someone-${x}@contoso.com` },
        }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 202]);
    expect(replies.every((r) => r.body.attempt === 1)).toBe(true);
    const s = await e.waitForStatus('cpp-contoso', token, (x) => x.status === 'completed', 60_000);
    expect(s.attempt).toBe(1);
    expect(s.workEmail).toBe('olivia.owner@contoso.com');
    const inst = await instance(migrationInstanceId('cpp-contoso', 1));
    expect(inst.body.runtimeStatus).toBe('Completed');
    expect(inst.body.input).toMatchObject({
      accountId: 'cpp-contoso',
      attempt: 1,
      workEmail: 'olivia.owner@contoso.com',
      requestedBy: 'olivia.owner@contoso.com',
      createdAt: claimedAt,
    });
    const resumed = (await audit('cpp-contoso', token)).filter((a) => a.action === 'start-resumed');
    expect(resumed.map((a) => [a.outcome, a.actor])).toEqual([
      ['accepted', 'olivia.owner@contoso.com'],
    ]);
    // Nothing of the row's stored request is shown, and a later start is the usual duplicate.
    const again = await e.call('POST', '/api/accounts/cpp-contoso/migration', { token });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('completed');
  }, 90_000);

  it('is left alone while its orchestration exists', async () => {
    const token = await e.token('nina@northwindtraders.com');
    expect((await e.call('POST', '/api/accounts/cpp-northwind/migration', { token })).status).toBe(
      202,
    );
    await e.waitForStatus('cpp-northwind', token, (x) => x.status === 'awaiting-mpn');
    const id = migrationInstanceId('cpp-northwind', 1);
    const before = (await instance(id)).body;
    // The row as a claim leaves it (request and lease over), yet the orchestration exists: a start
    // with a late first write of its own.
    const row = (await store.read('cpp-northwind'))!;
    const old = new Date(Date.now() - 60_000).toISOString();
    await store.claim(row.status, row.etag, {
      request: { requestedBy: 'nina@northwindtraders.com', createdAt: old },
      leaseUntil: old,
    });
    const r = await e.call('POST', '/api/accounts/cpp-northwind/migration', { token });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('awaiting-mpn');
    const after = (await instance(id)).body;
    expect(after.createdTime).toBe(before.createdTime);
    expect(after.runtimeStatus).toBe('Running');
    expect((await audit('cpp-northwind', token)).map((a) => a.action)).not.toContain(
      'start-resumed',
    );
  }, 60_000);
});
