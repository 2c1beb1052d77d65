// The migration's activities, built over typed ports (conventions §2). Data moves here, between the
// partner services; only ids, counts and verdicts go back to the orchestration's history.
import { createHash } from 'node:crypto';
import { categoryHash } from '../../lib/domain/hash.js';
import {
  COPY_CATEGORIES,
  domainOf,
  type CopyCategory,
  type MpnCheck,
  type TenantCheck,
} from '../../lib/domain/migration.js';
import type { CppSource, PartnerCenter, TenantDirectory } from '../../lib/partners/adapters.js';
import { migratedMail, migrationSummary } from '../../lib/notify/messages.js';
import type { Outbox } from '../../lib/notify/outbox.js';
import type { MigrationStore } from '../../lib/store/migrations.js';
import type { SubjectIndex } from '../../lib/store/subjects.js';
import type { AccountFacts, Activities } from '../../orchestrations/names.js';

export interface ActivityDeps {
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  store: MigrationStore;
  outbox: Outbox;
  /** Kept current on every status change, so reminders know what is left (R-DUE-2). */
  subjects: SubjectIndex;
  startBackSync(accountId: string): Promise<string>;
}

type Handlers = {
  [N in keyof Activities]: (input: Activities[N]['in']) => Promise<Activities[N]['out']>;
};

/** A stable MS-RequestId for one logical write: the same on every retry of the same activity. */
export function requestId(...parts: (string | number)[]): string {
  const h = createHash('sha256').update(parts.join('|')).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const BATCH = 100;
const PARALLEL_BATCHES = 4;

/** Runs `work` over `items` in batches of 100, a few batches at a time. */
async function inBatches<T>(
  items: T[],
  work: (batch: T[], index: number) => Promise<void>,
): Promise<void> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_BATCHES, batches.length) }, async () => {
      while (next < batches.length) {
        const i = next++;
        await work(batches[i]!, i);
      }
    }),
  );
}

const SUMMARY_KEYS: Record<CopyCategory, string> = {
  'publishing-agreement': 'publishingAgreement',
  'company-profile': 'companyProfile',
  'payout-profile': 'payoutProfile',
  users: 'users',
  offers: 'offers',
};

