// Partner Center's ingestion API v1.0 (products, submissions, certification, promote), as the sandbox
// serves it under `/v1.0/ingestion/…` (reference A.10). Certification takes `certificationSeconds` of real
// time; a world offer with `failsCertificationOnce` fails its first certification, an app that does not
// support the latest platform always fails. Every call is counted (`/dev/stats` → `ingestion`).
// Products, submissions (with their certification results), first failures and answered request ids are
// kept in the sandbox's table (partition `ing`) like the rest of its state: loaded at open, written on
// change, so a restarted sandbox knows what the app's surviving workflows submitted.
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TableClient } from '@azure/data-tables';
import type { World } from './world.js';

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export const RESOURCE_TYPES: Record<string, string> = {
  'dynamics-365-customer-engagement': 'AzureDynamics365ForCustomerEngagement',
  powerapps: 'AzureDynamics365ForCustomerEngagement',
  'dynamics-365-operations': 'AzureDynamics365ForOperations',
  'dynamics-365-business-central': 'AzureDynamics365BusinessCentral',
};
const KNOWN_TYPES = new Set([
  'AzureApplication',
  'AzureDeveloperService',
  'AzureThirdPartyVirtualMachine',
  'AzureContainer',
  'AzureVisualStudioExtension',
  'AzureDynamics365ForCustomerEngagement',
  'AzureDynamics365ForOperations',
  'AzureDynamics365BusinessCentral',
]);

interface Product {
  id: string;
  resourceType: string;
  name: string;
  externalIDs: { type: string; value: string }[];
}
interface Submission {
  id: string;
  productId: string;
  createdAt: number;
  /** set once certification ended (on the clock) */
  outcome?: 'Passed' | 'PassedWithNotes' | 'Failed';
  reasons: string[];
  promoted: boolean;
  publishOption: Record<string, unknown>;
  extendedProperties: Record<string, unknown>;
}

export interface IngestionStats {
  calls: number;
  /** calls that named a product (by id or found by its external id), per offer id */
  byOffer: Record<string, number>;
  productsCreated: Record<string, number>;
  submissions: Record<string, number>;
  promoted: Record<string, number>;
  conflicts: number;
  deduplicated: number;
}

const uuidOf = (s: string): string => {
  const h = createHash('sha256').update(s).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-9${h.slice(17, 20)}-${h.slice(20, 32)}`;
};
const fail = (status: number, code: string, message: string): Reply => ({
  status,
  body: { code, message, details: [] },
});

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text.trim()) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

const newStats = (): IngestionStats => ({
  calls: 0,
  byOffer: {},
  productsCreated: {},
  submissions: {},
  promoted: {},
  conflicts: 0,
  deduplicated: 0,
});
const count = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};
const offerOf = (p: Product): string =>
  p.externalIDs.find((x) => x.type === 'AzureOfferID')?.value ?? p.id;
/** The sandbox table's partition of the ingestion API's state. */
const PARTITION = 'ing';
const SUBMISSION_PATH =
  /^\/products\/([^/]+)(?:\/submissions(?:\/([^/]+)(?:\/(promote|reports|validations|workflowdetails))?)?)?$/;

/** The certification outcome of a submission whose time is up (the world's flags say which). */
export function certify(flags: { unsupported: boolean; failFirst: boolean; premium: boolean }): {
  outcome: NonNullable<Submission['outcome']>;
  reasons: string[];
} {
  if (flags.unsupported)
    return {
      outcome: 'Failed',
      reasons: ['The app does not support the latest Business Applications platform.'],
    };
  if (flags.failFirst)
    return {
      outcome: 'Failed',
      reasons: [
        'The app package could not be installed in the validation environment.',
        'The listing has no privacy policy link.',
      ],
    };
  if (flags.premium)
    return {
      outcome: 'PassedWithNotes',
      reasons: ['The Premium tier request is reviewed separately by the AppSource team.'],
    };
  return { outcome: 'Passed', reasons: [] };
}

/** A submission as the API shows it. */
function submissionView(s: Submission): Record<string, unknown> {
  const substate = s.promoted
    ? 'InStore'
    : !s.outcome
      ? 'Submitted'
      : s.outcome === 'Failed'
        ? 'FailedInCertification'
        : 'ReadyToPublish';
  return {
    id: s.id,
    resourceType: 'Submission',
    state: s.promoted ? 'Published' : 'InProgress',
    substate,
    targets: [{ type: 'RolloutTarget', value: s.promoted ? 'live' : 'preview' }],
    resources: [],
    publishOption: s.publishOption,
    extendedProperties: s.extendedProperties,
    ...(s.promoted ? { publishedTimeInUtc: new Date().toISOString() } : {}),
    releaseNumber: 1,
    friendlyName: `Submission ${s.id.slice(0, 8)}`,
    areResourcesReady: true,
  };
}

/** A submission's report, validations or workflow details. */
function submissionDetail(p: Product, s: Submission, detail: string): Reply {
  if (detail === 'reports')
    return {
      status: 200,
      body: {
        value: [
          {
            reportTimeInUtc: new Date(s.createdAt).toISOString(),
            status: s.outcome ?? 'Pending',
            fileUri: `https://certification.example/reports/${s.id}.pdf`,
          },
        ],
      },
    };
  if (detail === 'validations')
    return {
      status: 200,
      body: {
        value: s.reasons.map((message) => ({
          errorCode: s.outcome === 'Failed' ? 'CertificationFailed' : 'CertificationNote',
          severity: s.outcome === 'Failed' ? 'Error' : 'Warning',
          message,
          resource: p.id,
        })),
      },
    };
  return {
    status: 200,
    body: {
      type: 'Retail',
      state: s.outcome ? 'Completed' : 'InProgress',
      targetEnvironment: s.promoted ? 'live' : 'preview',
      workflowSteps: [
        {
          name: 'Certification',
          state: s.outcome ? 'Completed' : 'InProgress',
          startDateTimeInUtc: new Date(s.createdAt).toISOString(),
        },
      ],
    },
  };
}

