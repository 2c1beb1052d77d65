// Bearer tokens: validated with jose against the configured issuer, audience and JWKS (api.md "Identity").
import { createRemoteJWKSet, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { ForbiddenError, UnauthorizedError } from '../errors.js';

export const ADMIN_ROLE = 'Migration.Admin';

/** Who is calling: the token's user (lower-cased) and app roles. */
export interface Caller {
  email: string;
  roles: string[];
  isAdmin: boolean;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  jwksUrl: string;
}

export class TokenVerifier {
  readonly #keys: JWTVerifyGetKey;

  constructor(
    private readonly settings: TokenSettings,
    keys?: JWTVerifyGetKey,
  ) {
    // The key set is fetched on first use and cached, refreshed when a token names an unknown kid.
    this.#keys =
      keys ?? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000 });
  }

  /** The caller of a request, or UnauthorizedError for a missing, malformed, expired or foreign token. */
  async verify(authorization: string | null | undefined): Promise<Caller> {
    const match = /^Bearer\s+([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+)\s*$/i.exec(
      authorization ?? '',
    );
    if (!match) throw new UnauthorizedError();
    let payload;
    try {
      ({ payload } = await jwtVerify(match[1]!, this.#keys, {
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        algorithms: ['RS256'],
        clockTolerance: 30,
        // A token without an expiry would be good forever: refused like an expired one.
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof errors.JWTExpired)
        throw new UnauthorizedError('The token has expired: sign in again.');
      if (e instanceof errors.JOSEError)
        throw new UnauthorizedError('The token is not valid for this API: sign in again.');
      throw e; // the key set could not be fetched: a fault on our side, not the caller's
    }
    // Only claims Entra ID itself vouches for name the user: `preferred_username` (v2 tokens) or `upn`
    // (v1). The optional `email` claim is whatever the user's profile says, unverified, so it is ignored.
    const claim = [payload.preferred_username, payload.upn].find(
      (c): c is string => typeof c === 'string' && c.includes('@'),
    );
    if (!claim) throw new UnauthorizedError('The token names no user.');
    const roles = Array.isArray(payload.roles)
      ? payload.roles.filter((r): r is string => typeof r === 'string')
      : [];
    return { email: claim.toLowerCase(), roles, isAdmin: roles.includes(ADMIN_ROLE) };
  }
}

/**
 * R-BAN-1: only an owner of the account (or an admin) may use it. A missing account and someone
 * else's account get the same 403, so the answer says nothing about which accounts exist.
 */
export function requireOwner(caller: Caller, owners: readonly string[] | undefined): void {
  if (caller.isAdmin) return;
  if (!owners || !owners.some((o) => o.toLowerCase() === caller.email)) throw new ForbiddenError();
}

export function requireAdmin(caller: Caller): void {
  if (!caller.isAdmin) throw new ForbiddenError('This needs the Migration.Admin role.');
}
