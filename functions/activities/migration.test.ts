// The activities' rules over in-memory ports: tenant and MPN outcomes, idempotent copies, back-sync diffs.
import { describe, expect, it } from 'vitest';
import type { GateDecision, KeyedAuditEntry, MigrationStatus } from '../../lib/domain/migration.js';
import type {
  CppAccount,
  CppSource,
  DocumentCategory,
  MpnProfile,
  OfferRecord,
  PartnerCenter,
  TargetSummary,
  TenantDirectory,
  UserRecord,
} from '../../lib/partners/adapters.js';
import { categoryHash } from '../../lib/domain/hash.js';
import { errorFor } from '../../lib/domain/migration.js';
import { PermanentPartnerError, TransientPartnerError } from '../../lib/partners/http.js';
import { createActivities, requestId } from './migration.js';

const CONTOSO = '11111111-1111-1111-1111-111111111111';
const FABRIKAM = '22222222-2222-2222-2222-222222222222';

function world() {
  const account: CppAccount = {
    id: 'acc',
    displayName: 'Acc',
    signIn: 'work',
    tenantId: CONTOSO,
    mpnId: '1234567',
    migrated: false,
    readOnly: false,
    counts: { users: 2, offers: 1 },
  };
  const cppUsers: UserRecord[] = [
    { email: 'Owner@contoso.com', role: 'owner' },
    { email: 'dev@contoso.com', role: 'developer' },
  ];
  const offers: OfferRecord[] = [
    {
      id: 'o1',
      name: 'O',
      kind: 'saas',
      status: 'live',
      inAppSource: true,
      supportsLatestPlatform: true,
    },
  ];
  const docs: Record<DocumentCategory, unknown> = {
    'publishing-agreement': { v: 1 },
    'company-profile': { name: 'Acc' },
    'payout-profile': { iban: 'NL91ABNA0417164300' },
  };
  const mpn: Record<string, MpnProfile> = {
    '1234567': {
      mpnId: '1234567',
      partnerName: 'Acc',
      tenantId: CONTOSO,
      certificateState: 'valid',
    },
    '7654321': {
      mpnId: '7654321',
      partnerName: 'Old',
      tenantId: CONTOSO,
      certificateState: 'expired',
    },
    '2222222': {
      mpnId: '2222222',
      partnerName: 'Fab',
      tenantId: FABRIKAM,
      certificateState: 'valid',
    },
  };
  const target = {
    users: new Map<string, UserRecord>(),
    offers: new Map<string, OfferRecord>(),
    docs: new Map<string, unknown>(),
    requests: new Set<string>(),
    writes: 0,
  };
  const synced: string[] = [];
  const tenants: TenantDirectory = {
    discoverByDomain: (d) =>
      Promise.resolve(
        d === 'contoso.com'
          ? { kind: 'entra', tenantId: CONTOSO }
          : d === 'fabrikam.com'
            ? { kind: 'entra', tenantId: FABRIKAM }
            : d === 'outlook.com'
              ? { kind: 'consumer' }
              : { kind: 'unknown' },
      ),
    describeTenant: (id) =>
      Promise.resolve({ id, name: id === CONTOSO ? 'Contoso Ltd' : 'Fabrikam Inc' }),
  };
  // Writes are idempotent by MS-RequestId, as Partner Center's are.
  const once = (id: string, apply: () => void): Promise<void> => {
    if (!target.requests.has(id)) {
      target.requests.add(id);
      target.writes++;
      apply();
    }
    return Promise.resolve();
  };
  const pc: PartnerCenter = {
    getMpnProfile: (id) => Promise.resolve(mpn[id]),
    putDocument: (_a, c, body, rid) => once(rid, () => target.docs.set(c, body)),
    upsertUsers: (_a, users, rid) =>
      once(rid, () => users.forEach((u) => target.users.set(u.email.toLowerCase(), u))),
    upsertOffers: (_a, os, rid) => once(rid, () => os.forEach((o) => target.offers.set(o.id, o))),
    listUsers: () => Promise.resolve([...target.users.values()]),
    summary: (): Promise<TargetSummary> =>
      Promise.resolve({
        counts: {
          publishingAgreement: 1,
          companyProfile: 1,
          payoutProfile: 1,
          users: target.users.size,
          offers: target.offers.size,
        },
        hashes: {
          publishingAgreement: categoryHash(
            'publishing-agreement',
            target.docs.get('publishing-agreement'),
          ),
          companyProfile: categoryHash('company-profile', target.docs.get('company-profile')),
          payoutProfile: categoryHash('payout-profile', target.docs.get('payout-profile')),
          users: categoryHash('users', [...target.users.values()]),
          offers: categoryHash('offers', [...target.offers.values()]),
        },
      }),
    activate: () => Promise.resolve('https://partner.example/acc'),
  };
  const cpp: CppSource = {
    getAccount: (id) => Promise.resolve(id === 'acc' ? account : undefined),
    getDocument: (_a, c) => Promise.resolve(docs[c]),
    listUsers: () => Promise.resolve(cppUsers),
    listOffers: () => Promise.resolve(offers),
    switchOver: () => Promise.resolve(),
    syncUser: (_a, u) => (synced.push(`+${u.email}:${u.role}`), Promise.resolve()),
    unsyncUser: (_a, e) => (synced.push(`-${e}`), Promise.resolve()),
    listAccounts: () => Promise.reject(new Error('not used by the migration')),
  };
  const saved: { status: MigrationStatus; audit: KeyedAuditEntry[] }[] = [];
  const gates = new Map<string, GateDecision>();
  const sent: string[] = [];
  const recorded: { kind: string; accountId: string; status: string; done: boolean }[] = [];
  const deps: Parameters<typeof createActivities>[0] = {
    tenants,
    partnerCenter: pc,
    cpp,
    store: {
      init: () => Promise.resolve(),
      get: () => Promise.resolve(undefined),
      save: (status, audit) => (saved.push({ status, audit }), Promise.resolve()),
      audit: () => Promise.resolve(),
      listAudit: () => Promise.resolve({ items: [] }),
      list: () => Promise.resolve({ items: [] }),
    },
    gate: {
      decide: (a, n, decision) => {
        const key = `${a}~${n}`;
        if (!gates.has(key)) gates.set(key, decision);
        return Promise.resolve(gates.get(key)!);
      },
      read: (a, n) => Promise.resolve(gates.get(`${a}~${n}`)),
    },
    outbox: {
      queue: (bucket, entries) => {
        let queued = 0;
        for (const e of entries) {
          if (sent.includes(`${bucket}/${e.id}`)) continue;
          sent.push(`${bucket}/${e.id}`);
          queued++;
        }
        return Promise.resolve({ queued, already: entries.length - queued });
      },
      drain: () => Promise.resolve({ sent: 0, failed: 0, remaining: 0 }),
      ledger: () => Promise.resolve(undefined),
    },
    subjects: {
      record: (kind, accountId, summary, done) => (
        recorded.push({ kind, accountId, status: summary.status, done }),
        Promise.resolve()
      ),
      applyCppAccounts: () => Promise.reject(new Error('not used')),
      page: () => Promise.reject(new Error('not used')),
      drop: () => Promise.reject(new Error('not used')),
      cursor: () => Promise.reject(new Error('not used')),
      setCursor: () => Promise.reject(new Error('not used')),
    },
    startBackSync: () => Promise.resolve('backsync~acc'),
  };
  const activities = createActivities(deps);
  return { deps, account, activities, target, synced, sent, docs, offers, gates, mpn, recorded };
}

