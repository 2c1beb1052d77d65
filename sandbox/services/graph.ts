// Microsoft Graph: the tenant information the app names the expected tenant with (R-TEN-3).
import type { Reply } from '../http.js';
import type { Route } from '../routes.js';
import type { World } from '../world.js';

export function tenantInformation(world: World, tenantId: string): Reply {
  const t = world.tenants.find((x) => x.id === tenantId);
  if (!t)
    return {
      status: 404,
      body: {
        error: { code: 'Request_ResourceNotFound', message: `Tenant '${tenantId}' was not found.` },
      },
    };
  return {
    status: 200,
    body: {
      '@odata.context':
        'https://graph.microsoft.com/v1.0/$metadata#microsoft.graph.tenantInformation',
      tenantId: t.id,
      displayName: t.displayName,
      defaultDomainName: t.domains[0] ?? '',
      federationBrandName: null,
    },
  };
}

export function graphRoutes(world: World): Route[] {
  return [
    {
      method: 'GET',
      path: /^\/v1\.0\/tenantRelationships\/findTenantInformationByTenantId\(tenantId='([^']+)'\)$/,
      handle: ({ params }) => tenantInformation(world, params[0]!),
    },
  ];
}
