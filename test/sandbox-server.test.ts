// The sandbox on its own: world validation, the partner services' shapes, idempotency, faults, tokens, restarts.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startSandbox, type RunningSandbox } from '../sandbox/server.js';
import { loadWorld, validateWorld, WorldError, type World } from '../sandbox/world.js';
import { projectRoot } from './support/devhost.js';

let world: World;
let sb: RunningSandbox;
const table = `SandboxT${Date.now().toString(36)}`;
const start = (): Promise<RunningSandbox> =>
  startSandbox({ world, port: 0, storage: inject('storage'), table });

beforeAll(async () => {
  world = await loadWorld(`${projectRoot}/sandbox/worlds/demo.json`);
  sb = await start();
});
afterAll(async () => {
  await sb?.close();
});

const get = async (path: string): Promise<{ status: number; body: any; headers: Headers }> => {
  const res = await fetch(`${sb.url}${path}`);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
};

describe('world files', () => {
  it('refuses a bad value with its path', () => {
    const bad = structuredClone(world) as any;
    bad.cppAccounts[2].offers[0].kind = 'mainframe';
    expect(() => validateWorld(bad, 'w.json')).toThrow(WorldError);
    expect(() => validateWorld(bad, 'w.json')).toThrow(
      /^w\.json: cppAccounts\[2\]\.offers\[0\]\.kind: /,
    );
  });
  it('refuses unknown keys, dangling references and accounts without an owner', () => {
    expect(() => validateWorld({ ...world, extra: 1 })).toThrow(/extra|Unrecognized/);
    const dangling = structuredClone(world) as any;
    dangling.cppAccounts[0].mpnId = '9999999';
    expect(() => validateWorld(dangling)).toThrow(/cppAccounts\[0\]\.mpnId: no MPN ID 9999999/);
    const ownerless = structuredClone(world) as any;
    ownerless.cppAccounts[0].users = [{ email: 'a@b.com', role: 'developer' }];
    expect(() => validateWorld(ownerless)).toThrow(
      /cppAccounts\[0\]\.users: the account has no owner/,
    );
  });
});

describe('Entra ID and Graph', () => {
  it('discovers tenants by domain, consumer domains and unknown ones', async () => {
    const work = await get('/contoso.com/v2.0/.well-known/openid-configuration');
    expect(work.body.issuer).toBe(
      'https://login.microsoftonline.com/6513270e-269e-4d37-b2a7-4de452e6b438/v2.0',
    );
    const consumer = await get('/outlook.com/v2.0/.well-known/openid-configuration');
    expect(consumer.body.issuer).toContain(world.consumerTenantId);
    const unknown = await get('/nowhere.example/v2.0/.well-known/openid-configuration');
    expect(unknown.status).toBe(400);
    expect(unknown.body.error_description).toMatch(/^AADSTS90002/);
  });
  it('names a tenant through Graph', async () => {
    const t = await get(
      "/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='d23f0824-128b-4f33-8c5c-7fd0a6a3a450')",
    );
    expect(t.body).toMatchObject({
      tenantId: 'd23f0824-128b-4f33-8c5c-7fd0a6a3a450',
      displayName: 'Fabrikam Inc',
    });
    expect(
      (await get("/v1.0/tenantRelationships/findTenantInformationByTenantId(tenantId='nope')"))
        .status,
    ).toBe(404);
  });
});

