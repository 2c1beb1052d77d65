// `npm start`: embedded Azurite (unless AzureWebJobsStorage points elsewhere), the sandbox, then the app on
// the local host (with Durable and queues), each told where the others listen. The composition of the dev tools
// lives here, outside devhost/ and sandbox/, which know nothing of each other's start-up.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAzurite, type RunningAzurite } from '../devhost/azurite.js';
import { closeOnSignals, fail, hostOptions, parseCli } from '../devhost/cli.js';
import { startHost } from '../devhost/host.js';
import { loadLocalSettings } from '../devhost/settings.js';
import { appSettingsFor, runSandbox } from '../sandbox/cli.js';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function main(): Promise<void> {
  const opts = parseCli(process.argv.slice(2), projectRoot);
  const settings = await loadLocalSettings(opts.scriptRoot);
  const userStorage = process.env.AzureWebJobsStorage || settings.values.AzureWebJobsStorage;
  let azurite: RunningAzurite | undefined;
  if (!userStorage || /^UseDevelopmentStorage=true$/i.test(userStorage.trim())) {
    const location = path.join(projectRoot, '.azurite');
    azurite = await startAzurite({ location, preferDefaultPorts: true });
    process.env.AzureWebJobsStorage = azurite.connectionString;
    process.stdout.write(
      `Azurite: table http://127.0.0.1:${azurite.tablePort}, queue :${azurite.queuePort}, blob :${azurite.blobPort} (data in ${location})\n`,
    );
  } else {
    process.stdout.write(
      'Storage: using AzureWebJobsStorage from the environment / local.settings.json\n',
    );
  }
  let sandbox: Awaited<ReturnType<typeof runSandbox>> | undefined;
  try {
    sandbox = await runSandbox([], process.env);
    // The app reaches the partner services and the token issuer at the sandbox unless told otherwise.
    for (const [key, value] of Object.entries(appSettingsFor(sandbox.url)))
      process.env[key] ??= value;
    process.stdout.write(`Sandbox: ${sandbox.url} (tokens: POST ${sandbox.url}/dev/token)\n`);
    const host = await startHost(hostOptions(opts));
    process.stdout.write(
      `App: ${host.baseUrl}/api (health: ${host.baseUrl}/api/health)\nPress Ctrl-C to stop.\n`,
    );
    closeOnSignals(async () => {
      await host.close();
      await sandbox?.close();
      await azurite?.stop();
    });
  } catch (e) {
    await sandbox?.close();
    await azurite?.stop();
    throw e;
  }
}

main().catch(fail);
