#!/usr/bin/env node
// The `devhost` command (`npx devhost --script-root .`): runs the compiled CLI in ../dist (`npm run build`).
import process from 'node:process';

const cli = await import('../dist/cli.js').catch((e) => {
  process.stderr.write(
    `devhost: not built yet (${e.message.split('\n')[0]}); run the build first.\n`,
  );
  process.exit(1);
});
cli.main(process.argv.slice(2)).then((host) => cli.closeOnSignals(() => host.close()), cli.fail);
