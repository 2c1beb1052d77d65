// bench:durable — the local host's Durable engine on Azurite: throughput, fan-out, storage requests.
// Prints figures; the last line is one JSON object.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzurite } from '../devhost/azurite.js';
import { durableExtension, durableOf } from '../devhost/durable/index.js';
import { startHost } from '../devhost/host.js';
import { storageRequests } from '../devhost/storage.js';
import { TERMINAL_STATUSES } from '../devhost/durable/types.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ORCHESTRATIONS = Number(process.env.BENCH_ORCHESTRATIONS ?? 1000);
const FAN_OUT = Number(process.env.BENCH_FAN_OUT ?? 1000);

async function main(): Promise<void> {
  const azurite = await startAzurite();
  process.env.AzureWebJobsStorage = azurite.connectionString;
  const host = await startHost({
    scriptRoot: path.join(root, 'bench', 'app'),
    port: 0,
    logSink: { write() {} },
    extensions: [durableExtension],
  });
  const engine = durableOf(host)!.engine;
  try {
    console.log(`bench:durable — node ${process.version}, Azurite in memory`);

    // (a) many orchestrations of five sequential activities, all started at once.
    const before = storageRequests.count;
    const errorsBefore = storageRequests.networkErrors;
    let t = performance.now();
    const ids = await Promise.all(
      Array.from({ length: ORCHESTRATIONS }, (_, i) => engine.start('sequence5', `seq-${i}`, i)),
    );
    const outputs = await Promise.all(
      ids.map((id) => engine.waitFor(id, TERMINAL_STATUSES, 600_000)),
    );
    const seqSeconds = (performance.now() - t) / 1000;
    const wrong = outputs.filter(
      (s, i) => s?.runtimeStatus !== 'Completed' || s.output !== i + 5,
    ).length;
    const ops = storageRequests.count - before;
    const networkErrors = storageRequests.networkErrors - errorsBefore;
    const orchestrationsPerSecond = ORCHESTRATIONS / seqSeconds;
    const storageOpsPerActivity = ops / (ORCHESTRATIONS * 5);
    console.log(
      `(a) ${ORCHESTRATIONS} × 5 sequential activities: ${seqSeconds.toFixed(2)} s, ${orchestrationsPerSecond.toFixed(1)} orchestrations/s${wrong ? `, ${wrong} WRONG` : ''}`,
    );
    console.log(
      `(c) storage requests: ${ops} for ${ORCHESTRATIONS * 5} activity calls = ${storageOpsPerActivity.toFixed(2)} per activity call, ${networkErrors} without an answer (retried)`,
    );

    // (b) one orchestration fanning out.
    t = performance.now();
    const fan = await engine.start('fanOut', 'fan-out', FAN_OUT);
    const fanStatus = await engine.waitFor(fan, TERMINAL_STATUSES, 600_000);
    const fanSeconds = (performance.now() - t) / 1000;
    const expected = (FAN_OUT * (FAN_OUT + 1)) / 2;
    console.log(
      `(b) fan-out of ${FAN_OUT}: ${fanSeconds.toFixed(2)} s (${fanStatus?.runtimeStatus}, ${fanStatus?.output === expected ? 'correct sum' : 'WRONG sum'})`,
    );
    console.log(
      JSON.stringify({
        orchestrationsPerSecond: Number(orchestrationsPerSecond.toFixed(1)),
        fanOut1000Seconds: Number(fanSeconds.toFixed(2)),
        storageOpsPerActivity: Number(storageOpsPerActivity.toFixed(2)),
        storageNetworkErrors: networkErrors,
      }),
    );
  } finally {
    await host.close();
    await azurite.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
