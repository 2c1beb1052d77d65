// Entra ID's public discovery (R-TEN-4): the OpenID configuration of a domain or tenant.
import type { Reply } from '../http.js';
import type { Route } from '../routes.js';
import type { World } from '../world.js';

/** The tenant a domain or tenant id names; personal-account domains give the consumer tenant. */
export function resolveTenant(world: World, domainOrTenant: string): string | undefined {
  const key = domainOrTenant.toLowerCase();
  if (world.consumerDomains.includes(key) || key === world.consumerTenantId || key === 'consumers')
    return world.consumerTenantId;
  return world.tenants.find((t) => t.id === key || t.domains.some((d) => d.toLowerCase() === key))
    ?.id;
}

/** The discovery document, or AADSTS90002 for an unknown domain. */
export function openIdConfiguration(world: World, domainOrTenant: string): Reply {
  const tenant = resolveTenant(world, domainOrTenant);
  if (!tenant)
    return {
      status: 400,
      body: {
        error: 'invalid_tenant',
        error_description: `AADSTS90002: Tenant '${domainOrTenant}' not found. This may happen if there are no active subscriptions for the tenant. Check to make sure you have the correct tenant ID.`,
        error_codes: [90002],
      },
    };
  const base = `https://login.microsoftonline.com/${tenant}`;
  return {
    status: 200,
    body: {
      issuer: `${base}/v2.0`,
      token_endpoint: `${base}/oauth2/v2.0/token`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      jwks_uri: `${base}/discovery/v2.0/keys`,
      tenant_region_scope: 'EU',
      cloud_instance_name: 'microsoftonline.com',
    },
  };
}

export function entraRoutes(world: World): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/,
      handle: ({ params }) => openIdConfiguration(world, params[0]!),
    },
  ];
}
