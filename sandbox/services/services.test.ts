// The pure parts of the four services.
import { describe, expect, it } from 'vitest';
import { HttpFail } from '../http.js';
import { requestKey } from '../idempotency.js';
import { summaryOf, type CppState, type PcState } from '../state.js';
import { CONSUMER, CONTOSO, testWorld } from '../testWorld.js';
import { tenantOfDomain } from '../tokens.js';
import { accountsPage } from './cpp.js';
import { openIdConfiguration, resolveTenant } from './entra.js';
import { tenantInformation } from './graph.js';
import { mpnProfile } from './partnerCenter.js';

const world = testWorld();

describe('Entra discovery', () => {
  it('resolves verified domains (any case), tenant ids and consumer domains', () => {
    expect(resolveTenant(world, 'CONTOSO.com')).toBe(CONTOSO);
    expect(resolveTenant(world, 'contoso.nl')).toBe(CONTOSO);
    expect(resolveTenant(world, CONTOSO)).toBe(CONTOSO);
    expect(resolveTenant(world, 'outlook.com')).toBe(CONSUMER);
    expect(resolveTenant(world, 'nowhere.example')).toBeUndefined();
  });
  it('answers AADSTS90002 for an unknown domain and the issuer otherwise', () => {
    expect(openIdConfiguration(world, 'nowhere.example')).toMatchObject({
      status: 400,
      body: { error: 'invalid_tenant', error_codes: [90002] },
    });
    expect(openIdConfiguration(world, 'contoso.com').body).toMatchObject({
      issuer: `https://login.microsoftonline.com/${CONTOSO}/v2.0`,
    });
  });
});

describe('Graph', () => {
  it('names a tenant, and answers 404 for another', () => {
    expect(tenantInformation(world, CONTOSO).body).toMatchObject({
      displayName: 'Contoso Ltd',
      defaultDomainName: 'contoso.com',
    });
    expect(tenantInformation(world, 'x').status).toBe(404);
  });
});

describe('Partner Center', () => {
  it('describes an MPN ID, and refuses an unknown one with code 3000', () => {
    expect(mpnProfile(world, '1234567').body).toMatchObject({
      tenantId: CONTOSO,
      certificateState: 'valid',
    });
    const e = (() => {
      try {
        return mpnProfile(world, '7654321');
      } catch (x) {
        return x;
      }
    })();
    expect((e as HttpFail).reply()).toMatchObject({ status: 404, body: { code: 3000 } });
  });
  it('summarises an account by counts and order-free hashes', () => {
    const make = (emails: string[]): PcState => ({
      state: 'live',
      users: new Map(emails.map((e) => [e, { email: e, role: 'owner' }])),
      offers: new Map(),
      docs: new Map([['company-profile', { body: { a: 1 }, etag: 'x' }]]),
    });
    const a = summaryOf(make(['a@x', 'b@x']));
    expect(a.counts).toMatchObject({ users: 2, companyProfile: 1, payoutProfile: 0 });
    expect(a.hashes).toEqual(summaryOf(make(['b@x', 'a@x'])).hashes);
    expect(a.hashes).not.toEqual(summaryOf(make(['a@x'])).hashes);
  });
  it('keys an idempotent write by method, route and MS-RequestId', () => {
    expect(requestKey('PUT', '/a', 'r1')).toBe(requestKey('PUT', '/a', 'r1'));
    expect(requestKey('PUT', '/a', 'r1')).not.toBe(requestKey('POST', '/a', 'r1'));
    expect(requestKey('PUT', '/a', '')).toBeUndefined();
  });
});

describe('CPP', () => {
  const accounts = [3, 5, 9, 12].map(
    (version) => ({ account: { id: `a${version}`, version } }) as unknown as CppState,
  );
  it('lists what changed after `since`, oldest first, a page at a time', () => {
    expect(accountsPage(accounts, 0, null, 1000).items.map((a) => a.account.version)).toEqual([
      3, 5, 9, 12,
    ]);
    expect(accountsPage(accounts, 5, null, 1000).items.map((a) => a.account.version)).toEqual([
      9, 12,
    ]);
    const first = accountsPage(accounts, 0, null, 3);
    expect(first.items).toHaveLength(3);
    const rest = accountsPage(accounts, 0, first.continuationToken!, 3);
    expect(rest).toEqual({ items: [accounts[3]] });
    expect(accountsPage(accounts, 12, null, 10).items).toEqual([]);
  });
});

describe('tokens', () => {
  it("put the world's tenant of the user's domain in `tid`", () => {
    expect(tenantOfDomain(world, 'contoso.com')).toBe(CONTOSO);
    expect(tenantOfDomain(world, 'outlook.com')).toBe(CONSUMER);
    expect(tenantOfDomain(world, 'x.example')).toMatch(/^[0-9a-f-]{36}$/);
  });
});
