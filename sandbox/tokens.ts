// The local token issuer (`/dev/token`, `/dev/jwks`): RS256 tokens shaped as Entra ID v2 access tokens,
// signed with a key pair kept in storage so that tokens survive a restart.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { z } from 'zod';
import { sha } from './http.js';
import type { SandboxState } from './state.js';
import type { World } from './world.js';

export const tokenRequestSchema = z.object({
  email: z.email(),
  roles: z.array(z.string()).optional(),
  expiresIn: z.number().int().optional(),
  audience: z.string().optional(),
});

const uuidOf = (h: string): string =>
  `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;

/** The tenant a user's domain belongs to in the world (a stable made-up one for unknown domains). */
export function tenantOfDomain(world: World, domain: string): string {
  return (
    (world.consumerDomains.includes(domain)
      ? world.consumerTenantId
      : world.tenants.find((t) => t.domains.some((d) => d.toLowerCase() === domain))?.id) ??
    uuidOf(sha(`tenant|${domain}`))
  );
}

export interface TokenIssuer {
  mint(request: z.infer<typeof tokenRequestSchema>, issuerBase: string): Promise<string>;
  jwks(): { keys: JWK[] };
}

export async function tokenIssuer(state: SandboxState): Promise<TokenIssuer> {
  let privateJwk: JWK;
  const stored = await state.meta('key');
  if (stored) privateJwk = JSON.parse(stored) as JWK;
  else {
    const { privateKey } = await generateKeyPair('RS256', { extractable: true });
    privateJwk = { ...(await exportJWK(privateKey)), kid: randomUUID().slice(0, 8), alg: 'RS256' };
    await state.setMeta('key', JSON.stringify(privateJwk));
  }
  const signingKey = await importJWK(privateJwk, 'RS256');
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...publicJwk } = privateJwk;
  void [_d, _p, _q, _dp, _dq, _qi];
  const admins = new Set(state.world.admins.map((a) => a.toLowerCase()));

  return {
    async mint({ email, roles, expiresIn = 3600, audience = 'api://cpp-migration' }, issuerBase) {
      const granted = roles ?? (admins.has(email.toLowerCase()) ? ['Migration.Admin'] : []);
      const now = Math.floor(Date.now() / 1000);
      // The claims of an Entra ID v2 access token: no `email` (an optional, unverified claim Entra
      // leaves out unless configured), the user as `preferred_username`, `oid`/`tid`, `roles` only
      // when granted.
      const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
      return new SignJWT({
        ver: '2.0',
        tid: tenantOfDomain(state.world, domain),
        oid: uuidOf(sha(`user|${email.toLowerCase()}`)),
        preferred_username: email,
        name: email.slice(0, email.lastIndexOf('@')),
        scp: 'Migration.ReadWrite',
        ...(granted.length ? { roles: granted } : {}),
      })
        .setProtectedHeader({ alg: 'RS256', kid: String(privateJwk.kid) })
        .setIssuer(`${issuerBase}/dev`)
        .setAudience(audience)
        .setSubject(sha(email.toLowerCase()).slice(0, 24))
        .setIssuedAt(now)
        .setNotBefore(now)
        .setExpirationTime(now + expiresIn)
        .sign(signingKey);
    },
    jwks: () => ({ keys: [{ ...publicJwk, use: 'sig' }] }),
  };
}
