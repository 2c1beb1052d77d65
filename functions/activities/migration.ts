// The migration's activities, built over typed ports (conventions §2). Data moves here, between the
// partner services; only ids, counts and verdicts go back to the orchestration's history.
import { createHash } from 'node:crypto';
import { categoryHash } from '../../lib/domain/hash.js';
import {
  COPY_CATEGORIES,
  DASHBOARD_URL,
  domainOf,
  isActiveOffer,
  type CopyCategory,
  type MpnCheck,
  type PartnerRefusal,
  type TenantCheck,
  type TenantExpectation,
} from '../../lib/domain/migration.js';
import {
  PermanentPartnerError,
  type CppSource,
  type OfferRecord,
  type PartnerCenter,
  type TenantDirectory,
} from '../../lib/partners/adapters.js';
import { migratedMail, migrationSummary } from '../../lib/notify/messages.js';
import type { Outbox } from '../../lib/notify/outbox.js';
import type { AttemptGate } from '../../lib/store/gate.js';
import type { MigrationStore } from '../../lib/store/migrations.js';
import type { SubjectIndex } from '../../lib/store/subjects.js';
import type { AccountFacts, Activities } from '../../orchestrations/names.js';

export interface ActivityDeps {
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  store: MigrationStore;
  gate: AttemptGate;
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

/**
 * Runs `work` over `items` in batches of 100, a few batches at a time, asking `stop` before each batch:
 * once it says yes no further batch starts. Answers how many items were written and whether it stopped.
 */
async function inBatches<T>(
  items: T[],
  stop: () => Promise<boolean>,
  work: (batch: T[], index: number) => Promise<void>,
): Promise<{ written: number; stopped: boolean }> {
  const batches: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) batches.push(items.slice(i, i + BATCH));
  let next = 0;
  let written = 0;
  let stopped = false;
  await Promise.all(
    Array.from({ length: Math.min(PARALLEL_BATCHES, batches.length) }, async () => {
      while (!stopped && next < batches.length) {
        const i = next++;
        if (await stop()) {
          stopped = true;
          break;
        }
        await work(batches[i]!, i);
        written += batches[i]!.length;
      }
    }),
  );
  return { written, stopped };
}

/** A permanent partner error as a value (conventions §4); anything else is rethrown for a retry. */
function refusalOf(e: unknown, opts: { detail: boolean } = { detail: true }): PartnerRefusal {
  if (!(e instanceof PermanentPartnerError)) throw e;
  const body = (e.body ?? {}) as { code?: unknown; description?: unknown; message?: unknown };
  const text = typeof body.description === 'string' ? body.description : body.message;
  // Bodies may echo what was sent (payout data): only a short service message, and never for payout.
  const detail =
    opts.detail && typeof text === 'string' && text.length <= 200
      ? ` (${typeof body.code === 'string' || typeof body.code === 'number' ? `code ${body.code}: ` : ''}${text})`
      : '';
  return { kind: 'partner-refused', reason: `${e.message}${detail}` };
}

/** Offers that stay in CPP, by status (R-COPY-1), e.g. `{ draft: 30 }`. */
function leftBehind(offers: OfferRecord[]): Record<string, number> {
  const left: Record<string, number> = {};
  for (const o of offers) if (!isActiveOffer(o)) left[o.status] = (left[o.status] ?? 0) + 1;
  return left;
}

const SUMMARY_KEYS: Record<CopyCategory, string> = {
  'publishing-agreement': 'publishingAgreement',
  'company-profile': 'companyProfile',
  'payout-profile': 'payoutProfile',
  users: 'users',
  offers: 'offers',
};