export function createActivities(d: ActivityDeps): Handlers {
  const tenantName = async (id: string): Promise<string> =>
    (await d.tenants.describeTenant(id))?.name ?? id;

  return {
    async loadAccount({ accountId }): Promise<AccountFacts> {
      const a = await d.cpp.getAccount(accountId);
      if (!a)
        return { exists: false, signIn: 'work', tenantId: null, mpnId: null, migrated: false };
      return {
        exists: true,
        signIn: a.signIn,
        tenantId: a.tenantId,
        mpnId: a.mpnId,
        migrated: a.migrated,
        ...(a.workEmailHint ? { workEmailHint: a.workEmailHint } : {}),
      };
    },

    // R-TEN-2/3/4: consumer domains refused; the e-mail's tenant must be the account's (or its MPN ID's).
    async checkTenant({ accountId, workEmail }): Promise<TenantCheck> {
      const domain = domainOf(workEmail);
      const found = await d.tenants.discoverByDomain(domain);
      if (found.kind === 'consumer') return { kind: 'personal-email-not-allowed', domain };
      if (found.kind === 'unknown') return { kind: 'tenant-not-found', domain };
      const account = await d.cpp.getAccount(accountId);
      let expected = account?.tenantId ?? null;
      if (!expected && account?.mpnId)
        expected = (await d.partnerCenter.getMpnProfile(account.mpnId))?.tenantId ?? null;
      if (expected && expected.toLowerCase() !== found.tenantId.toLowerCase()) {
        return {
          kind: 'tenant-mismatch',
          expectedTenant: { id: expected, name: await tenantName(expected) },
          actualTenantId: found.tenantId,
        };
      }
      return { kind: 'ok', tenant: { id: found.tenantId, name: await tenantName(found.tenantId) } };
    },

    // R-MPN-1/2
    async checkMpn({ mpnId, tenantId }): Promise<MpnCheck> {
      if (!mpnId) return { kind: 'mpn-required' };
      const profile = await d.partnerCenter.getMpnProfile(mpnId, tenantId);
      if (!profile) return { kind: 'mpn-not-found', mpnId };
      if (profile.certificateState !== 'valid')
        return {
          kind: 'mpn-certificate-invalid',
          mpnId,
          certificateState: profile.certificateState,
        };
      if (profile.tenantId.toLowerCase() !== tenantId.toLowerCase()) {
        return {
          kind: 'mpn-tenant-mismatch',
          mpnId,
          expectedTenant: { id: profile.tenantId, name: await tenantName(profile.tenantId) },
        };
      }
      return { kind: 'ok', mpnId, partnerName: profile.partnerName };
    },

    // R-COPY-1/2: idempotent by MS-RequestId per batch; secrets stay inside this function.
    async copyCategory({ accountId, category, attempt }) {
      if (category === 'users') {
        const users = await d.cpp.listUsers(accountId);
        await inBatches(users, (batch, i) =>
          d.partnerCenter.upsertUsers(accountId, batch, requestId(accountId, attempt, 'users', i)),
        );
        return { count: users.length };
      }
      if (category === 'offers') {
        const offers = await d.cpp.listOffers(accountId);
        await inBatches(offers, (batch, i) =>
          d.partnerCenter.upsertOffers(
            accountId,
            batch,
            requestId(accountId, attempt, 'offers', i),
          ),
        );
        return { count: offers.length };
      }
      const doc = await d.cpp.getDocument(accountId, category);
      await d.partnerCenter.putDocument(
        accountId,
        category,
        doc,
        requestId(accountId, attempt, category),
      );
      return { count: 1 };
    },

    // R-COPY-2: counts and content hashes of source and target compared here; no hash leaves this function.
    async verifyCopy({ accountId }) {
      const summary = await d.partnerCenter.summary(accountId);
      if (!summary) return { ok: false, mismatches: [...COPY_CATEGORIES] };
      const mismatches: string[] = [];
      for (const category of COPY_CATEGORIES) {
        const source =
          category === 'users'
            ? await d.cpp.listUsers(accountId)
            : category === 'offers'
              ? await d.cpp.listOffers(accountId)
              : await d.cpp.getDocument(accountId, category);
        const key = SUMMARY_KEYS[category];
        const count = Array.isArray(source) ? source.length : 1;
        if (summary.counts[key] !== count || summary.hashes[key] !== categoryHash(category, source))
          mismatches.push(category);
      }
      return { ok: mismatches.length === 0, mismatches };
    },

    // R-COPY-3
    async switchOver({ accountId, attempt }) {
      const partnerCenterUrl = await d.partnerCenter.activate(
        accountId,
        requestId(accountId, attempt, 'activate'),
      );
      await d.cpp.switchOver(
        accountId,
        partnerCenterUrl,
        requestId(accountId, attempt, 'switch-over'),
      );
      return { partnerCenterUrl };
    },

    async startBackSync({ accountId }) {
      return { instanceId: await d.startBackSync(accountId) };
    },

    // R-COPY-5: at most one message per attempt (outbox key).
    // R-COPY-5: queued once per attempt (insert-if-absent), then sent at once; the outbox retries failures.
    async notifyOwner({ accountId, attempt, to, partnerCenterUrl }) {
      const account = await d.cpp.getAccount(accountId);
      const mail = migratedMail(account?.language ?? 'en', accountId, partnerCenterUrl);
      const bucket = `account~${accountId}`;
      const { queued } = await d.outbox.queue(bucket, [
        { id: `migrated~${attempt}`, mail: { to: [to], ...mail } },
      ]);
      await d.outbox.drain({ bucket, limit: 10 });
      return { sent: queued === 1 };
    },

    async recordStatus({ status, audit }) {
      await d.store.save(status, audit);
      await d.subjects.record(
        'migration',
        status.accountId,
        migrationSummary(status),
        status.status === 'completed',
      );
      return null;
    },

    // R-COPY-4: Partner Center is the truth; CPP (read-only) follows it.
    async syncBack({ accountId, round }) {
      const [target, source] = await Promise.all([
        d.partnerCenter.listUsers(accountId),
        d.cpp.listUsers(accountId),
      ]);
      const inCpp = new Map(source.map((u) => [u.email.toLowerCase(), u]));
      const inPc = new Map(target.map((u) => [u.email.toLowerCase(), u]));
      let added = 0;
      let removed = 0;
      // R-OPS-2: each back-sync write is in the audit trail; the key is the round's and the user's, so
      // a retried round lands on the same row (an identical row counts as written).
      const audited = (op: 'sync' | 'unsync', email: string, detail: string): Promise<void> =>
        d.store.audit(accountId, [
          {
            key: `${round}~back-sync~${op}~${encodeURIComponent(email)}`,
            at: round,
            actor: 'system',
            action: op === 'sync' ? 'back-sync:user-synced' : 'back-sync:user-removed',
            outcome: 'done',
            detail,
          },
        ]);
      for (const [email, u] of inPc) {
        if (inCpp.get(email)?.role === u.role) continue;
        await d.cpp.syncUser(
          accountId,
          { email, role: u.role },
          requestId(accountId, round, 'sync', email),
        );
        await audited('sync', email, `${email} as ${u.role} written to CPP`);
        added++;
      }
      for (const email of inCpp.keys()) {
        if (inPc.has(email)) continue;
        await d.cpp.unsyncUser(accountId, email, requestId(accountId, round, 'unsync', email));
        await audited('unsync', email, `${email} removed from CPP`);
        removed++;
      }
      return { added, removed };
    },
  };
}
