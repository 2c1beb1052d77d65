// Typed ports to the partner services and their HTTP adapters (the sandbox locally, Microsoft's services on Azure).
import { PartnerHttpClient, PermanentPartnerError, RateLimiter, type RetryPolicy } from './http.js';

export type DomainDiscovery =
  { kind: 'entra'; tenantId: string } | { kind: 'consumer' } | { kind: 'unknown' };

export interface TenantDirectory {
  /** R-TEN-4: the tenant of an e-mail domain, from its OpenID configuration document. */
  discoverByDomain(domain: string): Promise<DomainDiscovery>;
  /** The display name of a tenant (Graph findTenantInformationByTenantId), or undefined. */
  describeTenant(tenantId: string): Promise<{ id: string; name: string } | undefined>;
}

export interface MpnProfile {
  mpnId: string;
  partnerName: string;
  tenantId: string;
  certificateState: string;
  /** R-D365-1: `migrated` once the membership moved from PMC to Partner Center */
  partnerCenterMembership?: string;
  /** R-D365-2: programs the profile names (`CommercialMarketplace`); absent means it does not say */
  programs?: string[];
}

export interface UserRecord {
  email: string;
  role: string;
}

export interface OfferRecord {
  id: string;
  name: string;
  kind: string;
  status: string;
  inAppSource: boolean;
  supportsLatestPlatform: boolean;
}

export type DocumentCategory = 'publishing-agreement' | 'company-profile' | 'payout-profile';

export interface TargetSummary {
  counts: Record<string, number>;
  hashes: Record<string, string>;
}

export interface PartnerCenter {
  /** `tenant`: the partner tenant the lookup is made for (the caller's), for the rate limit. */
  getMpnProfile(mpnId: string, tenant?: string): Promise<MpnProfile | undefined>;
  putDocument(
    accountId: string,
    category: DocumentCategory,
    body: unknown,
    requestId: string,
  ): Promise<void>;
  upsertUsers(
    accountId: string,
    users: UserRecord[],
    requestId: string,
    tenant?: string,
  ): Promise<void>;
  upsertOffers(
    accountId: string,
    offers: OfferRecord[],
    requestId: string,
    tenant?: string,
  ): Promise<void>;
  listUsers(accountId: string): Promise<UserRecord[]>;
  summary(accountId: string): Promise<TargetSummary | undefined>;
  /** Makes the seller account live; returns its personal Partner Center link. */
  activate(accountId: string, requestId: string): Promise<string>;
}

export interface IngestionProduct {
  id: string;
  resourceType: string;
  name: string;
}

/** A certification report (A.10 `reports` + `validations`): Pending until certification ends. */
export interface Certification {
  status: 'Pending' | 'Passed' | 'PassedWithNotes' | 'Failed' | 'Unknown';
  reasons: string[];
}

/** Partner Center's ingestion API (A.10) and the billing profile: what the D365 checklist needs (R-D365). */
export interface OfferIngestion {
  billingComplete(mpnId: string): Promise<boolean | undefined>;
  /** The product whose AzureOfferID is the offer's id, if AppSource has one. */
  findProduct(accountId: string, offerId: string): Promise<IngestionProduct | undefined>;
  createProduct(
    accountId: string,
    offerId: string,
    name: string,
    resourceType: string,
    requestId: string,
  ): Promise<IngestionProduct>;
  /** Submits for certification; a submission already in flight is named instead (409). */
  submit(
    accountId: string,
    productId: string,
    body: Record<string, unknown>,
    requestId: string,
  ): Promise<{ id: string } | { inFlight: string }>;
  certification(accountId: string, productId: string, submissionId: string): Promise<Certification>;
  /** Go live: promotes the approved submission (idempotent). */
  promote(
    accountId: string,
    productId: string,
    submissionId: string,
    requestId: string,
  ): Promise<void>;
}

export interface CppAccount {
  id: string;
  displayName: string;
  signIn: 'work' | 'msa';
  tenantId: string | null;
  mpnId: string | null;
  migrated: boolean;
  readOnly: boolean;
  partnerCenterUrl?: string;
  workEmailHint?: string;
  language?: 'en' | 'nl';
  counts: { users: number; offers: number };
}

