import { createLocalJWKSet, exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { requireOwner, TokenVerifier, type Caller } from './tokens.js';

const settings = {
  issuer: 'http://issuer.test/dev',
  audience: 'api://cpp-migration',
  jwksUrl: 'http://unused.test/jwks',
};
let sign: (
  claims: JWTPayload,
  opts?: { exp?: number; iss?: string; aud?: string },
) => Promise<string>;
let verifier: TokenVerifier;

beforeAll(async () => {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
  verifier = new TokenVerifier(settings, createLocalJWKSet({ keys: [jwk] }));
  sign = (claims, o = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(o.iss ?? settings.issuer)
      .setAudience(o.aud ?? settings.audience)
      .setIssuedAt()
      .setExpirationTime(o.exp ?? Math.floor(Date.now() / 1000) + 600)
      .sign(privateKey);
});

describe('TokenVerifier', () => {
  it('accepts a valid token and lower-cases the user', async () => {
    const caller = await verifier.verify(
      `Bearer ${await sign({ preferred_username: 'Olivia.Owner@Contoso.com' })}`,
    );
    expect(caller).toEqual({ email: 'olivia.owner@contoso.com', roles: [], isAdmin: false });
  });

  it('falls back to upn, and reads the admin role', async () => {
    const caller = await verifier.verify(
      `Bearer ${await sign({ upn: 'a@b.com', roles: ['Migration.Admin'] })}`,
    );
    expect(caller.email).toBe('a@b.com');
    expect(caller.isAdmin).toBe(true);
  });

  it.each([
    ['missing', undefined],
    ['not bearer', 'Basic abc'],
    ['malformed', 'Bearer not-a-jwt'],
  ])('refuses a %s header with 401', async (_name, header) => {
    await expect(verifier.verify(header)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses expired, foreign-issuer and foreign-audience tokens', async () => {
    const expired = await sign(
      { preferred_username: 'a@b.com' },
      { exp: Math.floor(Date.now() / 1000) - 3600 },
    );
    await expect(verifier.verify(`Bearer ${expired}`)).rejects.toThrow(/expired/);
    await expect(
      verifier.verify(`Bearer ${await sign({ email: 'a@b.com' }, { iss: 'http://evil.test' })}`),
    ).rejects.toBeInstanceOf(UnauthorizedError);
    await expect(
      verifier.verify(`Bearer ${await sign({ email: 'a@b.com' }, { aud: 'api://other' })}`),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('never takes the user from the unverified email claim', async () => {
    // The email claim is the user's own profile value: here it names an owner the caller is not.
    const caller = await verifier.verify(
      `Bearer ${await sign({ preferred_username: 'mallory@fabrikam.com', email: 'olivia.owner@contoso.com' })}`,
    );
    expect(caller.email).toBe('mallory@fabrikam.com');
    await expect(
      verifier.verify(`Bearer ${await sign({ email: 'olivia.owner@contoso.com' })}`),
    ).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses a token without an expiry', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k2', alg: 'RS256' };
    const v = new TokenVerifier(settings, createLocalJWKSet({ keys: [jwk] }));
    const forever = await new SignJWT({ preferred_username: 'olivia.owner@contoso.com' })
      .setProtectedHeader({ alg: 'RS256', kid: 'k2' })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setIssuedAt()
      .sign(privateKey);
    await expect(v.verify(`Bearer ${forever}`)).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('refuses a token without a user', async () => {
    await expect(verifier.verify(`Bearer ${await sign({ sub: 'x' })}`)).rejects.toBeInstanceOf(
      UnauthorizedError,
    );
  });
});

describe('requireOwner', () => {
  const owner: Caller = { email: 'olivia.owner@contoso.com', roles: [], isAdmin: false };
  it('lets owners and admins through', () => {
    expect(() => requireOwner(owner, ['Olivia.Owner@contoso.com'])).not.toThrow();
    expect(() => requireOwner({ ...owner, isAdmin: true }, undefined)).not.toThrow();
  });
  it('answers a missing account and a foreign one alike', () => {
    const a = (() => {
      try {
        requireOwner(owner, undefined);
      } catch (e) {
        return e;
      }
    })();
    const b = (() => {
      try {
        requireOwner(owner, ['someone@else.com']);
      } catch (e) {
        return e;
      }
    })();
    expect(a).toBeInstanceOf(ForbiddenError);
    expect(b).toBeInstanceOf(ForbiddenError);
    expect((a as Error).message).toBe((b as Error).message);
  });
});
