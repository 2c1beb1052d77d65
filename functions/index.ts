// The app's one registration point: every trigger the host should know about (conventions §6).
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { backSyncInstanceId } from '../lib/domain/migration.js';
import { services } from '../lib/services.js';
import { accountMigration } from '../orchestrations/accountMigration.js';
import { backSync } from '../orchestrations/backSync.js';
import type { Activities, BackSyncInput } from '../orchestrations/names.js';
import { createActivities } from './activities/migration.js';
import {
  banner,
  cancelMigration,
  getMigration,
  listMigrations,
  migrationAudit,
  preflight,
  startMigration,
  submitMpn,
  submitWorkEmail,
} from './http/migrations.js';
import { health, openApi } from './http/system.js';

app.get('health', { route: 'health', authLevel: 'anonymous', handler: health });
app.get('openapi', { route: 'openapi.json', authLevel: 'anonymous', handler: openApi });

const account = 'accounts/{accountId}';
app.get('banner', { route: `${account}/banner`, authLevel: 'anonymous', handler: banner });
app.post('preflight', {
  route: `${account}/preflight`,
  authLevel: 'anonymous',
  handler: preflight,
});
df.app.client.http('startMigration', {
  route: `${account}/migration`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: startMigration,
});
app.get('getMigration', {
  route: `${account}/migration`,
  authLevel: 'anonymous',
  handler: getMigration,
});
df.app.client.http('submitWorkEmail', {
  route: `${account}/migration/work-email`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: submitWorkEmail,
});
df.app.client.http('submitMpn', {
  route: `${account}/migration/mpn`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: submitMpn,
});
df.app.client.http('cancelMigration', {
  route: `${account}/migration/cancel`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: cancelMigration,
});
app.get('migrationAudit', {
  route: `${account}/migration/audit`,
  authLevel: 'anonymous',
  handler: migrationAudit,
});
app.get('listMigrations', {
  route: 'admin/migrations',
  authLevel: 'anonymous',
  handler: listMigrations,
});

df.app.orchestration('accountMigration', accountMigration);
df.app.orchestration('backSync', backSync);

// Activities: built once over the real adapters; startBackSync reaches the Durable client of its invocation.
let handlers: ReturnType<typeof createActivities> | undefined;
const activities = (client?: df.DurableClient): ReturnType<typeof createActivities> => {
  const s = services();
  if (client) {
    return createActivities({
      ...s,
      async startBackSync(accountId) {
        const instanceId = backSyncInstanceId(accountId);
        const input: BackSyncInput = {
          accountId,
          until: s.config.CPP_RETIREMENT_DATE,
          intervalSeconds: s.config.BACKSYNC_INTERVAL_SECONDS,
        };
        const existing = await client.getStatus(instanceId).catch(() => undefined);
        if (
          !existing ||
          ['Completed', 'Failed', 'Terminated'].includes(String(existing.runtimeStatus))
        ) {
          await client.startNew('backSync', { instanceId, input });
        }
        return instanceId;
      },
    });
  }
  handlers ??= createActivities({
    ...s,
    startBackSync: () => Promise.reject(new Error('startBackSync needs a Durable client')),
  });
  return handlers;
};

const names: (keyof Activities)[] = [
  'loadAccount',
  'checkTenant',
  'checkMpn',
  'copyCategory',
  'verifyCopy',
  'closeGate',
  'switchOver',
  'notifyOwner',
  'recordStatus',
  'syncBack',
];
for (const name of names) {
  const handler = (input: unknown): Promise<unknown> =>
    (activities()[name] as (i: unknown) => Promise<unknown>)(input);
  df.app.activity(name, { handler });
}
df.app.activity('startBackSync', {
  extraInputs: [df.input.durableClient()],
  handler: (input: Activities['startBackSync']['in'], ctx) =>
    activities(df.getClient(ctx)).startBackSync(input),
});