/** The ingestion service over a world: `handle` answers its routes (undefined for any other path). */
export class IngestionService {
  readonly #products = new Map<string, Product>();
  readonly #submissions = new Map<string, Submission>();
  /** offers that fail their first certification (world flag), and those that already did */
  readonly #failOnce = new Set<string>();
  readonly #failedOnce = new Set<string>();
  readonly #unsupported = new Set<string>();
  readonly #requests = new Map<string, Reply>();
  #stats = newStats();
  /** rows to write before the current request is answered (row key → value) */
  readonly #dirty = new Map<string, unknown>();

  constructor(
    private readonly world: World,
    private readonly opts: { certificationSeconds: number; table?: TableClient },
  ) {
    this.reset();
  }

  /** Loads what was stored over the world's products (call after the sandbox state opened). */
  async open(): Promise<void> {
    const table = this.opts.table;
    if (!table) return;
    for await (const e of table.listEntities<{ Json?: string }>({
      queryOptions: { filter: `PartitionKey eq '${PARTITION}'` },
    })) {
      if (!e.Json) continue;
      const key = String(e.rowKey);
      const value = JSON.parse(e.Json) as unknown;
      if (key.startsWith('product~')) {
        const p = value as Product;
        this.#products.set(p.id, p);
      } else if (key.startsWith('submission~')) {
        const sub = value as Submission;
        this.#submissions.set(sub.id, sub);
      } else if (key.startsWith('failed~')) this.#failedOnce.add(value as string);
      else if (key.startsWith('request~')) {
        const r = value as { key: string; reply: Reply };
        this.#requests.set(r.key, r.reply);
      }
    }
  }

