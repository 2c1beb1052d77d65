// backSync: an eternal orchestration per migrated account (R-COPY-4): until the CPP retirement date, users
// added or removed in Partner Center are applied to the read-only CPP account, then it sleeps and renews.
import type * as df from 'durable-functions';
import { callActivity, type BackSyncInput } from './names.js';

export function* backSync(
  ctx: df.OrchestrationContext,
): Generator<df.Task, string | undefined, unknown> {
  const input = ctx.df.getInput<BackSyncInput>();
  const now = ctx.df.currentUtcDateTime;
  if (now.getTime() >= Date.parse(input.until)) return 'retired';
  yield callActivity(ctx, 'syncBack', { accountId: input.accountId, round: now.toISOString() });
  yield ctx.df.createTimer(new Date(now.getTime() + input.intervalSeconds * 1000));
  // A fresh history each round keeps replays short however long the account is synced.
  ctx.df.continueAsNew(input);
  return undefined;
}
