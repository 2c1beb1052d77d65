// The sandbox: Entra ID discovery, Microsoft Graph, Partner Center and CPP on one local HTTP server,
// loaded from a world file, its changes kept in Table storage, with a token issuer and fault injection.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { z } from 'zod';
import { isLoopback, listenOn, LOOPBACK } from '../devhost/http/listen.js';
import { createIngestionService } from './ingestion.js';
import { createMailService, SANDBOX_MAIL_KEY } from './mail.js';
import type { World, WorldAccount } from './world.js';

export interface SandboxOptions {
  world: World;
  port: number;
  /** where to listen: default `localhost` (127.0.0.1 and ::1); `0.0.0.0` for every interface */
  host?: string;
  /**
   * `/dev/token` and the other `/dev/` controls (not `/dev/jwks`) answer callers on this machine only,
   * unless this is set: they mint tokens for anyone and reset the world.
   */
  allowRemoteDev?: boolean;
  storage: string;
  publicUrl?: string;
  log?: (line: string) => void;
  /** table holding the sandbox's state (tests use their own) */
  table?: string;
  /** the access key of the mail service (base64); the app's ACS connection string must carry it */
  mailKey?: string;
  /** how long the ingestion API's certification takes, in seconds of real time (default 2) */
  certificationSeconds?: number;
}

export interface RunningSandbox {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
interface User {
  email: string;
  role: string;
}
interface Offer {
  id: string;
  [k: string]: unknown;
}
const DOCS = ['publishing-agreement', 'company-profile', 'payout-profile'] as const;
type Doc = (typeof DOCS)[number];
const PC_DOC_PATH: Record<string, Doc> = {
  'publishing-agreement': 'publishing-agreement',
  'profiles/company': 'company-profile',
  'profiles/payout': 'payout-profile',
};

interface CppState {
  account: Omit<
    WorldAccount,
    'users' | 'offers' | 'publishingAgreement' | 'companyProfile' | 'payoutProfile'
  > & { readOnly: boolean; version: number };
  users: Map<string, User>;
  offers: Map<string, Offer>;
  docs: Map<Doc, Json>;
}
interface PcState {
  state: 'provisioning' | 'live';
  partnerCenterUrl?: string;
  users: Map<string, User>;
  offers: Map<string, Offer>;
  docs: Map<Doc, { body: Json; etag: string }>;
}
interface Fault {
  id: string;
  route: RegExp;
  pattern: string;
  method?: string;
  status?: number;
  retryAfter?: number;
  times: number;
  latencyMs?: number;
}

class HttpFail extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** Canonical JSON (keys sorted at every level): the form the summary hashes are taken over. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.entries(v as Json)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const etagOf = (v: unknown): string => `W/"${sha(canonical(v)).slice(0, 16)}"`;
const byEmail = (a: User, b: User): number => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0);
const byId = (a: Offer, b: Offer): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function pcError(status: number, code: number | string, description: string): HttpFail {
  return new HttpFail(status, { code, description, data: [], source: 'PartnerFD' });
}

function page<T>(items: T[], q: URLSearchParams): { items: T[]; continuationToken?: string } {
  const top = Math.min(Math.max(Number(q.get('top') ?? 1000) || 1000, 1), 1000);
  const start =
    Number(Buffer.from(q.get('continuationToken') ?? '', 'base64url').toString() || 0) || 0;
  const slice = items.slice(start, start + top);
  const next =
    start + top < items.length ? Buffer.from(String(start + top)).toString('base64url') : undefined;
  return next ? { items: slice, continuationToken: next } : { items: slice };
}

/** A page of an account's users (by e-mail) or offers (by id), in the order the summary hashes use. */
function listing(
  s: { users: Map<string, User>; offers: Map<string, Offer> },
  kind: string,
  q: URLSearchParams,
): { items: unknown[]; continuationToken?: string } {
  return page<unknown>(
    kind === 'users' ? [...s.users.values()].sort(byEmail) : [...s.offers.values()].sort(byId),
    q,
  );
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpFail(400, {
      code: 800002,
      description: 'The request body is not valid JSON.',
      data: [],
      source: 'PartnerFD',
    });
  }
}