export function createActivities(d: ActivityDeps): Handlers {
  // A tenant's display name is a courtesy: when Graph refuses, the id stands in for it.
  const tenantName = async (id: string): Promise<string> =>
    (
      await d.tenants.describeTenant(id).catch((e: unknown) => {
        if (e instanceof PermanentPartnerError) return undefined;
        throw e;
      })
    )?.name ?? id;

  /** R-TEN-2/3: the tenant of the MPN ID when it has one, else the CPP account's own, else none. */
  const expectedTenant = async (
    accountId: string,
    givenMpnId: string | null | undefined,
  ): Promise<TenantExpectation | undefined> => {
    const account = await d.cpp.getAccount(accountId);
    const mpnId = givenMpnId ?? account?.mpnId ?? null;
    const profile = mpnId ? await d.partnerCenter.getMpnProfile(mpnId) : undefined;
    if (profile && mpnId)
      return {
        tenant: { id: profile.tenantId, name: await tenantName(profile.tenantId) },
        because: 'mpn-id',
        mpnId,
      };
    if (account?.tenantId)
      return {
        tenant: { id: account.tenantId, name: await tenantName(account.tenantId) },
        because: 'cpp-account',
      };
    return undefined;
  };

  /**
   * R-COPY-2: counts and content hashes of source and target; no hash leaves this module. The source is
   * what should have been copied: offers are the active ones (R-COPY-1).
   */
  const verify = async (accountId: string): Promise<{ ok: boolean; mismatches: string[] }> => {
    const summary = await d.partnerCenter.summary(accountId);
    if (!summary) return { ok: false, mismatches: [...COPY_CATEGORIES] };
    const mismatches: string[] = [];
    for (const category of COPY_CATEGORIES) {
      const source =
        category === 'users'
          ? await d.cpp.listUsers(accountId)
          : category === 'offers'
            ? (await d.cpp.listOffers(accountId)).filter(isActiveOffer)
            : await d.cpp.getDocument(accountId, category);
      const key = SUMMARY_KEYS[category];
      const count = Array.isArray(source) ? source.length : 1;
      if (summary.counts[key] !== count || summary.hashes[key] !== categoryHash(category, source))
        mismatches.push(category);
    }
    return { ok: mismatches.length === 0, mismatches };
  };

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

    // R-TEN-2/3/4: consumer domains refused; the e-mail's tenant must be the one linked to the MPN ID
    // (the account's, or the one the owner gave), else the CPP account's own tenant.
    async checkTenant({ accountId, workEmail, mpnId }): Promise<TenantCheck> {
      try {
        const domain = domainOf(workEmail);
        const expected = await expectedTenant(accountId, mpnId);
        const found = await d.tenants.discoverByDomain(domain);
        const because = expected ? { expected } : {};
        if (found.kind === 'consumer')
          return { kind: 'personal-email-not-allowed', workEmail, domain, ...because };
        if (found.kind === 'unknown')
          return { kind: 'tenant-not-found', workEmail, domain, ...because };
        if (expected && expected.tenant.id.toLowerCase() !== found.tenantId.toLowerCase())
          return { kind: 'tenant-mismatch', workEmail, expected, actualTenantId: found.tenantId };
        return {
          kind: 'ok',
          tenant: { id: found.tenantId, name: await tenantName(found.tenantId) },
        };
      } catch (e) {
        return refusalOf(e);
      }
    },

    // R-MPN-1/2
    async checkMpn({ mpnId, tenantId }): Promise<MpnCheck> {
      if (!mpnId) return { kind: 'mpn-required' };
      try {
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
      } catch (e) {
        return refusalOf(e);
      }
    },

    // R-COPY-1/2: idempotent by MS-RequestId per batch; secrets stay inside this function. Before each
    // write the attempt's gate is read: once a cancel (or a failure elsewhere) closed it, nothing more is
    // written, on a retry or after a crash alike.
    async copyCategory({ accountId, category, attempt }) {
      const stop = async (): Promise<boolean> =>
        (await d.gate.read(accountId, attempt)) !== undefined;
      try {
        if (category === 'users') {
          const users = await d.cpp.listUsers(accountId);
          const r = await inBatches(users, stop, (batch, i) =>
            d.partnerCenter.upsertUsers(
              accountId,
              batch,
              requestId(accountId, attempt, 'users', i),
            ),
          );
          return r.stopped
            ? { kind: 'stopped', count: r.written }
            : { kind: 'copied', count: users.length };
        }
        if (category === 'offers') {
          const all = await d.cpp.listOffers(accountId);
          const active = all.filter(isActiveOffer);
          const r = await inBatches(active, stop, (batch, i) =>
            d.partnerCenter.upsertOffers(
              accountId,
              batch,
              requestId(accountId, attempt, 'offers', i),
            ),
          );
          if (r.stopped) return { kind: 'stopped', count: r.written };
          const left = leftBehind(all);
          return {
            kind: 'copied',
            count: active.length,
            ...(Object.keys(left).length ? { left } : {}),
          };
        }
        if (await stop()) return { kind: 'stopped', count: 0 };
        const doc = await d.cpp.getDocument(accountId, category);
        await d.partnerCenter.putDocument(
          accountId,
          category,
          doc,
          requestId(accountId, attempt, category),
        );
        return { kind: 'copied', count: 1 };
      } catch (e) {
        const refused = refusalOf(e, { detail: category !== 'payout-profile' });
        // The other categories stop at their next batch: the migration fails at once (no retry helps).
        await d.gate.decide(accountId, attempt, 'failed', 'system');
        return refused;
      }
    },

    // R-COPY-2: offers are compared with what should have been copied: the active ones (R-COPY-1).
    async verifyCopy({ accountId }) {
      try {
        return await verify(accountId);
      } catch (e) {
        return refusalOf(e);
      }
    },

    async closeGate({ accountId, attempt, decision }) {
      return { decision: await d.gate.decide(accountId, attempt, decision, 'system') };
    },

    // R-COPY-3
    async switchOver({ accountId, attempt }) {
      try {
        const partnerCenterUrl = await d.partnerCenter.activate(
          accountId,
          requestId(accountId, attempt, 'activate'),
        );
        await d.cpp.switchOver(
          accountId,
          partnerCenterUrl,
          requestId(accountId, attempt, 'switch-over'),
        );
        return { kind: 'switched', partnerCenterUrl };
      } catch (e) {
        return refusalOf(e);
      }
    },

    async startBackSync({ accountId }) {
      return { instanceId: await d.startBackSync(accountId) };
    },

    // R-COPY-5: at most one message per attempt (outbox key).
    // R-COPY-5: queued once per attempt (insert-if-absent), then sent at once; the outbox retries failures.
    async notifyOwner({ accountId, attempt, to, partnerCenterUrl }) {
      const account = await d.cpp.getAccount(accountId);
      // The source: the personal link activates the new account; the dashboard leads back to it later.
      const mail = migratedMail(
        account?.language ?? 'en',
        accountId,
        partnerCenterUrl,
        DASHBOARD_URL,
      );
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
