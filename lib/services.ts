// The composition root: builds the real adapters and stores from the configuration, once per process.
import { TokenVerifier } from './auth/tokens.js';
import { config, reminderSchedule, type Config } from './config.js';
import type { ReminderSchedule } from './domain/reminders.js';
import { AcsMailSender } from './notify/acs.js';
import { TableOutbox, type Outbox } from './notify/outbox.js';
import { PermanentPartnerError, RateLimiter } from './partners/http.js';
import {
  createPartnerAdapters,
  type CppSource,
  type OfferIngestion,
  type PartnerCenter,
  type TenantDirectory,
} from './partners/adapters.js';
import { TableChecklistStore, type ChecklistStore } from './store/checklists.js';
import { TableAttemptGate, type AttemptGate } from './store/gate.js';
import { TableMigrationStore, type MigrationStore, type StatusClaims } from './store/migrations.js';
import { TableSubjectIndex, type SubjectIndex } from './store/subjects.js';

export interface Services {
  config: Config;
  store: MigrationStore & StatusClaims;
  /** the per-attempt decision a cancel and the switch-over race for (one row beside the status) */
  gate: AttemptGate;
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  /** Partner Center's ingestion API and billing profile (R-D365) */
  ingestion: OfferIngestion;
  /** the D365 checklist read model (one row per account) and its audit */
  checklists: ChecklistStore;
  /**
   * The same services for the HTTP routes: a caller is waiting, so a partner's Retry-After is honoured
   * in place only up to 10 s (longer is a 503 for the caller) and fewer attempts are made. The adapters
   * above (for activities) wait up to two minutes. Both share one rate limiter per partner tenant.
   */
  interactive: {
    tenants: TenantDirectory;
    partnerCenter: PartnerCenter;
    cpp: CppSource;
    ingestion: OfferIngestion;
  };
  outbox: Outbox;
  subjects: SubjectIndex;
  schedule: ReminderSchedule;
  verifier: TokenVerifier;
  /** Owners of a CPP account (lower-cased), or undefined when it does not exist; cached briefly. */
  owners(accountId: string): Promise<string[] | undefined>;
}

const OWNER_TTL_MS = 30_000;
const TENANT_TTL_MS = 10 * 60_000;
let cached: Services | undefined;

export function services(): Services {
  if (cached) return cached;
  const cfg = config();
  const store = new TableMigrationStore(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Migrations`);
  // R-OPS-3: Partner Center calls are limited per partner tenant: the tenant the migration found for the
  // account (from its work e-mail), else the one CPP links it to. One lookup per account at a time (the
  // five copies start together); only found tenants are remembered.
  const tenantCache = new Map<string, { at: number; tenantId: Promise<string | undefined> }>();
  const tenantOf = (accountId: string): Promise<string | undefined> => {
    const hit = tenantCache.get(accountId);
    if (hit && Date.now() - hit.at < TENANT_TTL_MS) return hit.tenantId;
    const tenantId = (async () => {
      const id =
        (await store.get(accountId))?.tenant?.id ??
        (await partners.cpp.getAccount(accountId))?.tenantId ??
        undefined;
      if (!id) tenantCache.delete(accountId);
      return id?.toLowerCase();
    })();
    tenantId.catch(() => tenantCache.delete(accountId));
    tenantCache.set(accountId, { at: Date.now(), tenantId });
    return tenantId;
  };
  const endpoints = {
    entra: cfg.ENTRA_DISCOVERY_URL,
    graph: cfg.GRAPH_URL,
    partnerCenter: cfg.PARTNER_CENTER_URL,
    cpp: cfg.CPP_URL,
  };
  const common = {
    log: (line: string) => console.warn(`[partners] ${line}`),
    tenantOf,
    limiter: new RateLimiter(200, 50),
  };
  const partners = createPartnerAdapters(endpoints, {
    ...common,
    retry: { maxRetryAfterMs: 120_000 },
  });
  const interactive = createPartnerAdapters(endpoints, {
    ...common,
    retry: { maxRetryAfterMs: 10_000, maxAttempts: 3 },
  });
  const ownerCache = new Map<string, { at: number; owners: string[] | undefined }>();
  cached = {
    config: cfg,
    store,
    gate: new TableAttemptGate(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Migrations`),
    ...partners,
    interactive,
    checklists: new TableChecklistStore(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Checklists`),
    outbox: new TableOutbox(
      cfg.AzureWebJobsStorage,
      new AcsMailSender(cfg.ACS_CONNECTION_STRING, cfg.MAIL_SENDER),
      `${cfg.TABLE_PREFIX}Outbox`,
      (line) => console.warn(`[outbox] ${line}`),
    ),
    subjects: new TableSubjectIndex(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Subjects`),
    schedule: reminderSchedule(cfg),
    verifier: new TokenVerifier({
      issuer: cfg.AUTH_ISSUER,
      audience: cfg.AUTH_AUDIENCE,
      jwksUrl: cfg.AUTH_JWKS_URL,
    }),
    async owners(accountId) {
      const hit = ownerCache.get(accountId);
      if (hit && Date.now() - hit.at < OWNER_TTL_MS) return hit.owners;
      // A missing account costs what someone else's does (the same two calls, side by side), so the
      // time of a 403 does not tell whether the account exists.
      const [account, users] = await Promise.all([
        interactive.cpp.getAccount(accountId),
        interactive.cpp.listUsers(accountId).catch((e: unknown) => {
          if (e instanceof PermanentPartnerError && e.status === 404) return undefined;
          throw e;
        }),
      ]);
      const owners =
        account && users
          ? users.filter((u) => u.role === 'owner').map((u) => u.email.toLowerCase())
          : undefined;
      ownerCache.set(accountId, { at: Date.now(), owners });
      return owners;
    },
  };
  return cached;
}