/** One account of CPP's account listing: what reminders need to know of every publisher (R-DUE-2). */
export interface CppAccountSummary {
  id: string;
  displayName: string;
  migrated: boolean;
  language?: 'en' | 'nl';
  /** R-D365: Dynamics 365 / PowerApps offers (not Business Central); such accounts have a checklist */
  d365Offers?: number;
  owners: string[];
  /** CPP's change counter: a listing `since` it holds only what changed afterwards. */
  version: number;
}

export interface CppAccountPage {
  items: CppAccountSummary[];
  /** The listing's version when answered: the next refresh asks `since` it. */
  version: number;
  continuationToken?: string;
}

export interface CppSource {
  getAccount(accountId: string): Promise<CppAccount | undefined>;
  getDocument(accountId: string, category: DocumentCategory): Promise<unknown>;
  listUsers(accountId: string): Promise<UserRecord[]>;
  listOffers(accountId: string): Promise<OfferRecord[]>;
  /** A page of the accounts changed after `since` (0: all), oldest change first. */
  listAccounts(since: number, continuationToken?: string): Promise<CppAccountPage>;
  /** R-COPY-3: CPP becomes read-only for the account, and shows it as migrated. */
  switchOver(accountId: string, partnerCenterUrl: string, requestId: string): Promise<void>;
  /** R-COPY-4: back-sync writes, allowed on a read-only account. */
  syncUser(accountId: string, user: UserRecord, requestId: string): Promise<void>;
  unsyncUser(accountId: string, email: string, requestId: string): Promise<void>;
}

export interface PartnerEndpoints {
  entra: string;
  graph: string;
  partnerCenter: string;
  cpp: string;
}

const DOCUMENT_PATHS: Record<DocumentCategory, string> = {
  'publishing-agreement': 'publishing-agreement',
  'company-profile': 'profiles/company',
  'payout-profile': 'profiles/payout',
};

async function allPages<T>(client: PartnerHttpClient, path: string, tenant?: string): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const q = `top=1000${token ? `&continuationToken=${encodeURIComponent(token)}` : ''}`;
    const res = await client.request<{ items: T[]; continuationToken?: string }>(
      `${path}?${q}`,
      tenant ? { tenant } : {},
    );
    out.push(...res.body.items);
    token = res.body.continuationToken;
  } while (token);
  return out;
}

/** The rate-limit key of Partner Center calls whose partner tenant is not known yet. */
export const UNKNOWN_TENANT = '(tenant not known yet)';

/**
 * Builds the HTTP adapters. Every Partner Center call, reads included, takes its turn from one rate
 * limiter keyed by the partner tenant (R-OPS-3): `tenantOf` names the tenant of a CPP account, so that
 * several accounts of one tenant share its budget, and one tenant cannot starve the others.
 */
