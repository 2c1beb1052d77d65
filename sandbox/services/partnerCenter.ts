// Partner Center: MPN and billing profiles, and the target seller account (documents, users and offers in
// batches, activation, the summary the app verifies against). Writes honour MS-RequestId and If-Match.
import { z } from 'zod';
import { canonical, etagOf, pcError, readJson, sha, type Json, type Reply } from '../http.js';
import { idempotent, ifMatch } from '../idempotency.js';
import type { Route, RouteContext } from '../routes.js';
import { listing, put, rk, summaryOf, type Doc, type Offer, type SandboxState } from '../state.js';
import type { World } from '../world.js';

const DOC_PATHS: Record<string, Doc> = {
  'publishing-agreement': 'publishing-agreement',
  'profiles/company': 'company-profile',
  'profiles/payout': 'payout-profile',
};
const ACCOUNT = '^\\/v1\\/accounts\\/([^/]+)';
const DOC = `${ACCOUNT}\\/(publishing-agreement|profiles\\/company|profiles\\/payout)$`;

const notFound = (mpnId: string | null): never => {
  throw pcError(404, 3000, `Partner Organization with partner_id ${mpnId} could not be found`);
};

/** The MPN profile of an ID (with the sandbox's tenant and certificate extensions), or 404 code 3000. */
export function mpnProfile(world: World, mpnId: string): Reply {
  const p = world.mpn.find((x) => x.mpnId === mpnId) ?? notFound(mpnId);
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

const batchSchema = (kind: 'users' | 'offers') =>
  z.object({
    items: z
      .array(
        kind === 'users'
          ? z.object({ email: z.email(), role: z.string() }).loose()
          : z.object({ id: z.string().min(1) }).loose(),
      )
      .max(100),
  });

async function putDocument(
  state: SandboxState,
  { req, path, params }: RouteContext,
): Promise<Reply> {
  const [id, docPath] = params as [string, string];
  const doc = DOC_PATHS[docPath]!;
  const b = await readJson(req);
  if (!b || typeof b !== 'object' || Array.isArray(b))
    throw pcError(400, 800002, 'The body must be a JSON object.');
  return idempotent(state, req, path, async () => {
    const s = state.pcAccount(id, true);
    ifMatch(req, s.docs.get(doc)?.etag);
    const entry = { body: b as Json, etag: etagOf(b) };
    s.docs.set(doc, entry);
    await state.batch(`pc~${id}`, [
      state.savePcAccount(id, s),
      put(`pc~${id}`, `doc~${doc}`, entry),
    ]);
    state.countWrite(id, doc);
    return { status: 200, body: { etag: entry.etag } };
  });
}

async function batchWrite(
  state: SandboxState,
  { req, path, params }: RouteContext,
): Promise<Reply> {
  const [id, kindText] = params as [string, string];
  const kind = kindText as 'users' | 'offers';
  const pk = `pc~${id}`;
  const parsed = batchSchema(kind).safeParse(await readJson(req));
  if (!parsed.success)
    throw pcError(400, 800002, `Invalid batch: ${parsed.error.issues[0]?.message}`);
  return idempotent(state, req, path, async () => {
    const s = state.pcAccount(id, true);
    const ops = [state.savePcAccount(id, s)];
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
    await state.batch(pk, ops);
    state.countWrite(id, kind, parsed.data.items.length);
    return { status: 200, body: { count: parsed.data.items.length } };
  });
}

async function writeUser(
  state: SandboxState,
  { req, path, params, method }: RouteContext,
): Promise<Reply> {
  const id = params[0]!;
  const email = params[1]!.toLowerCase();
  const pk = `pc~${id}`;
  const b =
    method === 'PUT'
      ? z.object({ role: z.string().min(1) }).safeParse(await readJson(req))
      : undefined;
  if (b && !b.success) throw pcError(400, 800002, 'Expected {"role": "..."}');
  return idempotent(state, req, path, async () => {
    const s = state.pcAccount(id, method === 'PUT');
    if (b) {
      const u = { email, role: b.data.role };
      s.users.set(email, u);
      await state.batch(pk, [state.savePcAccount(id, s), put(pk, `user~${rk(email)}`, u)]);
    } else {
      if (!s.users.delete(email)) throw pcError(404, 3000, `No user ${email}`);
      await state.batch(pk, [['delete', { partitionKey: pk, rowKey: `user~${rk(email)}` }]]);
    }
    state.countWrite(id, 'users');
    return { status: b ? 200 : 204, body: undefined };
  });
}

function activate(state: SandboxState, { req, path, params }: RouteContext): Promise<Reply> {
  const id = params[0]!;
  return idempotent(state, req, path, async () => {
    const s = state.pcAccount(id, true);
    s.state = 'live';
    s.partnerCenterUrl = `https://partner.microsoft.com/dashboard/account/v3/organization/${encodeURIComponent(id)}`;
    await state.batch(`pc~${id}`, [state.savePcAccount(id, s)]);
    state.countWrite(id, 'activate');
    return {
      status: 200,
      body: { accountId: id, state: s.state, partnerCenterUrl: s.partnerCenterUrl },
    };
  });
}

function getAccount(state: SandboxState, { params }: RouteContext): Reply {
  const s = state.pcAccount(params[0]!, false);
  return {
    status: 200,
    body: {
      accountId: params[0],
      state: s.state,
      ...(s.partnerCenterUrl ? { partnerCenterUrl: s.partnerCenterUrl } : {}),
    },
  };
}

function getDocument(state: SandboxState, { params }: RouteContext): Reply {
  const [id, docPath] = params as [string, string];
  const doc = DOC_PATHS[docPath]!;
  const d = state.pcAccount(id, false).docs.get(doc);
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

export function partnerCenterRoutes(state: SandboxState): Route[] {
  const world = state.world;
  return [
    {
      method: 'GET',
      path: '/v1/profiles/mpn',
      handle: ({ query }) => mpnProfile(world, query.get('mpnId') ?? ''),
    },
    {
      method: 'GET',
      path: '/v1/profiles/billing',
      handle: ({ query }) => {
        const p =
          world.mpn.find((x) => x.mpnId === query.get('mpnId')) ?? notFound(query.get('mpnId'));
        return {
          status: 200,
          body: {
            mpnId: p.mpnId,
            complete: state.billing.get(p.mpnId) ?? p.billingComplete,
            profileType: 'BillingProfile',
          },
        };
      },
    },
    {
      method: 'GET',
      path: new RegExp(`${ACCOUNT}$`),
      handle: (c) => getAccount(state, c),
    },
    {
      method: 'GET',
      path: new RegExp(`${ACCOUNT}\\/summary$`),
      handle: ({ params }) => ({
        status: 200,
        body: summaryOf(state.pcAccount(params[0]!, false)),
      }),
    },
    {
      method: 'GET',
      path: new RegExp(DOC),
      handle: (c) => getDocument(state, c),
    },
    { method: 'PUT', path: new RegExp(DOC), handle: (c) => putDocument(state, c) },
    {
      method: 'POST',
      path: new RegExp(`${ACCOUNT}\\/(users|offers)\\/\\$batch$`),
      handle: (c) => batchWrite(state, c),
    },
    {
      method: 'GET',
      path: new RegExp(`${ACCOUNT}\\/(users|offers)$`),
      handle: ({ params, query }) => ({
        status: 200,
        body: listing(state.pcAccount(params[0]!, false), params[1] as 'users' | 'offers', query),
      }),
    },
    {
      method: 'PUT',
      path: new RegExp(`${ACCOUNT}\\/users\\/([^/]+)$`),
      handle: (c) => writeUser(state, c),
    },
    {
      method: 'DELETE',
      path: new RegExp(`${ACCOUNT}\\/users\\/([^/]+)$`),
      handle: (c) => writeUser(state, c),
    },
    {
      method: 'POST',
      path: new RegExp(`${ACCOUNT}\\/activate$`),
      handle: (c) => activate(state, c),
    },
  ];
}
