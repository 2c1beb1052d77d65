// The migration store against real Table storage (Azurite): an append-only audit trail, and one writer
// of a new attempt's status row.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { initialSteps, type MigrationStatus } from '../lib/domain/migration.js';
import { AuditKeyCollisionError, TableMigrationStore } from '../lib/store/migrations.js';

let store: TableMigrationStore;
beforeAll(() => {
  store = new TableMigrationStore(inject('storage'), `Store${Date.now().toString(36)}`);
});

const at = '2026-01-01T00:00:00.000Z';
const statusOf = (accountId: string, status: MigrationStatus['status']): MigrationStatus => ({
  accountId,
  attempt: 1,
  status,
  steps: initialSteps(at),
  createdAt: at,
  updatedAt: at,
});
const entry = (key: string, outcome: string) => ({
  key,
  at,
  actor: 'system',
  action: 'copy',
  outcome,
});

describe('the audit trail', () => {
  it('inserts rows and never replaces one: a different entry under a taken key is refused', async () => {
    await store.save(statusOf('acc-1', 'copying'), [entry('k1', 'started')]);
    await expect(
      store.save(statusOf('acc-1', 'failed'), [entry('k1', 'failed')]),
    ).rejects.toBeInstanceOf(AuditKeyCollisionError);
    await expect(store.audit('acc-1', [entry('k1', 'rewritten')])).rejects.toBeInstanceOf(
      AuditKeyCollisionError,
    );
    expect((await store.listAudit('acc-1')).items.map((i) => i.outcome)).toEqual(['started']);
    // The refused batch changed nothing, the status included.
    expect((await store.get('acc-1'))?.status).toBe('copying');
  });

  it('takes the same write again as already written (a retried activity succeeds)', async () => {
    const s = statusOf('acc-2', 'copying');
    const audit = [entry('k1', 'started'), entry('k2', 'done')];
    await store.save(s, audit);
    await expect(store.save(s, audit)).resolves.toBeUndefined();
    await expect(store.audit('acc-2', [entry('k2', 'done')])).resolves.toBeUndefined();
    expect((await store.listAudit('acc-2')).items).toHaveLength(2);
  });

  it('answers a continuation token it did not issue with a 400, not a fault', async () => {
    const forged = Buffer.from(
      JSON.stringify({ nextPartitionKey: 'acc-2', nextRowKey: 'audit~k1' }),
    ).toString('base64');
    for (const token of ['garbage!', 'bm90IGpzb24', forged])
      await expect(store.listAudit('acc-1', token)).rejects.toMatchObject({
        status: 400,
        code: 'invalid-request',
      });
    await expect(store.list(undefined, '%%%')).rejects.toMatchObject({ status: 400 });
  });
});

describe('the status row of a new attempt', () => {
  it('is created by one writer only: a second claim of the same version loses', async () => {
    const first = await store.claim(statusOf('acc-3', 'awaiting-work-email'), undefined);
    expect(first).toBeTruthy();
    expect(await store.claim(statusOf('acc-3', 'validating-tenant'), undefined)).toBeUndefined();
    expect((await store.get('acc-3'))?.status).toBe('awaiting-work-email');
    // A restart claims the row it read; whoever read the same version after it loses.
    const read = (await store.read('acc-3'))!;
    const retry = { ...read.status, attempt: 2 };
    expect(await store.claim(retry, read.etag)).toBeTruthy();
    expect(await store.claim({ ...retry, attempt: 3 }, read.etag)).toBeUndefined();
    expect((await store.get('acc-3'))?.attempt).toBe(2);
  });
});