/** Starts the sandbox; resolves once it listens. */
export async function startSandbox(opts: SandboxOptions): Promise<RunningSandbox> {
  const world = opts.world;
  const log = opts.log ?? (() => {});
  const insecure =
    /UseDevelopmentStorage=true|DefaultEndpointsProtocol=http(;|$)|TableEndpoint=http:/i.test(
      opts.storage,
    );
  const table = TableClient.fromConnectionString(
    opts.storage,
    opts.table ?? 'Sandbox',
    insecure ? { allowInsecureConnection: true } : {},
  );
  await table.createTable();

  const cpp = new Map<string, CppState>();
  const pc = new Map<string, PcState>();
  const requests = new Map<string, { status: number; body: unknown }>();
  const stats = { writes: {} as Record<string, number>, deduplicated: 0 };
  /** Every request outside /dev/, as `METHOD /path` in arrival order (GET /dev/calls). */
  const calls: string[] = [];
  const faults: Fault[] = [];
  const countWrite = (account: string, category: string, n = 1): void => {
    const k = `${account}/${category}`;
    stats.writes[k] = (stats.writes[k] ?? 0) + n;
  };

  // ------------------------------------------------------------ persistence (one row per item)
  const batch = async (pk: string, ops: TransactionAction[]): Promise<void> => {
    for (let i = 0; i < ops.length; i += 100) await table.submitTransaction(ops.slice(i, i + 100));
    void pk;
  };
  const put = (pk: string, rk: string, value: unknown): TransactionAction => [
    'upsert',
    { partitionKey: pk, rowKey: rk, Json: JSON.stringify(value) },
    'Replace',
  ];
  const del = (pk: string, rk: string): TransactionAction => [
    'delete',
    { partitionKey: pk, rowKey: rk },
  ];
  const rk = (s: string): string => encodeURIComponent(s).replace(/'/g, '%27');

  async function seed(): Promise<void> {
    const old = new Map<string, TransactionAction[]>();
    for await (const e of table.listEntities({
      queryOptions: { select: ['PartitionKey', 'RowKey'] },
    })) {
      const pk = String(e.partitionKey);
      if (pk === 'meta') continue;
      old.set(pk, [...(old.get(pk) ?? []), del(pk, String(e.rowKey))]);
    }
    for (const [pk, ops] of old) await batch(pk, ops);
    // The world itself is not copied into storage: only the changes made to it are (see load()), so a world
    // of 100,000 accounts starts at once.
    await table.upsertEntity(
      { partitionKey: 'meta', rowKey: 'world', Name: world.name },
      'Replace',
    );
  }

  /** The world's CPP accounts as the file has them; versions follow the file's order. */
  function fromWorld(): void {
    world.cppAccounts.forEach((a, i) => {
      const { users, offers, publishingAgreement, companyProfile, payoutProfile, ...account } = a;
      cpp.set(a.id, {
        account: { ...account, readOnly: a.migrated, version: i + 1 },
        users: new Map(
          users.map((u) => [u.email.toLowerCase(), { email: u.email.toLowerCase(), role: u.role }]),
        ),
        offers: new Map(offers.map((o) => [o.id, { ...o }])),
        docs: new Map<Doc, Json>([
          ['publishing-agreement', publishingAgreement],
          ['company-profile', companyProfile],
          ['payout-profile', payoutProfile],
        ]),
      });
    });
  }

  async function load(): Promise<void> {
    cpp.clear();
    pc.clear();
    fromWorld();
    for await (const e of table.listEntities<{ Json?: string }>()) {
      const pk = String(e.partitionKey);
      const key = String(e.rowKey);
      if (!e.Json) continue;
      const value = JSON.parse(e.Json) as Json;
      const [kind, id = ''] = pk.split('~');
      if (kind === 'cpp') {
        const s = cpp.get(id) ?? {
          account: undefined as unknown as CppState['account'],
          users: new Map(),
          offers: new Map(),
          docs: new Map(),
        };
        cpp.set(id, s);
        if (key === 'account') s.account = value as CppState['account'];
        else if (key.startsWith('user~')) {
          const u = value as unknown as User & { deleted?: boolean };
          if (u.deleted) s.users.delete(u.email);
          else s.users.set(u.email, u);
        } else if (key.startsWith('offer~')) s.offers.set(String(value.id), value);
        else if (key.startsWith('doc~')) s.docs.set(key.slice(4), value);
      } else if (kind === 'pc') {
        const s = pc.get(id) ?? {
          state: 'provisioning' as const,
          users: new Map(),
          offers: new Map(),
          docs: new Map(),
        };
        pc.set(id, s);
        if (key === 'account') Object.assign(s, value);
        else if (key.startsWith('user~'))
          s.users.set((value as unknown as User).email, value as unknown as User);
        else if (key.startsWith('offer~')) s.offers.set(String(value.id), value as Offer);
        else if (key.startsWith('doc~'))
          s.docs.set(key.slice(4) as Doc, value as unknown as { body: Json; etag: string });
      } else if (pk === 'req') {
        requests.set(key, value as { status: number; body: unknown });
      }
    }
  }

  const meta = await table.getEntity<{ Name: string }>('meta', 'world').catch(() => undefined);
  const t0 = Date.now();
  if (meta?.Name !== world.name) await seed();
  await load();
  log(`Sandbox world '${world.name}' ready in ${Date.now() - t0} ms (${cpp.size} CPP accounts)`);
  const maxVersion = (): number =>
    [...cpp.values()].reduce((max, c) => Math.max(max, c.account.version ?? 0), 0);
  let cppVersion = maxVersion();
  let byVersion: CppState[] | undefined;
  /** Marks a CPP account changed, for the account listing's `since` (its row is written with the change). */
  const touch = (s: CppState): TransactionAction => {
    s.account = { ...s.account, version: ++cppVersion };
    byVersion = undefined;
    return put(`cpp~${s.account.id}`, 'account', s.account);
  };
  const mail = createMailService(opts.mailKey ?? SANDBOX_MAIL_KEY);
  const ingestion = createIngestionService(world, {
    certificationSeconds: opts.certificationSeconds ?? 2,
  });

  // ------------------------------------------------------------ token keys, kept across restarts
  let privateJwk: JWK;
  const stored = await table.getEntity<{ Json: string }>('meta', 'key').catch(() => undefined);
  if (stored) privateJwk = JSON.parse(stored.Json) as JWK;
  else {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID().slice(0, 8), alg: 'RS256' };
    await table.upsertEntity(
      { partitionKey: 'meta', rowKey: 'key', Json: JSON.stringify(privateJwk) },
      'Replace',
    );
  }
  const signingKey = await importJWK(privateJwk, 'RS256');
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  void [_d, _p, _q, _dp, _dq, _qi];
  const admins = new Set(world.admins.map((a) => a.toLowerCase()));

  // ------------------------------------------------------------ helpers over the state
  const cppAccount = (id: string): CppState => {
    const s = cpp.get(id);
    if (!s)
      throw new HttpFail(404, { code: 'account-not-found', description: `No CPP account ${id}.` });
    return s;
  };
  const pcAccount = (id: string, create: boolean): PcState => {
    let s = pc.get(id);
    if (!s) {
      if (!create) throw pcError(404, 3000, `Account ${id} could not be found`);
      s = { state: 'provisioning', users: new Map(), offers: new Map(), docs: new Map() };
      pc.set(id, s);
    }
    return s;
  };
  const pcSummary = (s: PcState): Json => {
    const doc = (c: Doc): unknown => s.docs.get(c)?.body;
    const users = [...s.users.values()].sort(byEmail);
    const offers = [...s.offers.values()].sort(byId);
    return {
      counts: {
        publishingAgreement: s.docs.has('publishing-agreement') ? 1 : 0,
        companyProfile: s.docs.has('company-profile') ? 1 : 0,
        payoutProfile: s.docs.has('payout-profile') ? 1 : 0,
        users: users.length,
        offers: offers.length,
      },
      hashes: {
        publishingAgreement: sha(canonical(doc('publishing-agreement'))),
        companyProfile: sha(canonical(doc('company-profile'))),
        payoutProfile: sha(canonical(doc('payout-profile'))),
        users: sha(canonical(users)),
        offers: sha(canonical(offers)),
      },
    };
  };
  const savePcAccount = (id: string, s: PcState): TransactionAction =>
    put(`pc~${id}`, 'account', {
      state: s.state,
      ...(s.partnerCenterUrl ? { partnerCenterUrl: s.partnerCenterUrl } : {}),
    });

  /** Runs a write once per MS-RequestId (per route); a repeat answers the first result. */
  async function idempotent(
    req: IncomingMessage,
    route: string,
    write: () => Promise<{ status: number; body: unknown }>,
  ): Promise<{ status: number; body: unknown }> {
    const rid = req.headers['ms-requestid'];
    const key =
      typeof rid === 'string' && rid
        ? sha(`${req.method} ${route} ${rid}`).slice(0, 40)
        : undefined;
    if (key) {
      const seen = requests.get(key);
      if (seen) {
        stats.deduplicated++;
        return seen;
      }
    }
    const result = await write();
    if (key && result.status < 300) {
      requests.set(key, result);
      await table.upsertEntity(
        { partitionKey: 'req', rowKey: key, Json: JSON.stringify(result) },
        'Replace',
      );
    }
    return result;
  }

  const ifMatch = (req: IncomingMessage, etag: string | undefined): void => {
    const want = req.headers['if-match'];
    if (typeof want === 'string' && want !== '*' && want !== etag)
      throw pcError(412, 2055, 'Etag is no longer valid');
  };

  // ------------------------------------------------------------ routes
  async function route(
    req: IncomingMessage,
    url: URL,
  ): Promise<{ status: number; body?: unknown; headers?: Record<string, string> }> {
    const method = req.method ?? 'GET';
    const path = decodeURIComponent(url.pathname);
    const q = url.searchParams;
    let m: RegExpExecArray | null;

    // Entra ID discovery (R-TEN-4)
    if (
      (m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path)) &&
      method === 'GET'
    ) {
      const key = m[1]!.toLowerCase();
      const tenant =
        world.consumerDomains.includes(key) || key === world.consumerTenantId || key === 'consumers'
          ? world.consumerTenantId
          : world.tenants.find(
              (t) => t.id === key || t.domains.some((d) => d.toLowerCase() === key),
            )?.id;
      if (!tenant) {
        return {
          status: 400,
          body: {
            error: 'invalid_tenant',
            error_description: `AADSTS90002: Tenant '${m[1]}' not found. This may happen if there are no active subscriptions for the tenant. Check to make sure you have the correct tenant ID.`,
            error_codes: [90002],
          },
        };
      }
      const issuer = `https://login.microsoftonline.com/${tenant}/v2.0`;
      return {
        status: 200,
        body: {
          issuer,
          token_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/token`,
          authorization_endpoint: `https://login.microsoftonline.com/${tenant}/oauth2/v2.0/authorize`,
          jwks_uri: `https://login.microsoftonline.com/${tenant}/discovery/v2.0/keys`,
          tenant_region_scope: 'EU',
          cloud_instance_name: 'microsoftonline.com',
        },
      };
    }
    // Microsoft Graph
    if (
      (m =
        /^\/v1\.0\/tenantRelationships\/findTenantInformationByTenantId\(tenantId='([^']+)'\)$/.exec(
          path,
        )) &&
      method === 'GET'
    ) {
      const t = world.tenants.find((x) => x.id === m![1]);
      if (!t)
        return {
          status: 404,
          body: {
            error: { code: 'Request_ResourceNotFound', message: `Tenant '${m[1]}' was not found.` },
          },
        };
      return {
        status: 200,
        body: {
          '@odata.context':
            'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.tenantInformation',
          tenantId: t.id,
          displayName: t.displayName,
          defaultDomainName: t.domains[0] ?? '',
          federationBrandName: null,
        },
      };
    }
    // Partner Center: MPN and billing profiles
    if (path === '/v1/profiles/mpn' && method === 'GET') {
      const id = q.get('mpnId') ?? '';
      const p = world.mpn.find((x) => x.mpnId === id);
      if (!p)
        throw pcError(404, 3000, `Partner Organization with partner_id ${id} could not be found`);
      return {
        status: 200,
        body: {
          mpnId: p.mpnId,
          profileType: 'MpnProfile',
          partnerName: p.partnerName,
          tenantId: p.tenantId,
          certificateState: p.certificate,
          // R-D365-1/2 as far as the profile tells: the membership moved from PMC, and (only when
          // enrolled) the commercial marketplace program; silence means nothing can be read.
          partnerCenterMembership: p.pmcMigrated ? 'migrated' : 'pmc',
          ...(p.marketplaceEnrolled ? { programs: ['CommercialMarketplace'] } : {}),
          links: { self: { uri: '/profiles/mpn', method: 'GET', headers: [] } },
          attributes: { objectType: 'MpnProfile' },
        },
      };
    }
    if (path === '/v1/profiles/billing' && method === 'GET') {
      const p = world.mpn.find((x) => x.mpnId === q.get('mpnId'));
      if (!p)
        throw pcError(
          404,
          3000,
          `Partner Organization with partner_id ${q.get('mpnId')} could not be found`,
        );
      return {
        status: 200,
        body: { mpnId: p.mpnId, complete: p.billingComplete, profileType: 'BillingProfile' },
      };
    }
    // Partner Center: the target seller account
    if ((m = /^\/v1\/accounts\/([^/]+)(?:\/(.*))?$/.exec(path))) {
      const id = m[1]!;
      const rest = m[2] ?? '';
      const pk = `pc~${id}`;
      if (rest === '' && method === 'GET') {
        const s = pcAccount(id, false);
        return {
          status: 200,
          body: {
            accountId: id,
            state: s.state,
            ...(s.partnerCenterUrl ? { partnerCenterUrl: s.partnerCenterUrl } : {}),
          },
        };
      }
      if (rest === 'summary' && method === 'GET')
        return { status: 200, body: pcSummary(pcAccount(id, false)) };
      const doc = PC_DOC_PATH[rest];
      if (doc && method === 'GET') {
        const d = pcAccount(id, false).docs.get(doc);
        if (!d) throw pcError(404, 3000, `No ${doc} for account ${id}`);
        // Payout data never leaves the service in clear.
        return {
          status: 200,
          body:
            doc === 'payout-profile'
              ? { present: true, sha256: sha(canonical(d.body)), etag: d.etag }
              : { ...d.body, etag: d.etag },
        };
      }
      if (doc && method === 'PUT') {
        const b = await body(req);
        if (!b || typeof b !== 'object' || Array.isArray(b))
          throw pcError(400, 800002, 'The body must be a JSON object.');
        return idempotent(req, path, async () => {
          const s = pcAccount(id, true);
          ifMatch(req, s.docs.get(doc)?.etag);
          const entry = { body: b as Json, etag: etagOf(b) };
          s.docs.set(doc, entry);
          await batch(pk, [savePcAccount(id, s), put(pk, `doc~${doc}`, entry)]);
          countWrite(id, doc);
          return { status: 200, body: { etag: entry.etag } };
        });
      }
      if ((rest === 'users/$batch' || rest === 'offers/$batch') && method === 'POST') {
        const kind = rest.startsWith('users') ? 'users' : 'offers';
        const parsed = z
          .object({
            items: z
              .array(
                kind === 'users'
                  ? z.object({ email: z.email(), role: z.string() }).loose()
                  : z.object({ id: z.string().min(1) }).loose(),
              )
              .max(100),
          })
          .safeParse(await body(req));
        if (!parsed.success)
          throw pcError(400, 800002, `Invalid batch: ${parsed.error.issues[0]?.message}`);
        return idempotent(req, path, async () => {
          const s = pcAccount(id, true);
          const ops: TransactionAction[] = [savePcAccount(id, s)];
          for (const item of parsed.data.items as Json[]) {
            if (kind === 'users') {
              const u = { email: String(item.email).toLowerCase(), role: String(item.role) };
              s.users.set(u.email, u);
              ops.push(put(pk, `user~${rk(u.email)}`, u));
            } else {
              s.offers.set(String(item.id), item as Offer);
              ops.push(put(pk, `offer~${rk(String(item.id))}`, item));
            }
          }
          await batch(pk, ops);
          countWrite(id, kind, parsed.data.items.length);
          return { status: 200, body: { count: parsed.data.items.length } };
        });
      }
      if ((rest === 'users' || rest === 'offers') && method === 'GET') {
        return { status: 200, body: listing(pcAccount(id, false), rest, q) };
      }
      if ((m = /^users\/([^/]+)$/.exec(rest)) && (method === 'PUT' || method === 'DELETE')) {
        const email = m[1]!.toLowerCase();
        const b =
          method === 'PUT'
            ? z.object({ role: z.string().min(1) }).safeParse(await body(req))
            : undefined;
        if (b && !b.success) throw pcError(400, 800002, 'Expected {"role": "..."}');
        return idempotent(req, path, async () => {
          const s = pcAccount(id, method === 'PUT');
          if (method === 'PUT') {
            const u = { email, role: b!.data.role };
            s.users.set(email, u);
            await batch(pk, [savePcAccount(id, s), put(pk, `user~${rk(email)}`, u)]);
          } else {
            if (!s.users.delete(email)) throw pcError(404, 3000, `No user ${email}`);
            await batch(pk, [del(pk, `user~${rk(email)}`)]);
          }
          countWrite(id, 'users');
          return { status: method === 'PUT' ? 200 : 204, body: undefined };
        });
      }
      if (rest === 'activate' && method === 'POST') {
        return idempotent(req, path, async () => {
          const s = pcAccount(id, true);
          s.state = 'live';
          s.partnerCenterUrl = `https://partner.microsoft.com/dashboard/account/v3/organization/${encodeURIComponent(id)}`;
          await batch(pk, [savePcAccount(id, s)]);
          countWrite(id, 'activate');
          return {
            status: 200,
            body: { accountId: id, state: s.state, partnerCenterUrl: s.partnerCenterUrl },
          };
        });
      }
    }
    // CPP (the source): the account listing, oldest change first; `since` skips what a caller has seen.
    if (path === '/cpp/accounts' && method === 'GET') {
      const since = Number(q.get('since') ?? 0);
      if (!Number.isInteger(since) || since < 0)
        throw new HttpFail(400, {
          code: 'invalid-request',
          description: '`since` must be a version number from an earlier listing.',
        });
      byVersion ??= [...cpp.values()].sort((a, b) => a.account.version - b.account.version);
      const from = Number(
        Buffer.from(q.get('continuationToken') ?? '', 'base64url').toString() || since,
      );
      let lo = 0;
      let hi = byVersion.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (byVersion[mid]!.account.version <= from) lo = mid + 1;
        else hi = mid;
      }
      const top = Math.min(Math.max(Number(q.get('top') ?? 1000) || 1000, 1), 1000);
      const slice = byVersion.slice(lo, lo + top);
      const items = slice.map((c) => ({
        id: c.account.id,
        displayName: c.account.displayName,
        migrated: c.account.migrated,
        readOnly: c.account.readOnly,
        ...(c.account.language ? { language: c.account.language } : {}),
        // R-D365: how many Dynamics 365 / PowerApps offers the account has (Business Central not counted)
        d365Offers: [...c.offers.values()].filter(
          (o) =>
            ['dynamics-365-customer-engagement', 'powerapps', 'dynamics-365-operations'].includes(
              String(o.kind),
            ) && o.status !== 'deprecated',
        ).length,
        owners: [...c.users.values()].filter((u) => u.role === 'owner').map((u) => u.email),
        version: c.account.version,
      }));
      const last = slice.at(-1)?.account.version;
      return {
        status: 200,
        body: {
          items,
          version: cppVersion,
          ...(lo + top < byVersion.length && last !== undefined
            ? { continuationToken: Buffer.from(String(last)).toString('base64url') }
            : {}),
        },
      };
    }
    if ((m = /^\/cpp\/accounts\/([^/]+)(?:\/(.*))?$/.exec(path))) {
      const id = m[1]!;
      const rest = m[2] ?? '';
      const s = cppAccount(id);
      const pk = `cpp~${id}`;
      if (rest === '' && method === 'GET') {
        return {
          status: 200,
          body: {
            ...s.account,
            counts: { users: s.users.size, offers: s.offers.size },
            etag: etagOf(s.account),
          },
        };
      }
      if ((DOCS as readonly string[]).includes(rest) && method === 'GET')
        return { status: 200, body: s.docs.get(rest as Doc) ?? {} };
      if ((rest === 'users' || rest === 'offers') && method === 'GET') {
        return { status: 200, body: listing(s, rest, q) };
      }
      if (rest === 'switch-over' && method === 'POST') {
        const b = z.object({ partnerCenterUrl: z.string().min(1) }).safeParse(await body(req));
        if (!b.success)
          throw new HttpFail(400, {
            code: 'invalid-request',
            description: 'Expected {"partnerCenterUrl": "..."}',
          });
        return idempotent(req, path, async () => {
          s.account = {
            ...s.account,
            readOnly: true,
            migrated: true,
            partnerCenterUrl: b.data.partnerCenterUrl,
          };
          await batch(pk, [touch(s)]);
          countWrite(id, 'switch-over');
          return { status: 200, body: { readOnly: true } };
        });
      }
      const sync = /^sync\/users\/([^/]+)$/.exec(rest);
      const own = /^users\/([^/]+)$/.exec(rest);
      if ((sync || own) && (method === 'PUT' || method === 'DELETE')) {
        // R-COPY-3/4: after switch-over only the back-sync channel may change users.
        if (own && s.account.readOnly)
          throw new HttpFail(403, {
            code: 'account-read-only',
            description: 'This account was migrated to Partner Center and is read-only.',
          });
        if (sync && !s.account.readOnly)
          throw new HttpFail(409, {
            code: 'not-read-only',
            description: 'Back-sync writes are for migrated (read-only) accounts.',
          });
        const email = (sync ?? own)![1]!.toLowerCase();
        const b =
          method === 'PUT'
            ? z
                .object({ role: z.enum(['owner', 'manager', 'developer']) })
                .safeParse(await body(req))
            : undefined;
        if (b && !b.success)
          throw new HttpFail(400, {
            code: 'invalid-request',
            description: 'Expected {"role": "owner|manager|developer"}',
          });
        return idempotent(req, path, async () => {
          if (method === 'PUT') {
            const u = { email, role: b!.data.role };
            s.users.set(email, u);
            await batch(pk, [put(pk, `user~${rk(email)}`, u), touch(s)]);
          } else {
            if (!s.users.delete(email))
              return {
                status: 404,
                body: { code: 'user-not-found', description: `No user ${email}` },
              };
            // A tombstone: the world file still has the user, the stored change removes it.
            await batch(pk, [put(pk, `user~${rk(email)}`, { email, deleted: true }), touch(s)]);
          }
          countWrite(id, sync ? 'sync-users' : 'users');
          return { status: method === 'PUT' ? 200 : 204, body: undefined };
        });
      }
      if ((DOCS as readonly string[]).includes(rest) && method === 'PUT') {
        if (s.account.readOnly)
          throw new HttpFail(403, {
            code: 'account-read-only',
            description: 'This account was migrated to Partner Center and is read-only.',
          });
        const b = await body(req);
        s.docs.set(rest as Doc, b as Json);
        await batch(pk, [put(pk, `doc~${rest}`, b), touch(s)]);
        return { status: 200, body: {} };
      }
    }
    throw new HttpFail(404, {
      code: 'not-found',
      description: `No sandbox route ${method} ${path}`,
    });
  }

  async function dev(req: IncomingMessage, url: URL): Promise<{ status: number; body?: unknown }> {
    const method = req.method ?? 'GET';
    if (url.pathname === '/dev/token' && method === 'POST') {
      const parsed = z
        .object({
          email: z.email(),
          roles: z.array(z.string()).optional(),
          expiresIn: z.number().int().optional(),
          audience: z.string().optional(),
        })
        .safeParse(await body(req));
      if (!parsed.success)
        return {
          status: 400,
          body: { error: 'invalid_request', error_description: parsed.error.issues[0]?.message },
        };
      const { email, roles, expiresIn = 3600, audience = 'api://cpp-migration' } = parsed.data;
      const granted = roles ?? (admins.has(email.toLowerCase()) ? ['Migration.Admin'] : []);
      const now = Math.floor(Date.now() / 1000);
      // The claims of an Entra ID v2 access token: no `email` (an optional, unverified claim Entra
      // leaves out unless configured), the user as `preferred_username`, `oid`/`tid`, `roles` only
      // when granted.
      const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
      const uuidOf = (h: string): string =>
        `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
      const tid =
        (world.consumerDomains.includes(domain)
          ? world.consumerTenantId
          : world.tenants.find((t) => t.domains.some((d) => d.toLowerCase() === domain))?.id) ??
        uuidOf(sha(`tenant|${domain}`));
      const token = await new SignJWT({
        ver: '2.0',
        tid,
        oid: uuidOf(sha(`user|${email.toLowerCase()}`)),
        preferred_username: email,
        name: email.slice(0, email.lastIndexOf('@')),
        scp: 'Migration.ReadWrite',
        ...(granted.length ? { roles: granted } : {}),
      })
        .setProtectedHeader({ alg: 'RS256', kid: String(privateJwk.kid) })
        .setIssuer(`${publicUrl}/dev`)
        .setAudience(audience)
        .setSubject(sha(email.toLowerCase()).slice(0, 24))
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + expiresIn)
        .sign(signingKey);
      return {
        status: 200,
        body: { access_token: token, token_type: 'Bearer', expires_in: expiresIn },
      };
    }
    if (url.pathname === '/dev/jwks' && method === 'GET')
      return { status: 200, body: { keys: [{ ...publicJwk, use: 'sig' }] } };
    if (url.pathname === '/dev/faults') {
      if (method === 'GET') return { status: 200, body: faults.map(({ route: _r, ...f }) => f) };
      if (method === 'DELETE') {
        faults.length = 0;
        return { status: 204 };
      }
      if (method === 'POST') {
        const parsed = z
          .object({
            route: z.string().min(1),
            method: z.string().optional(),
            status: z.number().int().min(400).max(599).optional(),
            retryAfter: z.number().min(0).optional(),
            times: z.number().int().positive().default(1),
            latencyMs: z.number().int().min(0).max(60_000).optional(),
          })
          .safeParse(await body(req));
        if (!parsed.success)
          return {
            status: 400,
            body: { error: 'invalid_request', error_description: parsed.error.issues[0]?.message },
          };
        const f = parsed.data;
        const pattern = new RegExp(
          `^${f.route.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}`,
        );
        const fault: Fault = {
          id: randomUUID(),
          route: pattern,
          pattern: f.route,
          times: f.times,
          ...(f.method ? { method: f.method.toUpperCase() } : {}),
          ...(f.status ? { status: f.status } : {}),
          ...(f.retryAfter !== undefined ? { retryAfter: f.retryAfter } : {}),
          ...(f.latencyMs ? { latencyMs: f.latencyMs } : {}),
        };
        faults.push(fault);
        return { status: 201, body: { id: fault.id } };
      }
    }
    if (url.pathname === '/dev/stats' && method === 'GET')
      return {
        status: 200,
        body: { ...stats, mail: mail.sent.length, ingestion: ingestion.stats() },
      };
    if (url.pathname === '/dev/mail' && method === 'GET') {
      const to = url.searchParams.get('to')?.toLowerCase();
      return {
        status: 200,
        body: { items: to ? mail.sent.filter((m) => m.to.includes(to)) : mail.sent },
      };
    }
    if (url.pathname === '/dev/mail' && method === 'DELETE') {
      mail.clear();
      return { status: 204 };
    }
    if (url.pathname === '/dev/calls' && method === 'GET') return { status: 200, body: { calls } };
    if (url.pathname === '/dev/reset' && method === 'POST') {
      await seed();
      await load();
      cppVersion = maxVersion();
      byVersion = undefined;
      mail.clear();
      ingestion.reset();
      requests.clear();
      calls.length = 0;
      stats.writes = {};
      stats.deduplicated = 0;
      return { status: 204 };
    }
    return { status: 404, body: { error: 'not_found' } };
  }

  async function injectFault(
    req: IncomingMessage,
    url: URL,
  ): Promise<{ status: number; body: unknown; headers: Record<string, string> } | undefined> {
    const f = faults.find(
      (x) => x.times > 0 && x.route.test(url.pathname) && (!x.method || x.method === req.method),
    );
    if (!f) return undefined;
    f.times--;
    if (f.latencyMs) await new Promise((r) => setTimeout(r, f.latencyMs));
    if (!f.status) return undefined;
    const headers: Record<string, string> =
      f.retryAfter !== undefined ? { 'retry-after': String(f.retryAfter) } : {};
    const body =
      f.status === 429
        ? {
            statusCode: 429,
            message: `Rate limit is exceeded. Try again in ${f.retryAfter ?? 1} seconds.`,
          }
        : {
            code: 800003,
            description: 'Injected failure from the sandbox.',
            data: [],
            source: 'PartnerFD',
          };
    return { status: f.status, body, headers };
  }

  let publicUrl = opts.publicUrl ?? '';
  const server = createServer((req, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const send = (status: number, b: unknown, headers: Record<string, string> = {}): void => {
      const text = b === undefined ? '' : JSON.stringify(b);
      res.writeHead(status, {
        ...(text ? { 'content-type': 'application/json; charset=utf-8' } : {}),
        'content-length': Buffer.byteLength(text),
        ...headers,
      });
      res.end(text);
    };
    (async () => {
      if (url.pathname.startsWith('/dev/')) {
        // A local-only door: it mints a token for any e-mail (see allowRemoteDev).
        if (
          url.pathname !== '/dev/jwks' &&
          !opts.allowRemoteDev &&
          !isLoopback(req.socket.remoteAddress)
        )
          return send(403, {
            error: 'forbidden',
            error_description: 'The /dev/ routes answer local callers only.',
          });
        const r = await dev(req, url);
        return send(r.status, r.body);
      }
      if (calls.length >= 100_000) calls.splice(0, 50_000); // a long-running sandbox stays small
      calls.push(`${req.method ?? 'GET'} ${url.pathname}`);
      const fault = await injectFault(req, url);
      if (fault) return send(fault.status, fault.body, fault.headers);
      const r =
        (await mail.handle(req, url)) ??
        (await ingestion.handle(req, url)) ??
        (await route(req, url));
      send(r.status, r.body, r.headers);
    })().catch((e: unknown) => {
      if (e instanceof HttpFail) send(e.status, e.body, e.headers);
      else {
        log(`Sandbox error on ${req.method} ${url.pathname}: ${(e as Error).message}`);
        send(500, {
          code: 800003,
          description: 'Unexpected sandbox error.',
          data: [],
          source: 'PartnerFD',
        });
      }
    });
  });
  const listening = await listenOn(server, opts.port, opts.host ?? LOOPBACK);
  const port = listening.port;
  publicUrl ||= `http://localhost:${port}`;
  log(
    `Sandbox: /dev/token mints a token for any e-mail: local development only (${opts.allowRemoteDev ? 'open to every caller' : 'callers on this machine only'}); listening on ${listening.addresses.join(', ')}.`,
  );
  return {
    url: `http://localhost:${port}`,
    port,
    close: () => {
      server.closeAllConnections();
      return listening.close();
    },
  };
}
