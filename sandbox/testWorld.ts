// A small valid world for the sandbox's unit tests.
import { validateWorld, type World } from './world.js';

export const CONTOSO = '6513270e-269e-4d37-b2a7-4de452e6b438';
export const CONSUMER = '9188040d-6c67-4c5b-b112-36a304b66dad';

export function testWorld(): World {
  return validateWorld({
    $schema: 'sandbox-world/v1',
    name: 'unit',
    consumerTenantId: CONSUMER,
    consumerDomains: ['outlook.com'],
    tenants: [{ id: CONTOSO, displayName: 'Contoso Ltd', domains: ['contoso.com', 'Contoso.NL'] }],
    mpn: [
      {
        mpnId: '1234567',
        tenantId: CONTOSO,
        partnerName: 'Contoso Ltd',
        certificate: 'valid',
        pmcMigrated: true,
        marketplaceEnrolled: true,
        isvAddendumAccepted: false,
        billingComplete: true,
      },
    ],
    cppAccounts: [],
    admins: [],
  });
}
