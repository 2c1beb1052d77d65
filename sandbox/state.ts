// The sandbox's world state: the world file as the base, the changes made to it kept in Table storage (one
// row per item, so a world of 100,000 accounts starts at once), the request cache and the counters.
import { TableClient, type TransactionAction } from '@azure/data-tables';
import { canonical, fail, page, pcError, sha, type Json } from './http.js';
import type { World, WorldAccount } from './world.js';

export interface User {
  email: string;
  role: string;
}
export interface Offer {
  id: string;
  [k: string]: unknown;
}
export const DOCS = ['publishing-agreement', 'company-profile', 'payout-profile'] as const;
export type Doc = (typeof DOCS)[number];

export interface CppState {
  account: Omit<
    WorldAccount,
    'users' | 'offers' | 'publishingAgreement' | 'companyProfile' | 'payoutProfile'
  > & { readOnly: boolean; version: number };
  users: Map<string, User>;
  offers: Map<string, Offer>;
  docs: Map<Doc, Json>;
}
export interface PcState {
  state: 'provisioning' | 'live';
  partnerCenterUrl?: string;
  users: Map<string, User>;
  offers: Map<string, Offer>;
  docs: Map<Doc, { body: Json; etag: string }>;
}

export const byEmail = (a: User, b: User): number =>
  a.email < b.email ? -1 : a.email > b.email ? 1 : 0;
export const byId = (a: Offer, b: Offer): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Counts and content hashes of a Partner Center account, as the summary route answers them. */
export function summaryOf(s: PcState): Json {
  const doc = (c: Doc): unknown => s.docs.get(c)?.body;
  const users = [...s.users.values()].sort(byEmail);
  const offers = [...s.offers.values()].sort(byId);
  return {
    counts: {
      publishingAgreement: s.docs.has('publishing-agreement') ? 1 : 0,
      companyProfile: s.docs.has('company-profile') ? 1 : 0,
      payoutProfile: s.docs.has('payout-profile') ? 1 : 0,
      users: users.length,
      offers: offers.length,
    },
    hashes: {
      publishingAgreement: sha(canonical(doc('publishing-agreement'))),
      companyProfile: sha(canonical(doc('company-profile'))),
      payoutProfile: sha(canonical(doc('payout-profile'))),
      users: sha(canonical(users)),
      offers: sha(canonical(offers)),
    },
  };
}

