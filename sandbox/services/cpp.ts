// CPP, the source: the account listing (for reminders), an account and its parts, the switch-over to
// read-only, and the back-sync channel that is the only writer of a read-only account (R-COPY-3/4).
import { z } from 'zod';
import { etagOf, fail, readJson, type Json, type Reply } from '../http.js';
import { idempotent } from '../idempotency.js';
import type { Route, RouteContext } from '../routes.js';
import { DOCS, listing, put, rk, type CppState, type Doc, type SandboxState } from '../state.js';

const D365_KINDS = ['dynamics-365-customer-engagement', 'powerapps', 'dynamics-365-operations'];
const ACCOUNT = '^\\/cpp\\/accounts\\/([^/]+)';
const DOC = `${ACCOUNT}\\/(${DOCS.join('|')})$`;

/**
 * A page of the listing: accounts whose version is above `since` (or the continuation token's), oldest
 * change first, `top` (1–1000) at a time. `sorted` is by version.
 */
export function accountsPage(
  sorted: readonly CppState[],
  since: number,
  continuationToken: string | null,
  top: number,
): { items: CppState[]; continuationToken?: string } {
  const from = Number(Buffer.from(continuationToken ?? '', 'base64url').toString() || since);
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.account.version <= from) lo = mid + 1;
    else hi = mid;
  }
  const items = sorted.slice(lo, lo + top);
  const last = items.at(-1)?.account.version;
  return lo + top < sorted.length && last !== undefined
    ? { items, continuationToken: Buffer.from(String(last)).toString('base64url') }
    : { items };
}

const readOnly = (): never => {
  throw fail(
    403,
    'account-read-only',
    'This account was migrated to Partner Center and is read-only.',
  );
};

function list(state: SandboxState, { query }: RouteContext): Reply {
  const since = Number(query.get('since') ?? 0);
  if (!Number.isInteger(since) || since < 0)
    throw fail(400, 'invalid-request', '`since` must be a version number from an earlier listing.');
  const top = Math.min(Math.max(Number(query.get('top') ?? 1000) || 1000, 1), 1000);
  const p = accountsPage(state.byVersion(), since, query.get('continuationToken'), top);
  const items = p.items.map((c) => ({
    id: c.account.id,
    displayName: c.account.displayName,
    migrated: c.account.migrated,
    readOnly: c.account.readOnly,
    ...(c.account.language ? { language: c.account.language } : {}),
    // R-D365: how many Dynamics 365 / PowerApps offers the account has (Business Central not counted)
    d365Offers: [...c.offers.values()].filter(
      (o) => D365_KINDS.includes(String(o.kind)) && o.status !== 'deprecated',
    ).length,
    owners: [...c.users.values()].filter((u) => u.role === 'owner').map((u) => u.email),
    version: c.account.version,
  }));
  return {
    status: 200,
    body: {
      items,
      version: state.cppVersion,
      ...(p.continuationToken !== undefined ? { continuationToken: p.continuationToken } : {}),
    },
  };
}

async function switchOver(
  state: SandboxState,
  { req, path, params }: RouteContext,
): Promise<Reply> {
  const id = params[0]!;
  const s = state.cppAccount(id);
  const b = z.object({ partnerCenterUrl: z.string().min(1) }).safeParse(await readJson(req));
  if (!b.success) throw fail(400, 'invalid-request', 'Expected {"partnerCenterUrl": "..."}');
  return idempotent(state, req, path, async () => {
    s.account = {
      ...s.account,
      readOnly: true,
      migrated: true,
      partnerCenterUrl: b.data.partnerCenterUrl,
    };
    await state.batch(`cpp~${id}`, [state.touch(s)]);
    state.countWrite(id, 'switch-over');
    return { status: 200, body: { readOnly: true } };
  });
}

/** A user written by the owner (refused once read-only) or by back-sync (only once read-only). */
function writeUser(state: SandboxState, sync: boolean) {
  return async ({ req, path, params, method }: RouteContext): Promise<Reply> => {
    const id = params[0]!;
    const s = state.cppAccount(id);
    if (!sync && s.account.readOnly) readOnly();
    if (sync && !s.account.readOnly)
      throw fail(409, 'not-read-only', 'Back-sync writes are for migrated (read-only) accounts.');
    const email = params[1]!.toLowerCase();
    const pk = `cpp~${id}`;
    const b =
      method === 'PUT'
        ? z
            .object({ role: z.enum(['owner', 'manager', 'developer']) })
            .safeParse(await readJson(req))
        : undefined;
    if (b && !b.success)
      throw fail(400, 'invalid-request', 'Expected {"role": "owner|manager|developer"}');
    return idempotent(state, req, path, async () => {
      if (b) {
        const u = { email, role: b.data.role };
        s.users.set(email, u);
        await state.batch(pk, [put(pk, `user~${rk(email)}`, u), state.touch(s)]);
      } else {
        if (!s.users.delete(email))
          return {
            status: 404,
            body: { code: 'user-not-found', description: `No user ${email}` },
          };
        // A tombstone: the world file still has the user, the stored change removes it.
        await state.batch(pk, [
          put(pk, `user~${rk(email)}`, { email, deleted: true }),
          state.touch(s),
        ]);
      }
      state.countWrite(id, sync ? 'sync-users' : 'users');
      return { status: b ? 200 : 204, body: undefined };
    });
  };
}

async function putDocument(state: SandboxState, { req, params }: RouteContext): Promise<Reply> {
  const [id, doc] = params as [string, Doc];
  const s = state.cppAccount(id);
  if (s.account.readOnly) readOnly();
  const b = await readJson(req);
  s.docs.set(doc, b as Json);
  await state.batch(`cpp~${id}`, [put(`cpp~${id}`, `doc~${doc}`, b), state.touch(s)]);
  return { status: 200, body: {} };
}

const userPath = new RegExp(`${ACCOUNT}\\/users\\/([^/]+)$`);
const syncPath = new RegExp(`${ACCOUNT}\\/sync\\/users\\/([^/]+)$`);

export function cppRoutes(state: SandboxState): Route[] {
  return [
    { method: 'GET', path: '/cpp/accounts', handle: (c) => list(state, c) },
    {
      method: 'GET',
      path: new RegExp(`${ACCOUNT}$`),
      handle: ({ params }) => {
        const s = state.cppAccount(params[0]!);
        return {
          status: 200,
          body: {
            ...s.account,
            counts: { users: s.users.size, offers: s.offers.size },
            etag: etagOf(s.account),
          },
        };
      },
    },
    {
      method: 'GET',
      path: new RegExp(DOC),
      handle: ({ params }) => ({
        status: 200,
        body: state.cppAccount(params[0]!).docs.get(params[1] as Doc) ?? {},
      }),
    },
    {
      method: 'GET',
      path: new RegExp(`${ACCOUNT}\\/(users|offers)$`),
      handle: ({ params, query }) => ({
        status: 200,
        body: listing(state.cppAccount(params[0]!), params[1] as 'users' | 'offers', query),
      }),
    },
    {
      method: 'POST',
      path: new RegExp(`${ACCOUNT}\\/switch-over$`),
      handle: (c) => switchOver(state, c),
    },
    { method: 'PUT', path: userPath, handle: writeUser(state, false) },
    { method: 'DELETE', path: userPath, handle: writeUser(state, false) },
    { method: 'PUT', path: syncPath, handle: writeUser(state, true) },
    { method: 'DELETE', path: syncPath, handle: writeUser(state, true) },
    { method: 'PUT', path: new RegExp(DOC), handle: (c) => putDocument(state, c) },
  ];
}
