// The composition root: builds the real adapters and stores from the configuration, once per process.
import { TokenVerifier } from './auth/tokens.js';
import { config, reminderSchedule, type Config } from './config.js';
import type { ReminderSchedule } from './domain/reminders.js';
import { AcsMailSender } from './notify/acs.js';
import { TableOutbox, type Outbox } from './notify/outbox.js';
import {
  createPartnerAdapters,
  type CppSource,
  type PartnerCenter,
  type TenantDirectory,
} from './partners/adapters.js';
import { TableMigrationStore, type MigrationStore } from './store/migrations.js';
import { TableSubjectIndex, type SubjectIndex } from './store/subjects.js';

export interface Services {
  config: Config;
  store: MigrationStore;
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  outbox: Outbox;
  subjects: SubjectIndex;
  schedule: ReminderSchedule;
  verifier: TokenVerifier;
  /** Owners of a CPP account (lower-cased), or undefined when it does not exist; cached briefly. */
  owners(accountId: string): Promise<string[] | undefined>;
}

const OWNER_TTL_MS = 30_000;
let cached: Services | undefined;

export function services(): Services {
  if (cached) return cached;
  const cfg = config();
  const partners = createPartnerAdapters(
    {
      entra: cfg.ENTRA_DISCOVERY_URL,
      graph: cfg.GRAPH_URL,
      partnerCenter: cfg.PARTNER_CENTER_URL,
      cpp: cfg.CPP_URL,
    },
    { log: (line) => console.warn(`[partners] ${line}`) },
  );
  const store = new TableMigrationStore(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Migrations`);
  const ownerCache = new Map<string, { at: number; owners: string[] | undefined }>();
  cached = {
    config: cfg,
    store,
    ...partners,
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
      const account = await partners.cpp.getAccount(accountId);
      const owners = account
        ? (await partners.cpp.listUsers(accountId))
            .filter((u) => u.role === 'owner')
            .map((u) => u.email.toLowerCase())
        : undefined;
      ownerCache.set(accountId, { at: Date.now(), owners });
      return owners;
    },
  };
  return cached;
}