describe('Partner Center', () => {
  it('verifies MPN IDs with the real error envelope', async () => {
    expect((await get('/v1/profiles/mpn?mpnId=3456789')).body).toMatchObject({
      profileType: 'MpnProfile',
      certificateState: 'expired',
    });
    const missing = await get('/v1/profiles/mpn?mpnId=9999999');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({
      code: 3000,
      description: 'Partner Organization with partner_id 9999999 could not be found',
      data: [],
      source: 'PartnerFD',
    });
  });

  it('writes once per MS-RequestId and guards with If-Match', async () => {
    const put = (body: unknown, headers: Record<string, string>): Promise<Response> =>
      fetch(`${sb.url}/v1/accounts/acc-x/profiles/company`, {
        method: 'PUT',
        body: JSON.stringify(body),
        headers,
      });
    const first = await put({ name: 'A' }, { 'ms-requestid': 'r-1' });
    const etag = ((await first.json()) as { etag: string }).etag;
    await put({ name: 'B' }, { 'ms-requestid': 'r-1' });
    expect((await get('/v1/accounts/acc-x/profiles/company')).body.name).toBe('A');
    const stats = (await get('/dev/stats')).body;
    expect(stats.writes['acc-x/company-profile']).toBe(1);
    expect(stats.deduplicated).toBeGreaterThanOrEqual(1);
    expect(
      (await put({ name: 'C' }, { 'ms-requestid': 'r-2', 'if-match': 'W/"stale"' })).status,
    ).toBe(412);
    expect((await put({ name: 'C' }, { 'ms-requestid': 'r-3', 'if-match': etag })).status).toBe(
      200,
    );
  });

  it('never returns payout data in clear', async () => {
    await fetch(`${sb.url}/v1/accounts/acc-y/profiles/payout`, {
      method: 'PUT',
      body: JSON.stringify({ iban: 'NL00SECRET0000' }),
    });
    const payout = await get('/v1/accounts/acc-y/profiles/payout');
    expect(JSON.stringify(payout.body)).not.toContain('SECRET');
    expect(payout.body.present).toBe(true);
  });
});

describe('CPP, faults and tokens', () => {
  it('pages users and refuses writes on a read-only account while back-sync writes work', async () => {
    const page = await get('/cpp/accounts/cpp-litware/users?top=500');
    expect(page.body.items).toHaveLength(500);
    expect(page.body.continuationToken).toBeTruthy();
    const ro = await fetch(`${sb.url}/cpp/accounts/cpp-wideworld/users/x@wideworldimporters.com`, {
      method: 'PUT',
      body: '{"role":"developer"}',
    });
    expect(ro.status).toBe(403);
    const sync = await fetch(
      `${sb.url}/cpp/accounts/cpp-wideworld/sync/users/x@wideworldimporters.com`,
      { method: 'PUT', body: '{"role":"developer"}' },
    );
    expect(sync.status).toBe(200);
  });

  it('injects 429 with Retry-After a given number of times', async () => {
    await fetch(`${sb.url}/dev/faults`, {
      method: 'POST',
      body: JSON.stringify({ route: '/v1/profiles/mpn', status: 429, retryAfter: 2, times: 2 }),
    });
    const a = await get('/v1/profiles/mpn?mpnId=1234567');
    expect(a.status).toBe(429);
    expect(a.headers.get('retry-after')).toBe('2');
    expect(a.body.statusCode).toBe(429);
    expect((await get('/v1/profiles/mpn?mpnId=1234567')).status).toBe(429);
    expect((await get('/v1/profiles/mpn?mpnId=1234567')).status).toBe(200);
  });

  it('issues tokens that verify against its JWKS, with admin roles from the world', async () => {
    const res = await fetch(`${sb.url}/dev/token`, {
      method: 'POST',
      body: JSON.stringify({ email: 'admin@migration.example' }),
    });
    const { access_token } = (await res.json()) as { access_token: string };
    const { payload } = await jwtVerify(
      access_token,
      createRemoteJWKSet(new URL(`${sb.url}/dev/jwks`)),
      { issuer: `${sb.url}/dev`, audience: 'api://cpp-migration' },
    );
    expect(payload.roles).toEqual(['Migration.Admin']);
    // What Entra ID mints for a v2 access token: the user as preferred_username, oid/tid, an
    // expiry, and no unverified email claim.
    expect(payload).toMatchObject({
      ver: '2.0',
      preferred_username: 'admin@migration.example',
      oid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      tid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      exp: expect.any(Number),
      nbf: expect.any(Number),
    });
    expect(payload).not.toHaveProperty('email');
    expect(
      (await fetch(`${sb.url}/dev/token`, { method: 'POST', body: '{"email":"nope"}' })).status,
    ).toBe(400);
  });

  it('keeps changes across a restart', async () => {
    await fetch(`${sb.url}/v1/accounts/acc-z/users/kept@z.com`, {
      method: 'PUT',
      body: JSON.stringify({ role: 'owner' }),
    });
    await sb.close();
    sb = await start();
    expect((await get('/v1/accounts/acc-z/users')).body.items).toEqual([
      { email: 'kept@z.com', role: 'owner' },
    ]);
  });
});
