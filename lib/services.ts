// The composition root: builds the real adapters and stores from the configuration, once per process.
import { TokenVerifier } from './auth/tokens.js';
import { config, type Config } from './config.js';
import { TableOutbox, type Notifier } from './notify/outbox.js';
import {
  createPartnerAdapters,
  type CppSource,
  type PartnerCenter,
  type TenantDirectory,
} from './partners/adapters.js';
import { TableAttemptGate, type AttemptGate } from './store/gate.js';
import { TableMigrationStore, type MigrationStore } from './store/migrations.js';

export interface Services {
  config: Config;
  store: MigrationStore;
  /** the per-attempt decision a cancel and the switch-over race for (one row beside the status) */
  gate: AttemptGate;
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  outbox: Notifier;
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
    gate: new TableAttemptGate(cfg.AzureWebJobsStorage, `${cfg.TABLE_PREFIX}Migrations`),
    ...partners,
    outbox: new TableOutbox(
      cfg.AzureWebJobsStorage,
      (m) => console.info(`Mail to ${m.to}: ${m.subject}`),
      `${cfg.TABLE_PREFIX}Outbox`,
    ),
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