describe('checkTenant (R-TEN)', () => {
  it('accepts an address of the account tenant, naming it', async () => {
    const { activities } = world();
    expect(await activities.checkTenant({ accountId: 'acc', workEmail: 'a@contoso.com' })).toEqual({
      kind: 'ok',
      tenant: { id: CONTOSO, name: 'Contoso Ltd' },
    });
  });
  it('refuses consumer and unknown domains', async () => {
    const { activities } = world();
    expect(
      (await activities.checkTenant({ accountId: 'acc', workEmail: 'a@outlook.com' })).kind,
    ).toBe('personal-email-not-allowed');
    expect(
      (await activities.checkTenant({ accountId: 'acc', workEmail: 'a@nowhere.example' })).kind,
    ).toBe('tenant-not-found');
  });
  it('names the expected tenant on a mismatch', async () => {
    const { activities } = world();
    expect(await activities.checkTenant({ accountId: 'acc', workEmail: 'a@fabrikam.com' })).toEqual(
      {
        kind: 'tenant-mismatch',
        workEmail: 'a@fabrikam.com',
        expected: {
          tenant: { id: CONTOSO, name: 'Contoso Ltd' },
          because: 'mpn-id',
          mpnId: '1234567',
        },
        actualTenantId: FABRIKAM,
      },
    );
  });
  it('takes the MPN tenant as expected for a personal-account (msa) publisher', async () => {
    const w = world();
    w.account.signIn = 'msa';
    w.account.tenantId = null;
    expect(
      (await w.activities.checkTenant({ accountId: 'acc', workEmail: 'a@fabrikam.com' })).kind,
    ).toBe('tenant-mismatch');
    expect(
      (await w.activities.checkTenant({ accountId: 'acc', workEmail: 'a@contoso.com' })).kind,
    ).toBe('ok');
  });
});