/** A Table storage row key for any string. */
export const rk = (s: string): string => encodeURIComponent(s).replace(/'/g, '%27');
export const put = (pk: string, key: string, value: unknown): TransactionAction => [
  'upsert',
  { partitionKey: pk, rowKey: key, Json: JSON.stringify(value) },
  'Replace',
];
const del = (pk: string, key: string): TransactionAction => [
  'delete',
  { partitionKey: pk, rowKey: key },
];

export class SandboxState {
  readonly table: TableClient;
  readonly cpp = new Map<string, CppState>();
  readonly pc = new Map<string, PcState>();
  /** billing profile completeness set through `/dev/billing`, by MPN ID (over the world's) */
  readonly billing = new Map<string, boolean>();
  /** MS-RequestId results, by request key */
  readonly requests = new Map<string, { status: number; body: unknown }>();
  readonly stats = { writes: {} as Record<string, number>, deduplicated: 0 };
  /** Every request outside /dev/, as `METHOD /path` in arrival order (GET /dev/calls). */
  readonly calls: string[] = [];
  /** CPP's change counter: every change gives its account the next version. */
  cppVersion = 0;
  #byVersion: CppState[] | undefined;

  constructor(
    readonly world: World,
    storage: string,
    tableName = 'Sandbox',
  ) {
    const insecure =
      /UseDevelopmentStorage=true|DefaultEndpointsProtocol=http(;|$)|TableEndpoint=http:/i.test(
        storage,
      );
    this.table = TableClient.fromConnectionString(
      storage,
      tableName,
      insecure ? { allowInsecureConnection: true } : {},
    );
  }

  /** Loads the stored changes over the world; a world of another name starts afresh. */
  async open(): Promise<void> {
    await this.table.createTable();
    const meta = await this.table
      .getEntity<{ Name: string }>('meta', 'world')
      .catch(() => undefined);
    if (meta?.Name !== this.world.name) await this.#seed();
    await this.#load();
  }

  /** `POST /dev/reset`: the world as the file has it, every change and counter gone. */
  async reset(): Promise<void> {
    await this.#seed();
    await this.#load();
    this.requests.clear();
    this.calls.length = 0;
    this.stats.writes = {};
    this.stats.deduplicated = 0;
  }

  async #seed(): Promise<void> {
    const old = new Map<string, TransactionAction[]>();
    for await (const e of this.table.listEntities({
      queryOptions: { select: ['PartitionKey', 'RowKey'] },
    })) {
      const pk = String(e.partitionKey);
      if (pk === 'meta') continue;
      old.set(pk, [...(old.get(pk) ?? []), del(pk, String(e.rowKey))]);
    }
    for (const [pk, ops] of old) await this.batch(pk, ops);
    await this.table.upsertEntity(
      { partitionKey: 'meta', rowKey: 'world', Name: this.world.name },
      'Replace',
    );
  }

  /** The world's CPP accounts as the file has them; versions follow the file's order. */
  #fromWorld(): void {
    this.world.cppAccounts.forEach((a, i) => {
      const { users, offers, publishingAgreement, companyProfile, payoutProfile, ...account } = a;
      this.cpp.set(a.id, {
        account: { ...account, readOnly: a.migrated, version: i + 1 },
        users: new Map(
          users.map((u) => [u.email.toLowerCase(), { email: u.email.toLowerCase(), role: u.role }]),
        ),
        offers: new Map(offers.map((o) => [o.id, { ...o }])),
        docs: new Map<Doc, Json>([
          ['publishing-agreement', publishingAgreement],
          ['company-profile', companyProfile],
          ['payout-profile', payoutProfile],
        ]),
      });
    });
  }

  async #load(): Promise<void> {
    this.cpp.clear();
    this.pc.clear();
    this.billing.clear();
    this.#fromWorld();
    for await (const e of this.table.listEntities<{ Json?: string }>()) {
      const pk = String(e.partitionKey);
      if (!e.Json) continue;
      const value = JSON.parse(e.Json) as Json;
      const [kind, id = ''] = pk.split('~');
      if (kind === 'cpp') this.#loadCpp(id, String(e.rowKey), value);
      else if (kind === 'pc') this.#loadPc(id, String(e.rowKey), value);
      else if (kind === 'mpn' && e.rowKey === 'billing')
        this.billing.set(id, (value as { complete: boolean }).complete);
      else if (pk === 'req')
        this.requests.set(String(e.rowKey), value as { status: number; body: unknown });
    }
    this.cppVersion = [...this.cpp.values()].reduce(
      (max, c) => Math.max(max, c.account.version ?? 0),
      0,
    );
    this.#byVersion = undefined;
  }

  #loadCpp(id: string, key: string, value: Json): void {
    const s = this.cpp.get(id) ?? {
      account: undefined as unknown as CppState['account'],
      users: new Map(),
      offers: new Map(),
      docs: new Map(),
    };
    this.cpp.set(id, s);
    if (key === 'account') s.account = value as CppState['account'];
    else if (key.startsWith('user~')) {
      const u = value as unknown as User & { deleted?: boolean };
      if (u.deleted) s.users.delete(u.email);
      else s.users.set(u.email, u);
    } else if (key.startsWith('offer~')) s.offers.set(String(value.id), value);
    else if (key.startsWith('doc~')) s.docs.set(key.slice(4), value);
  }

  #loadPc(id: string, key: string, value: Json): void {
    const s = this.pc.get(id) ?? {
      state: 'provisioning' as const,
      users: new Map(),
      offers: new Map(),
      docs: new Map(),
    };
    this.pc.set(id, s);
    if (key === 'account') Object.assign(s, value);
    else if (key.startsWith('user~'))
      s.users.set((value as unknown as User).email, value as unknown as User);
    else if (key.startsWith('offer~')) s.offers.set(String(value.id), value as Offer);
    else if (key.startsWith('doc~'))
      s.docs.set(key.slice(4) as Doc, value as unknown as { body: Json; etag: string });
  }

  /** Writes rows of one partition, a transaction per 100. */
  async batch(pk: string, ops: TransactionAction[]): Promise<void> {
    for (let i = 0; i < ops.length; i += 100)
      await this.table.submitTransaction(ops.slice(i, i + 100));
  }

  countWrite(account: string, category: string, n = 1): void {
    const k = `${account}/${category}`;
    this.stats.writes[k] = (this.stats.writes[k] ?? 0) + n;
  }

  /** Marks a CPP account changed, for the account listing's `since`; the row goes with the change. */
  touch(s: CppState): TransactionAction {
    s.account = { ...s.account, version: ++this.cppVersion };
    this.#byVersion = undefined;
    return put(`cpp~${s.account.id}`, 'account', s.account);
  }

  /** CPP accounts, oldest change first (cached until the next change). */
  byVersion(): CppState[] {
    this.#byVersion ??= [...this.cpp.values()].sort(
      (a, b) => a.account.version - b.account.version,
    );
    return this.#byVersion;
  }

  cppAccount(id: string): CppState {
    const s = this.cpp.get(id);
    if (!s) throw fail(404, 'account-not-found', `No CPP account ${id}.`);
    return s;
  }

  pcAccount(id: string, create: boolean): PcState {
    let s = this.pc.get(id);
    if (!s) {
      if (!create) throw pcError(404, 3000, `Account ${id} could not be found`);
      s = { state: 'provisioning', users: new Map(), offers: new Map(), docs: new Map() };
      this.pc.set(id, s);
    }
    return s;
  }

  savePcAccount(id: string, s: PcState): TransactionAction {
    return put(`pc~${id}`, 'account', {
      state: s.state,
      ...(s.partnerCenterUrl ? { partnerCenterUrl: s.partnerCenterUrl } : {}),
    });
  }

  /** Sets an MPN ID's billing profile completeness (`/dev/billing`), kept like every other change. */
  async setBilling(mpnId: string, complete: boolean): Promise<void> {
    await this.batch(`mpn~${mpnId}`, [put(`mpn~${mpnId}`, 'billing', { complete })]);
    this.billing.set(mpnId, complete);
  }

  async meta(key: string): Promise<string | undefined> {
    const row = await this.table.getEntity<{ Json: string }>('meta', key).catch(() => undefined);
    return row?.Json;
  }

  async setMeta(key: string, json: string): Promise<void> {
    await this.table.upsertEntity({ partitionKey: 'meta', rowKey: key, Json: json }, 'Replace');
  }
}

/** A page of an account's users (by e-mail) or offers (by id), in the order the summary hashes use. */
export function listing(
  s: { users: Map<string, User>; offers: Map<string, Offer> },
  kind: 'users' | 'offers',
  q: URLSearchParams,
): { items: unknown[]; continuationToken?: string } {
  return page<unknown>(
    kind === 'users' ? [...s.users.values()].sort(byEmail) : [...s.offers.values()].sort(byId),
    q,
  );
}
