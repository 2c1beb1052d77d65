// The sandbox's world file (`sandbox-world/v1`, sandbox-world.md): validated strictly, refused with the path of the bad value.
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

export class WorldError extends Error {}

export const OFFER_KINDS = [
  'saas',
  'azure-app',
  'virtual-machine',
  'managed-app',
  'container',
  'dynamics-365-customer-engagement',
  'powerapps',
  'dynamics-365-operations',
  'dynamics-365-business-central',
] as const;

const email = z.email();
const offer = z.strictObject({
  id: z.string().min(1),
  name: z.string().min(1),
  kind: z.enum(OFFER_KINDS),
  status: z.enum(['live', 'draft', 'deprecated']),
  inAppSource: z.boolean(),
  supportsLatestPlatform: z.boolean(),
  /** the sandbox's ingestion API fails this offer's first certification (then passes it) */
  failsCertificationOnce: z.boolean().optional(),
});
const account = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  displayName: z.string().min(1),
  signIn: z.enum(['work', 'msa']),
  tenantId: z.string().nullable(),
  mpnId: z.string().nullable(),
  migrated: z.boolean(),
  partnerCenterUrl: z.string().optional(),
  workEmailHint: email.optional(),
  /** the language owner mail is written in (English when absent) */
  language: z.enum(['en', 'nl']).optional(),
  users: z.array(z.strictObject({ email, role: z.enum(['owner', 'manager', 'developer']) })).min(1),
  publishingAgreement: z.record(z.string(), z.unknown()),
  companyProfile: z.record(z.string(), z.unknown()),
  payoutProfile: z.record(z.string(), z.unknown()),
  offers: z.array(offer),
});
export const worldSchema = z.strictObject({
  $schema: z.literal('sandbox-world/v1'),
  name: z.string().regex(/^[A-Za-z0-9-]{1,40}$/),
  consumerTenantId: z.string().min(1),
  consumerDomains: z.array(z.string().min(1)),
  tenants: z.array(
    z.strictObject({
      id: z.string().min(1),
      displayName: z.string().min(1),
      domains: z.array(z.string().min(1)),
    }),
  ),
  mpn: z.array(
    z.strictObject({
      mpnId: z.string().regex(/^\d{6,10}$/),
      tenantId: z.string().min(1),
      partnerName: z.string().min(1),
      certificate: z.enum(['valid', 'expired', 'revoked']),
      pmcMigrated: z.boolean(),
      marketplaceEnrolled: z.boolean(),
      isvAddendumAccepted: z.boolean(),
      billingComplete: z.boolean(),
    }),
  ),
  cppAccounts: z.array(account),
  admins: z.array(email),
});
export type World = z.infer<typeof worldSchema>;
export type WorldAccount = World['cppAccounts'][number];

function pathText(path: PropertyKey[]): string {
  return (
    path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i ? '.' : ''}${String(p)}`))
      .join('') || '(root)'
  );
}

/** Validates a parsed world; references (tenants, MPN IDs, owners, unique ids) are checked too. */
export function validateWorld(json: unknown, source = 'world'): World {
  const parsed = worldSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new WorldError(`${source}: ${pathText(i.path)}: ${i.message}`);
  }
  const w = parsed.data;
  const tenants = new Set(w.tenants.map((t) => t.id));
  const mpns = new Set(w.mpn.map((m) => m.mpnId));
  const ids = new Set<string>();
  w.mpn.forEach((m, i) => {
    if (!tenants.has(m.tenantId))
      throw new WorldError(`${source}: mpn[${i}].tenantId: no tenant ${m.tenantId}`);
  });
  w.cppAccounts.forEach((a, i) => {
    const at = `${source}: cppAccounts[${i}]`;
    if (ids.has(a.id)) throw new WorldError(`${at}.id: "${a.id}" is used twice`);
    ids.add(a.id);
    if (a.tenantId && !tenants.has(a.tenantId))
      throw new WorldError(`${at}.tenantId: no tenant ${a.tenantId}`);
    if (a.mpnId && !mpns.has(a.mpnId)) throw new WorldError(`${at}.mpnId: no MPN ID ${a.mpnId}`);
    if (!a.users.some((u) => u.role === 'owner'))
      throw new WorldError(`${at}.users: the account has no owner`);
  });
  return w;
}

export async function loadWorld(file: string): Promise<World> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new WorldError(`${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new WorldError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  return validateWorld(json, file);
}