describe('the expected tenant and why (R-TEN-2/3)', () => {
  it('is the tenant linked to the MPN ID, even when the account names another', async () => {
    const w = world();
    w.account.mpnId = '2222222'; // registered in Fabrikam; the account says Contoso
    const check = await w.activities.checkTenant({ accountId: 'acc', workEmail: 'a@contoso.com' });
    expect(check).toMatchObject({
      kind: 'tenant-mismatch',
      expected: { tenant: { id: FABRIKAM }, because: 'mpn-id', mpnId: '2222222' },
    });
    expect(errorFor(check as never).message).toContain('the tenant your MPN ID 2222222');
    expect(
      (await w.activities.checkTenant({ accountId: 'acc', workEmail: 'a@fabrikam.com' })).kind,
    ).toBe('ok');
  });
  it("follows an MPN ID the owner gave over the account's", async () => {
    const w = world();
    expect(
      (
        await w.activities.checkTenant({
          accountId: 'acc',
          workEmail: 'a@fabrikam.com',
          mpnId: '2222222',
        })
      ).kind,
    ).toBe('ok');
  });
  it("without an MPN ID is the account's tenant, and the message says so", async () => {
    const w = world();
    w.account.mpnId = null;
    const check = await w.activities.checkTenant({ accountId: 'acc', workEmail: 'a@fabrikam.com' });
    expect(check).toMatchObject({ kind: 'tenant-mismatch', expected: { because: 'cpp-account' } });
    const { message, rejectedWorkEmail } = errorFor(check as never);
    expect(message).not.toMatch(/MPN/);
    expect(message).toContain('Contoso Ltd, the tenant of your Cloud Partner Portal account');
    expect(rejectedWorkEmail).toBe('a@fabrikam.com');
  });
});

describe('checkMpn (R-MPN)', () => {
  it.each([
    [null, 'mpn-required'],
    ['9999999', 'mpn-not-found'],
    ['7654321', 'mpn-certificate-invalid'],
    ['2222222', 'mpn-tenant-mismatch'],
    ['1234567', 'ok'],
  ])('MPN ID %s → %s', async (mpnId, kind) => {
    const { activities } = world();
    expect((await activities.checkMpn({ accountId: 'acc', mpnId, tenantId: CONTOSO })).kind).toBe(
      kind,
    );
  });
});

describe('copy and verify (R-COPY-1/2)', () => {
  it('copies every category, returns counts only, and verifies', async () => {
    const w = world();
    const counts = [];
    for (const category of [
      'publishing-agreement',
      'company-profile',
      'payout-profile',
      'users',
      'offers',
    ] as const) {
      counts.push(await w.activities.copyCategory({ accountId: 'acc', category, attempt: 1 }));
    }
    expect(counts.map((c) => (c.kind === 'copied' ? c.count : c.kind))).toEqual([1, 1, 1, 2, 1]);
    expect(JSON.stringify(counts)).not.toContain('NL91');
    expect(await w.activities.verifyCopy({ accountId: 'acc' })).toEqual({
      ok: true,
      mismatches: [],
    });
  });

  it('writes once when run twice (idempotent by request id)', async () => {
    const w = world();
    await w.activities.copyCategory({ accountId: 'acc', category: 'users', attempt: 1 });
    const writes = w.target.writes;
    await w.activities.copyCategory({ accountId: 'acc', category: 'users', attempt: 1 });
    expect(w.target.writes).toBe(writes);
  });

  it('finds a category that differs', async () => {
    const w = world();
    for (const category of [
      'publishing-agreement',
      'company-profile',
      'payout-profile',
      'users',
      'offers',
    ] as const) {
      await w.activities.copyCategory({ accountId: 'acc', category, attempt: 1 });
    }
    w.target.docs.set('company-profile', { name: 'Tampered' });
    expect(await w.activities.verifyCopy({ accountId: 'acc' })).toEqual({
      ok: false,
      mismatches: ['company-profile'],
    });
  });
});