export function createPartnerAdapters(
  endpoints: PartnerEndpoints,
  opts: {
    retry?: Partial<RetryPolicy>;
    log?: (line: string) => void;
    ratePerTenant?: number;
    limiter?: RateLimiter;
    tenantOf?: (accountId: string) => Promise<string | undefined>;
  } = {},
): {
  tenants: TenantDirectory;
  partnerCenter: PartnerCenter;
  cpp: CppSource;
  ingestion: OfferIngestion;
} {
  const limiter = opts.limiter ?? new RateLimiter(opts.ratePerTenant ?? 200, 50);
  const tenantOf = async (accountId: string): Promise<string> =>
    (await opts.tenantOf?.(accountId).catch(() => undefined)) ?? UNKNOWN_TENANT;
  const common = {
    ...(opts.retry ? { retry: opts.retry } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  };
  const entra = new PartnerHttpClient({ baseUrl: endpoints.entra, ...common });
  const graph = new PartnerHttpClient({ baseUrl: endpoints.graph, ...common });
  const pc = new PartnerHttpClient({ baseUrl: endpoints.partnerCenter, limiter, ...common });
  const cpp = new PartnerHttpClient({ baseUrl: endpoints.cpp, ...common });
  const enc = encodeURIComponent;

  const tenants: TenantDirectory = {
    async discoverByDomain(domain) {
      const res = await entra.request<{ issuer?: string; error_description?: string }>(
        `${enc(domain)}/v2.0/.well-known/openid-configuration`,
        { accept: [400, 404] },
      );
      if (res.status !== 200) return { kind: 'unknown' };
      const tenantId = /^https:\/\/[^/]+\/([0-9a-f-]{36})\//i.exec(res.body.issuer ?? '')?.[1];
      if (!tenantId) return { kind: 'unknown' };
      return tenantId.toLowerCase() === CONSUMER_TENANT
        ? { kind: 'consumer' }
        : { kind: 'entra', tenantId };
    },
    async describeTenant(tenantId) {
      const res = await graph.request<{ tenantId: string; displayName: string }>(
        `v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='${enc(tenantId)}')`,
        { accept: [404] },
      );
      return res.status === 200 ? { id: res.body.tenantId, name: res.body.displayName } : undefined;
    },
  };

  const partnerCenter: PartnerCenter = {
    async getMpnProfile(mpnId, tenant) {
      // An MPN ID Partner Center refuses as malformed (400) is one that does not exist: the owner fixes it.
      const res = await pc.request<MpnProfile>(`v1/profiles/mpn?mpnId=${enc(mpnId)}`, {
        accept: [400, 404],
        tenant: tenant ?? UNKNOWN_TENANT,
      });
      return res.status === 200 ? res.body : undefined;
    },
    async putDocument(accountId, category, body, requestId) {
      await pc.request(`v1/accounts/${enc(accountId)}/${DOCUMENT_PATHS[category]}`, {
        method: 'PUT',
        body,
        requestId,
        tenant: await tenantOf(accountId),
      });
    },
    async upsertUsers(accountId, users, requestId, tenant) {
      await pc.request(`v1/accounts/${enc(accountId)}/users/$batch`, {
        method: 'POST',
        body: { items: users },
        requestId,
        tenant: tenant ?? (await tenantOf(accountId)),
      });
    },
    async upsertOffers(accountId, offers, requestId, tenant) {
      await pc.request(`v1/accounts/${enc(accountId)}/offers/$batch`, {
        method: 'POST',
        body: { items: offers },
        requestId,
        tenant: tenant ?? (await tenantOf(accountId)),
      });
    },
    listUsers: async (accountId) =>
      allPages<UserRecord>(pc, `v1/accounts/${enc(accountId)}/users`, await tenantOf(accountId)),
    async summary(accountId) {
      const res = await pc.request<TargetSummary>(`v1/accounts/${enc(accountId)}/summary`, {
        accept: [404],
        tenant: await tenantOf(accountId),
      });
      return res.status === 200 ? res.body : undefined;
    },
    async activate(accountId, requestId) {
      const res = await pc.request<{ partnerCenterUrl: string }>(
        `v1/accounts/${enc(accountId)}/activate`,
        { method: 'POST', requestId, tenant: await tenantOf(accountId) },
      );
      return res.body.partnerCenterUrl;
    },
  };

  const cppSource: CppSource = {
    async getAccount(accountId) {
      const res = await cpp.request<CppAccount>(`cpp/accounts/${enc(accountId)}`, {
        accept: [404],
      });
      return res.status === 200 ? res.body : undefined;
    },
    async getDocument(accountId, category) {
      return (await cpp.request<unknown>(`cpp/accounts/${enc(accountId)}/${category}`)).body;
    },
    listUsers: (accountId) => allPages<UserRecord>(cpp, `cpp/accounts/${enc(accountId)}/users`),
    listOffers: (accountId) => allPages<OfferRecord>(cpp, `cpp/accounts/${enc(accountId)}/offers`),
    async listAccounts(since, continuationToken) {
      const q = `since=${since}&top=1000${continuationToken ? `&continuationToken=${encodeURIComponent(continuationToken)}` : ''}`;
      return (await cpp.request<CppAccountPage>(`cpp/accounts?${q}`)).body;
    },
    async switchOver(accountId, partnerCenterUrl, requestId) {
      await cpp.request(`cpp/accounts/${enc(accountId)}/switch-over`, {
        method: 'POST',
        body: { partnerCenterUrl },
        requestId,
      });
    },
    async syncUser(accountId, user, requestId) {
      await cpp.request(`cpp/accounts/${enc(accountId)}/sync/users/${enc(user.email)}`, {
        method: 'PUT',
        body: { role: user.role },
        requestId,
      });
    },
    async unsyncUser(accountId, email, requestId) {
      await cpp.request(`cpp/accounts/${enc(accountId)}/sync/users/${enc(email)}`, {
        method: 'DELETE',
        requestId,
        accept: [404],
      });
    },
  };
  // The ingestion API lives under /v1.0/ingestion of Partner Center's API host.
  const ing = (p: string): string => `v1.0/ingestion/${p}`;
  const ingestion: OfferIngestion = {
    async billingComplete(mpnId) {
      const res = await pc.request<{ complete?: boolean }>(
        `v1/profiles/billing?mpnId=${enc(mpnId)}`,
        { accept: [400, 404], tenant: UNKNOWN_TENANT },
      );
      return res.status === 200 ? res.body.complete === true : undefined;
    },
    async findProduct(accountId, offerId) {
      const filter = `ExternalIDs/Any(i:i/Type eq 'AzureOfferID' and i/Value eq '${offerId.replace(/'/g, "''")}')`;
      const res = await pc.request<{ value: IngestionProduct[] }>(
        ing(`products?$filter=${enc(filter)}`),
        { tenant: await tenantOf(accountId) },
      );
      const p = res.body.value[0];
      return p ? { id: p.id, resourceType: p.resourceType, name: p.name } : undefined;
    },
    async createProduct(accountId, offerId, name, resourceType, requestId) {
      const res = await pc.request<IngestionProduct>(ing('products'), {
        tenant: await tenantOf(accountId),
        method: 'POST',
        body: { resourceType, name, externalIDs: [{ type: 'AzureOfferID', value: offerId }] },
        requestId,
        headers: { 'client-request-id': requestId },
        accept: [409],
      });
      if (res.status === 409) {
        // Created by an earlier attempt whose answer was lost: look it up by its external id.
        const found = await ingestion.findProduct(accountId, offerId);
        if (found) return found;
        throw new PermanentPartnerError(`POST products answered 409`, 409, res.body);
      }
      return { id: res.body.id, resourceType: res.body.resourceType, name: res.body.name };
    },
    async submit(accountId, productId, body, requestId) {
      const tenant = await tenantOf(accountId);
      const res = await pc.request<{ id: string; details?: { submissionId?: string }[] }>(
        ing(`products/${enc(productId)}/submissions`),
        {
          tenant,
          method: 'POST',
          body,
          requestId,
          headers: { 'client-request-id': requestId },
          accept: [409],
        },
      );
      if (res.status === 409) {
        const open = res.body.details?.find((d) => d.submissionId)?.submissionId;
        if (open) return { inFlight: open };
        throw new PermanentPartnerError('POST submissions answered 409', 409, res.body);
      }
      return { id: res.body.id };
    },
    async certification(accountId, productId, submissionId) {
      const tenant = await tenantOf(accountId);
      const base = ing(`products/${enc(productId)}/submissions/${enc(submissionId)}`);
      const reports = await pc.request<{ value: { status: Certification['status'] }[] }>(
        `${base}/reports`,
        { tenant },
      );
      const status = reports.body.value.at(-1)?.status ?? 'Pending';
      if (status === 'Pending' || status === 'Passed') return { status, reasons: [] };
      const v = await pc.request<{ value: { message: string }[] }>(`${base}/validations`, {
        tenant,
      });
      return { status, reasons: v.body.value.map((x) => x.message) };
    },
    async promote(accountId, productId, submissionId, requestId) {
      const tenant = await tenantOf(accountId);
      await pc.request(ing(`products/${enc(productId)}/submissions/${enc(submissionId)}/promote`), {
        method: 'POST',
        requestId,
        headers: { 'client-request-id': requestId },
        tenant,
      });
    },
  };
  return { tenants, partnerCenter, cpp: cppSource, ingestion };
}

/** The tenant personal Microsoft accounts resolve to (R-TEN-4). */
export const CONSUMER_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';

export { PermanentPartnerError };
