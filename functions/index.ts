// The app's one registration point: every trigger the host should know about (conventions §6).
import { app } from '@azure/functions';
import * as df from 'durable-functions';
import { config } from '../lib/config.js';
import { backSyncInstanceId } from '../lib/domain/migration.js';
import { services } from '../lib/services.js';
import { accountMigration } from '../orchestrations/accountMigration.js';
import { backSync } from '../orchestrations/backSync.js';
import { d365Checklist, d365Offer } from '../orchestrations/d365Checklist.js';
import type {
  Activities,
  BackSyncInput,
  D365Activities,
  ReminderActivities,
} from '../orchestrations/names.js';
import { reminderSweep } from '../orchestrations/reminderSweep.js';
import { createD365Activities } from './activities/d365.js';
import { createActivities } from './activities/migration.js';
import { attestStep, getChecklist, goLive, startChecklist } from './http/d365.js';
import { createReminderActivities } from './activities/reminders.js';
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
import { deadlineReminders, listReminders, outboxSender, runReminders } from './http/reminders.js';
import { health, openApi, unmatchedRoute } from './http/system.js';

// A bad setting (a deadline zone that is not IANA, say) stops the app at load with one line naming it.
config();

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

// R-D365: the Dynamics 365 / PowerApps checklist.
app.get('getChecklist', {
  route: `${account}/d365`,
  authLevel: 'anonymous',
  handler: getChecklist,
});
df.app.client.http('startChecklist', {
  route: `${account}/d365`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: startChecklist,
});
df.app.client.http('attestStep', {
  route: `${account}/d365/attest`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: attestStep,
});
df.app.client.http('goLive', {
  route: `${account}/d365/offers/{offerId}/go-live`,
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: goLive,
});

app.get('listReminders', {
  route: `${account}/reminders`,
  authLevel: 'anonymous',
  handler: listReminders,
});
df.app.client.http('runReminders', {
  route: 'admin/reminders/run',
  methods: ['POST'],
  authLevel: 'anonymous',
  handler: runReminders,
});

// R-DUE-2: the day's reminder sweep, and the retries of mail the service refused.
df.app.client.timer('deadlineReminders', {
  schedule: '%REMINDER_SCHEDULE%',
  handler: deadlineReminders,
});
app.timer('outboxSender', { schedule: '%OUTBOX_SCHEDULE%', handler: outboxSender });

// The catch-all: any other path or method under /api gets the contract's error envelope. Its name sorts
// after every other function's, because the host tries routes in function-name order.
app.http('zzzUnmatchedRoute', {
  route: '{*rest}',
  methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'],
  authLevel: 'anonymous',
  handler: unmatchedRoute,
});

df.app.orchestration('accountMigration', accountMigration);
df.app.orchestration('backSync', backSync);
df.app.orchestration('reminderSweep', reminderSweep);
df.app.orchestration('d365Checklist', d365Checklist);
df.app.orchestration('d365Offer', d365Offer);

/** Registers each named activity, built lazily by `handlers` (the factories need the configuration). */
function registerActivities<H extends Record<string, unknown>>(
  names: readonly (keyof H & string)[],
  handlers: () => H,
): void {
  for (const name of names) {
    df.app.activity(name, {
      handler: (input: unknown): Promise<unknown> =>
        (handlers()[name] as (i: unknown) => Promise<unknown>)(input),
    });
  }
}

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
registerActivities(names, () => activities());
df.app.activity('startBackSync', {
  extraInputs: [df.input.durableClient()],
  handler: (input: Activities['startBackSync']['in'], ctx) =>
    activities(df.getClient(ctx)).startBackSync(input),
});

let reminderHandlers: ReturnType<typeof createReminderActivities> | undefined;
const reminders = (): ReturnType<typeof createReminderActivities> => {
  const s = services();
  reminderHandlers ??= createReminderActivities({
    subjects: s.subjects,
    outbox: s.outbox,
    cpp: s.cpp,
    schedule: s.schedule,
    portalUrl: s.config.PORTAL_URL,
    log: (line) => console.info(line),
  });
  return reminderHandlers;
};
const reminderNames: (keyof ReminderActivities)[] = [
  'refreshSubjects',
  'remindPage',
  'deliverMail',
];
registerActivities(reminderNames, reminders);

let d365Handlers: ReturnType<typeof createD365Activities> | undefined;
const d365 = (): ReturnType<typeof createD365Activities> => {
  const s = services();
  d365Handlers ??= createD365Activities({
    cpp: s.cpp,
    partnerCenter: s.partnerCenter,
    ingestion: s.ingestion,
    store: s.store,
    checklists: s.checklists,
    subjects: s.subjects,
    schedule: s.schedule,
  });
  return d365Handlers;
};
const d365Names: (keyof D365Activities)[] = [
  'd365Facts',
  'd365OfferPlatform',
  'd365CreateProduct',
  'd365Submit',
  'd365Certification',
  'd365Promote',
  'd365Record',
];
registerActivities(d365Names, d365);