describe('what is copied, and when it stops (R-COPY-1, cancel, permanent errors)', () => {
  it('copies only active offers, says what stayed behind, and verifies against those', async () => {
    const w = world();
    w.offers.push(
      { ...w.offers[0]!, id: 'o2', status: 'draft' },
      { ...w.offers[0]!, id: 'o3', status: 'deprecated' },
    );
    expect(
      await w.activities.copyCategory({ accountId: 'acc', category: 'offers', attempt: 1 }),
    ).toEqual({ kind: 'copied', count: 1, left: { draft: 1, deprecated: 1 } });
    expect([...w.target.offers.keys()]).toEqual(['o1']);
    for (const category of [
      'publishing-agreement',
      'company-profile',
      'payout-profile',
      'users',
    ] as const)
      await w.activities.copyCategory({ accountId: 'acc', category, attempt: 1 });
    expect(await w.activities.verifyCopy({ accountId: 'acc' })).toEqual({
      ok: true,
      mismatches: [],
    });
  });

  it("writes nothing once the attempt's gate is closed (a cancel), on every retry", async () => {
    const w = world();
    expect(
      await w.activities.closeGate({ accountId: 'acc', attempt: 1, decision: 'cancelled' }),
    ).toEqual({ decision: 'cancelled' });
    for (const category of ['users', 'payout-profile'] as const)
      expect(await w.activities.copyCategory({ accountId: 'acc', category, attempt: 1 })).toEqual({
        kind: 'stopped',
        count: 0,
      });
    expect(w.target.writes).toBe(0);
    // The switch-over cannot claim a gate the cancel holds; a new attempt has its own.
    expect(
      await w.activities.closeGate({ accountId: 'acc', attempt: 1, decision: 'switching-over' }),
    ).toEqual({ decision: 'cancelled' });
    expect(
      await w.activities.closeGate({ accountId: 'acc', attempt: 2, decision: 'switching-over' }),
    ).toEqual({ decision: 'switching-over' });
  });

  it('returns a permanent partner error as a value and closes the gate; rethrows transient ones', async () => {
    const refusing = createRefusingWorld(
      new PermanentPartnerError('POST /v1/accounts/acc/users/$batch answered 403', 403, {
        code: 800003,
        description: 'Forbidden.',
      }),
    );
    expect(
      await refusing.activities.copyCategory({ accountId: 'acc', category: 'users', attempt: 1 }),
    ).toEqual({
      kind: 'partner-refused',
      reason: 'POST /v1/accounts/acc/users/$batch answered 403 (code 800003: Forbidden.)',
    });
    expect(refusing.gates.get('acc~1')).toBe('failed');
    const flaky = createRefusingWorld(new TransientPartnerError('timeout'));
    await expect(
      flaky.activities.copyCategory({ accountId: 'acc', category: 'users', attempt: 1 }),
    ).rejects.toThrow('timeout');
    expect(flaky.gates.size).toBe(0);
  });
});

/** The world above, with Partner Center's user batches failing with `error`. */
function createRefusingWorld(error: Error): ReturnType<typeof world> {
  const w = world();
  const deps = w.deps;
  const activities = createActivities({
    ...deps,
    partnerCenter: { ...deps.partnerCenter, upsertUsers: () => Promise.reject(error) },
  });
  return { ...w, activities };
}

describe('notify and back-sync', () => {
  it('notifies once per attempt', async () => {
    const w = world();
    const input = { accountId: 'acc', attempt: 1, to: 'owner@contoso.com', partnerCenterUrl: 'u' };
    expect(await w.activities.notifyOwner(input)).toEqual({ sent: true });
    expect(await w.activities.notifyOwner(input)).toEqual({ sent: false });
  });

  it('applies users added and removed in Partner Center to CPP', async () => {
    const w = world();
    w.target.users.set('owner@contoso.com', { email: 'owner@contoso.com', role: 'owner' });
    w.target.users.set('new@contoso.com', { email: 'new@contoso.com', role: 'manager' });
    expect(await w.activities.syncBack({ accountId: 'acc', round: 'r1' })).toEqual({
      added: 1,
      removed: 1,
    });
    expect(w.synced).toEqual(['+new@contoso.com:manager', '-dev@contoso.com']);
  });

  it('derives stable GUID-shaped request ids', () => {
    expect(requestId('a', 1, 'users', 0)).toBe(requestId('a', 1, 'users', 0));
    expect(requestId('a', 1, 'users', 0)).not.toBe(requestId('a', 1, 'users', 1));
    expect(requestId('a', 1)).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
