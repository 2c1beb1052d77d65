// Partner Center's ingestion API v1.0 (products, submissions, certification, promote), as the sandbox
// serves it under `/v1.0/ingestion/…` (reference A.10). Certification takes `certificationSeconds` of real
// time; a world offer with `failsCertificationOnce` fails its first certification, an app that does not
// support the latest platform always fails. Every call is counted (`/dev/stats` → `ingestion`).
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
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

/** The ingestion service over a world: `handle` answers its routes (undefined for any other path). */
export function createIngestionService(
  world: World,
  opts: { certificationSeconds: number },
): {
  handle(req: IncomingMessage, url: URL): Promise<Reply | undefined>;
  stats(): IngestionStats;
  reset(): void;
} {
  const products = new Map<string, Product>();
  const submissions = new Map<string, Submission>();
  /** offers that fail their first certification (world flag), and those that already did */
  const failOnce = new Set<string>();
  const failedOnce = new Set<string>();
  const unsupported = new Set<string>();
  const requests = new Map<string, Reply>();
  let stats: IngestionStats;

  function reset(): void {
    products.clear();
    submissions.clear();
    failOnce.clear();
    failedOnce.clear();
    unsupported.clear();
    requests.clear();
    stats = {
      calls: 0,
      byOffer: {},
      productsCreated: {},
      submissions: {},
      promoted: {},
      conflicts: 0,
      deduplicated: 0,
    };
    for (const a of world.cppAccounts)
      for (const o of a.offers) {
        if (o.failsCertificationOnce) failOnce.add(o.id);
        if (!o.supportsLatestPlatform) unsupported.add(o.id);
        const resourceType = RESOURCE_TYPES[o.kind];
        // Offers in AppSource exist as products of their type; the others have none yet.
        if (!resourceType || !o.inAppSource) continue;
        const id = uuidOf(`product|${o.id}`);
        products.set(id, {
          id,
          resourceType,
          name: o.name,
          externalIDs: [{ type: 'AzureOfferID', value: o.id }],
        });
      }
  }
  reset();

  const offerOf = (p: Product): string =>
    p.externalIDs.find((x) => x.type === 'AzureOfferID')?.value ?? p.id;
  const touch = (p: Product): void => {
    const o = offerOf(p);
    stats.byOffer[o] = (stats.byOffer[o] ?? 0) + 1;
  };
  const count = (m: Record<string, number>, k: string): void => {
    m[k] = (m[k] ?? 0) + 1;
  };

  /** Certification ends on the clock: Passed, or Failed (the world's flags say when). */
  function settle(s: Submission): void {
    if (s.outcome || Date.now() < s.createdAt + opts.certificationSeconds * 1000) return;
    const p = products.get(s.productId)!;
    const offer = offerOf(p);
    if (unsupported.has(offer)) {
      s.outcome = 'Failed';
      s.reasons = ['The app does not support the latest Business Applications platform.'];
    } else if (failOnce.has(offer) && !failedOnce.has(offer)) {
      failedOnce.add(offer);
      s.outcome = 'Failed';
      s.reasons = [
        'The app package could not be installed in the validation environment.',
        'The listing has no privacy policy link.',
      ];
    } else if (s.extendedProperties.premiumTierRequested === true) {
      s.outcome = 'PassedWithNotes';
      s.reasons = ['The Premium tier request is reviewed separately by the AppSource team.'];
    } else s.outcome = 'Passed';
  }

  function view(s: Submission): Record<string, unknown> {
    settle(s);
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
  const inFlight = (s: Submission): boolean => {
    settle(s);
    return !s.promoted && s.outcome !== 'Failed';
  };

  async function route(req: IncomingMessage, path: string, q: URLSearchParams): Promise<Reply> {
    const method = req.method ?? 'GET';
    if (path === '/products' && method === 'GET') {
      const filter = q.get('$filter') ?? '';
      const ext = /ExternalIDs\/Any\(i:i\/Type eq 'AzureOfferID' and i\/Value eq '([^']+)'\)/i.exec(
        filter,
      );
      const type = /ResourceType eq '([^']+)'/i.exec(filter);
      if (!ext && !type)
        return fail(400, 'badRequest', 'Filter by ResourceType or ExternalIDs (AzureOfferID).');
      const value = [...products.values()].filter(
        (p) =>
          (!ext || p.externalIDs.some((x) => x.value === ext[1])) &&
          (!type || p.resourceType === type[1]),
      );
      value.forEach(touch);
      return { status: 200, body: { value } };
    }
    if (path === '/products' && method === 'POST') {
      const b = (await readJson(req)) as Partial<Product> | undefined;
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
      if (offer && [...products.values()].some((p) => offerOf(p) === offer))
        return fail(409, 'conflict', `A product with AzureOfferID ${offer} exists already.`);
      const p: Product = {
        id: randomUUID(),
        resourceType: b.resourceType,
        name: b.name,
        externalIDs: b.externalIDs.map((x) => ({ type: String(x.type), value: String(x.value) })),
      };
      products.set(p.id, p);
      touch(p);
      count(stats.productsCreated, offerOf(p));
      return { status: 201, body: p };
    }
    const m =
      /^\/products\/([^/]+)(?:\/submissions(?:\/([^/]+)(?:\/(promote|reports|validations|workflowdetails))?)?)?$/.exec(
        path,
      );
    if (!m) return fail(404, 'notFound', `No ingestion route ${method} ${path}.`);
    const p = products.get(m[1]!);
    if (!p) return fail(404, 'notFound', `No product ${m[1]}.`);
    touch(p);
    const isSubmissions = path.includes('/submissions');
    if (!isSubmissions) {
      if (method === 'GET') return { status: 200, body: p };
      return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
    }
    const mine = [...submissions.values()].filter((s) => s.productId === p.id);
    if (!m[2]) {
      if (method === 'GET') {
        const state = q.get('state');
        const value = mine.map(view).filter((v) => !state || v.state === state);
        return { status: 200, body: { value } };
      }
      if (method === 'POST') {
        const b = (await readJson(req)) as
          { publishOption?: unknown; extendedProperties?: unknown } | undefined;
        if (!b || typeof b !== 'object' || Array.isArray(b))
          return fail(400, 'badRequest', 'The body must be a JSON object.');
        // A second submit while the draft is in certification (or waits to go live) is a conflict.
        const open = mine.find(inFlight);
        if (open) {
          stats.conflicts++;
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
        submissions.set(s.id, s);
        count(stats.submissions, offerOf(p));
        return { status: 201, body: view(s) };
      }
      return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
    }
    const s = submissions.get(m[2]);
    if (!s || s.productId !== p.id) return fail(404, 'notFound', `No submission ${m[2]}.`);
    if (!m[3] && method === 'GET') return { status: 200, body: view(s) };
    if (m[3] === 'reports' && method === 'GET') {
      settle(s);
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
    }
    if (m[3] === 'validations' && method === 'GET') {
      settle(s);
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
    }
    if (m[3] === 'workflowdetails' && method === 'GET') {
      settle(s);
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
    if (m[3] === 'promote' && method === 'POST') {
      settle(s);
      if (s.promoted) return { status: 200, body: view(s) };
      if (!s.outcome || s.outcome === 'Failed')
        return fail(409, 'conflict', 'Only a submission that passed certification can go live.');
      s.promoted = true;
      count(stats.promoted, offerOf(p));
      return { status: 200, body: view(s) };
    }
    return fail(405, 'methodNotAllowed', `${method} is not supported here.`);
  }

  async function handle(req: IncomingMessage, url: URL): Promise<Reply | undefined> {
    const prefix = '/v1.0/ingestion';
    if (!url.pathname.startsWith(`${prefix}/`)) return undefined;
    stats.calls++;
    const path = decodeURIComponent(url.pathname.slice(prefix.length));
    const method = req.method ?? 'GET';
    // Writes with a caller's request id (Client-Request-ID, else MS-RequestId) happen once.
    const rid = req.headers['client-request-id'] ?? req.headers['ms-requestid'];
    const key =
      method !== 'GET' && typeof rid === 'string' && rid ? `${method} ${path} ${rid}` : undefined;
    if (key && requests.has(key)) {
      stats.deduplicated++;
      return requests.get(key);
    }
    const r = await route(req, path, url.searchParams);
    if (key && r.status < 300) requests.set(key, r);
    return { ...r, headers: { ...r.headers, 'request-id': randomUUID() } };
  }

  return { handle, stats: () => stats, reset };
}
