// The D365 checklist's activities (R-D365), over typed ports. Only ids, states and report reasons go back
// to the orchestration's history.
import {
  BUSINESS_CENTRAL,
  checklistStatus,
  isChecklistOffer,
  productTypeOf,
  whatIsLeftOf,
} from '../../lib/domain/d365.js';
import type { PartnerRefusal } from '../../lib/domain/migration.js';
import type { ReminderSchedule } from '../../lib/domain/reminders.js';
import {
  PermanentPartnerError,
  type CppSource,
  type OfferIngestion,
  type PartnerCenter,
} from '../../lib/partners/adapters.js';
import type { ChecklistStore } from '../../lib/store/checklists.js';
import type { MigrationStore } from '../../lib/store/migrations.js';
import type { SubjectIndex } from '../../lib/store/subjects.js';
import type { D365Activities, D365Facts } from '../../orchestrations/names.js';
import { requestId } from './migration.js';

export interface D365Deps {
  cpp: CppSource;
  partnerCenter: PartnerCenter;
  ingestion: OfferIngestion;
  store: MigrationStore;
  checklists: ChecklistStore;
  subjects: SubjectIndex;
  schedule: ReminderSchedule;
}

type Handlers = {
  [N in keyof D365Activities]: (
    input: D365Activities[N]['in'],
  ) => Promise<D365Activities[N]['out']>;
};

function refusal(e: unknown): PartnerRefusal {
  if (!(e instanceof PermanentPartnerError)) throw e;
  const body = (e.body ?? {}) as { message?: unknown; description?: unknown };
  const text = typeof body.message === 'string' ? body.message : body.description;
  return {
    kind: 'partner-refused',
    reason: `${e.message}${typeof text === 'string' && text.length <= 200 ? ` (${text})` : ''}`,
  };
}

/** Runs `f` over `items`, at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

export function createD365Activities(d: D365Deps): Handlers {
  return {
    // R-D365-1/2/3/5: what can be read. Business Central offers are listed, never looked up.
    async d365Facts({ accountId, offers: withOffers }): Promise<D365Facts> {
      const account = await d.cpp.getAccount(accountId);
      if (!account)
        return {
          exists: false,
          mpnId: null,
          pmcMigrated: null,
          marketplaceEnrolled: null,
          billingComplete: null,
          offers: [],
        };
      // The MPN ID the migration verified, else the account's own.
      const mpnId = (await d.store.get(accountId))?.mpnId ?? account.mpnId;
      const [profile, billing] = mpnId
        ? await Promise.all([
            d.partnerCenter.getMpnProfile(mpnId),
            d.ingestion.billingComplete(mpnId),
          ])
        : [undefined, undefined];
      const offers = withOffers
        ? await pool((await d.cpp.listOffers(accountId)).filter(isChecklistOffer), 8, async (o) => {
            const product =
              o.kind === BUSINESS_CENTRAL
                ? undefined
                : await d.ingestion.findProduct(accountId, o.id);
            return {
              offerId: o.id,
              name: o.name,
              kind: o.kind,
              supportsLatestPlatform: o.supportsLatestPlatform,
              ...(product ? { productId: product.id } : {}),
            };
          })
        : [];
      return {
        exists: true,
        mpnId,
        pmcMigrated: profile?.partnerCenterMembership
          ? profile.partnerCenterMembership === 'migrated'
          : null,
        marketplaceEnrolled: profile?.programs?.includes('CommercialMarketplace') ? true : null,
        billingComplete: billing ?? null,
        offers,
      };
    },

    async d365OfferPlatform({ accountId, offerId }) {
      const o = (await d.cpp.listOffers(accountId)).find((x) => x.id === offerId);
      return { supported: o?.supportsLatestPlatform ?? false };
    },

    // R-D365-3: an AppSource offer of the matching kind (idempotent: found by its external id first).
    async d365CreateProduct({ accountId, offerId, name, kind }) {
      const type = productTypeOf(kind);
      if (!type)
        return { kind: 'partner-refused', reason: `no AppSource product type for ${kind}` };
      try {
        const found = await d.ingestion.findProduct(accountId, offerId);
        if (found) return { productId: found.id };
        const p = await d.ingestion.createProduct(
          accountId,
          offerId,
          name,
          type,
          requestId(accountId, offerId, 'create-product'),
        );
        return { productId: p.id };
      } catch (e) {
        return refusal(e);
      }
    },

    // R-D365-6: one submission per round, whatever crashes in between (a stable request id; a
    // submission already in flight is adopted, never doubled).
    async d365Submit({ accountId, offerId, productId, round, generation, premiumTier }) {
      try {
        const r = await d.ingestion.submit(
          accountId,
          productId,
          {
            publishOption: {
              isManualPublish: true,
              isAutoPromote: false,
              certificationNotes: 'Resubmitted for the move to Partner Center (AppSource).',
            },
            ...(premiumTier ? { extendedProperties: { premiumTierRequested: true } } : {}),
          },
          generation === undefined
            ? requestId(accountId, offerId, 'submit', round)
            : requestId(accountId, offerId, 'submit', generation, round),
        );
        return { submissionId: 'id' in r ? r.id : r.inFlight };
      } catch (e) {
        return refusal(e);
      }
    },

    async d365Certification({ accountId, productId, submissionId }) {
      return d.ingestion.certification(accountId, productId, submissionId);
    },

    async d365Promote({ accountId, offerId, productId, submissionId }) {
      try {
        await d.ingestion.promote(
          accountId,
          productId,
          submissionId,
          requestId(accountId, offerId, 'promote', submissionId),
        );
        return { promoted: true };
      } catch (e) {
        return refusal(e);
      }
    },

    // The read model and its audit in one transaction; then the reminder index learns what is left.
    async d365Record({ accountId, change, audit }) {
      await d.checklists.save(accountId, change, audit);
      const record = await d.checklists.get(accountId);
      if (record) {
        const { status } = checklistStatus(record, d.schedule.deadline, new Date());
        const left = whatIsLeftOf(record);
        await d.subjects.record(
          'd365',
          accountId,
          {
            kind: 'd365',
            status: status === 'overdue' ? 'in-progress' : status,
            ...(left.steps.length ? { step: left.steps.join(', ') } : {}),
            steps: left.steps,
            offers: left.offers.slice(0, 20),
          },
          status === 'completed',
        );
      }
      return null;
    },
  };
}