  #keep(kind: 'product' | 'submission' | 'failed' | 'request', id: string, value: unknown): void {
    if (this.opts.table) this.#dirty.set(`${kind}~${encodeURIComponent(id)}`, value);
  }

  async #flush(): Promise<void> {
    const table = this.opts.table;
    if (!table || this.#dirty.size === 0) return;
    const rows = [...this.#dirty];
    this.#dirty.clear();
    for (let i = 0; i < rows.length; i += 100)
      await table.submitTransaction(
        rows
          .slice(i, i + 100)
          .map(([rowKey, value]) => [
            'upsert',
            { partitionKey: PARTITION, rowKey, Json: JSON.stringify(value) },
            'Replace',
          ]),
      );
  }

  stats(): IngestionStats {
    return this.#stats;
  }

  reset(): void {
    this.#products.clear();
    this.#submissions.clear();
    this.#failOnce.clear();
    this.#failedOnce.clear();
    this.#unsupported.clear();
    this.#requests.clear();
    this.#dirty.clear();
    this.#stats = newStats();
    for (const a of this.world.cppAccounts)
      for (const o of a.offers) {
        if (o.failsCertificationOnce) this.#failOnce.add(o.id);
        if (!o.supportsLatestPlatform) this.#unsupported.add(o.id);
        const resourceType = RESOURCE_TYPES[o.kind];
        // Offers in AppSource exist as products of their type; the others have none yet.
        if (!resourceType || !o.inAppSource) continue;
        const id = uuidOf(`product|${o.id}`);
        this.#products.set(id, {
          id,
          resourceType,
          name: o.name,
          externalIDs: [{ type: 'AzureOfferID', value: o.id }],
        });
      }
  }

  async handle(req: IncomingMessage, url: URL): Promise<Reply | undefined> {
    const prefix = '/v1.0/ingestion';
    if (!url.pathname.startsWith(`${prefix}/`)) return undefined;
    this.#stats.calls++;
    const path = decodeURIComponent(url.pathname.slice(prefix.length));
    const method = req.method ?? 'GET';
    // Writes with a caller's request id (Client-Request-ID, else MS-RequestId) happen once.
    const rid = req.headers['client-request-id'] ?? req.headers['ms-requestid'];
    const key =
      method !== 'GET' && typeof rid === 'string' && rid ? `${method} ${path} ${rid}` : undefined;
    if (key && this.#requests.has(key)) {
      this.#stats.deduplicated++;
      return this.#requests.get(key);
    }
    const r = await this.#route(req, method, path, url.searchParams);
    if (key && r.status < 300) {
      this.#requests.set(key, r);
      this.#keep('request', key, { key, reply: r });
    }
    await this.#flush();
    return { ...r, headers: { ...r.headers, 'request-id': randomUUID() } };
  }

  #touch(p: Product): void {
    count(this.#stats.byOffer, offerOf(p));
  }

  /** Certification ends on the clock. */
  #settle(s: Submission): Submission {
    if (s.outcome || Date.now() < s.createdAt + this.opts.certificationSeconds * 1000) return s;
    const offer = offerOf(this.#products.get(s.productId)!);
    const failFirst = this.#failOnce.has(offer) && !this.#failedOnce.has(offer);
    const r = certify({
      unsupported: this.#unsupported.has(offer),
      failFirst,
      premium: s.extendedProperties.premiumTierRequested === true,
    });
    if (failFirst && !this.#unsupported.has(offer)) {
      this.#failedOnce.add(offer);
      this.#keep('failed', offer, offer);
    }
    s.outcome = r.outcome;
    s.reasons = r.reasons;
    this.#keep('submission', s.id, s);
    return s;
  }

  async #route(
    req: IncomingMessage,
    method: string,
    path: string,
    q: URLSearchParams,
  ): Promise<Reply> {
    if (path === '/products' && method === 'GET') return this.#findProducts(q);
    if (path === '/products' && method === 'POST') return this.#createProduct(await readJson(req));
    const m = SUBMISSION_PATH.exec(path);
    if (!m) return fail(404, 'notFound', `No ingestion route ${method} ${path}.`);
    const p = this.#products.get(m[1]!);
    if (!p) return fail(404, 'notFound', `No product ${m[1]}.`);
    this.#touch(p);
    if (!path.includes('/submissions')) {
      if (method === 'GET') return { status: 200, body: p };
      return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
    }
    if (!m[2]) {
      if (method === 'GET') {
        const state = q.get('state');
        const value = this.#of(p)
          .map((s) => submissionView(this.#settle(s)))
          .filter((v) => !state || v.state === state);
        return { status: 200, body: { value } };
      }
      if (method === 'POST') return this.#submit(p, await readJson(req));
      return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
    }
    const s = this.#submissions.get(m[2]);
    if (!s || s.productId !== p.id) return fail(404, 'notFound', `No submission ${m[2]}.`);
    this.#settle(s);
    if (!m[3] && method === 'GET') return { status: 200, body: submissionView(s) };
    if (m[3] === 'promote' && method === 'POST') return this.#promote(p, s);
    if (m[3] && m[3] !== 'promote' && method === 'GET') return submissionDetail(p, s, m[3]);
    return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
  }

  #of(p: Product): Submission[] {
    return [...this.#submissions.values()].filter((s) => s.productId === p.id);
  }

  #findProducts(q: URLSearchParams): Reply {
    const filter = q.get('$filter') ?? '';
    const ext = /ExternalIDs\/Any\(i:i\/Type eq 'AzureOfferID' and i\/Value eq '([^']+)'\)/i.exec(
      filter,
    );
    const type = /ResourceType eq '([^']+)'/i.exec(filter);
    if (!ext && !type)
      return fail(400, 'badRequest', 'Filter by ResourceType or ExternalIDs (AzureOfferID).');
    const value = [...this.#products.values()].filter(
      (p) =>
        (!ext || p.externalIDs.some((x) => x.value === ext[1])) &&
        (!type || p.resourceType === type[1]),
    );
    value.forEach((p) => this.#touch(p));
    return { status: 200, body: { value } };
  }

  #createProduct(body: unknown): Reply {
    const b = body as Partial<Product> | undefined;
    if (
      !b ||
      typeof b.name !== 'string' ||
      typeof b.resourceType !== 'string' ||
      !KNOWN_TYPES.has(b.resourceType) ||
      !Array.isArray(b.externalIDs)
    )
      return fail(
        400,
        'badRequest',
        'Expected {resourceType, name, externalIDs: [{type, value}]}.',
      );
    const offer = b.externalIDs.find((x) => x?.type === 'AzureOfferID')?.value;
    if (offer && [...this.#products.values()].some((p) => offerOf(p) === offer))
      return fail(409, 'conflict', `A product with AzureOfferID ${offer} exists already.`);
    const p: Product = {
      id: randomUUID(),
      resourceType: b.resourceType,
      name: b.name,
      externalIDs: b.externalIDs.map((x) => ({ type: String(x.type), value: String(x.value) })),
    };
    this.#products.set(p.id, p);
    this.#keep('product', p.id, p);
    this.#touch(p);
    count(this.#stats.productsCreated, offerOf(p));
    return { status: 201, body: p };
  }

  #submit(p: Product, body: unknown): Reply {
    const b = body as { publishOption?: unknown; extendedProperties?: unknown } | undefined;
    if (!b || typeof b !== 'object' || Array.isArray(b))
      return fail(400, 'badRequest', 'The body must be a JSON object.');
    // A second submit while the draft is in certification (or waits to go live) is a conflict.
    const open = this.#of(p).find((s) => {
      this.#settle(s);
      return !s.promoted && s.outcome !== 'Failed';
    });
    if (open) {
      this.#stats.conflicts++;
      return {
        status: 409,
        body: {
          code: 'conflict',
          message: `Submission ${open.id} of this product is in progress.`,
          details: [{ submissionId: open.id }],
        },
      };
    }
    const s: Submission = {
      id: randomUUID(),
      productId: p.id,
      createdAt: Date.now(),
      reasons: [],
      promoted: false,
      publishOption: (b.publishOption as Record<string, unknown>) ?? {},
      extendedProperties: (b.extendedProperties as Record<string, unknown>) ?? {},
    };
    this.#submissions.set(s.id, s);
    this.#keep('submission', s.id, s);
    count(this.#stats.submissions, offerOf(p));
    return { status: 201, body: submissionView(this.#settle(s)) };
  }

  #promote(p: Product, s: Submission): Reply {
    if (s.promoted) return { status: 200, body: submissionView(s) };
    if (!s.outcome || s.outcome === 'Failed')
      return fail(409, 'conflict', 'Only a submission that passed certification can go live.');
    s.promoted = true;
    this.#keep('submission', s.id, s);
    count(this.#stats.promoted, offerOf(p));
    return { status: 200, body: submissionView(s) };
  }
}

/** The ingestion service over a world (see IngestionService); `table` keeps its state (else memory). */
export function createIngestionService(
  world: World,
  opts: { certificationSeconds: number; table?: TableClient },
): IngestionService {
  return new IngestionService(world, opts);
}
