// Loads a v4 app's entry points the way the Node worker does (package.json `main`, a glob).
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { glob, isDynamicPattern } from 'tinyglobby';
import type { CoreState } from './core.js';
import { StartupError } from './errors.js';

interface PackageJson {
  main?: unknown;
  type?: unknown;
}

/** Finds the entry points named by `main` (default `index.js`), in the order they will load. */
export async function resolveEntryPoints(root: string): Promise<{ files: string[]; esm: boolean }> {
  let pkg: PackageJson;
  try {
    pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as PackageJson;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StartupError(`No package.json in ${root}: is --script-root the app's folder?`);
    }
    throw new StartupError(`${path.join(root, 'package.json')}: ${(e as Error).message}`);
  }
  const main = typeof pkg.main === 'string' && pkg.main ? pkg.main : 'index.js';
  const esm = pkg.type === 'module';
  if (isDynamicPattern(main)) {
    const files = await glob(main, { cwd: root, absolute: true, onlyFiles: true });
    if (files.length === 0) {
      throw new StartupError(
        `Found zero files matching the supplied pattern "${main}" (package.json "main") in ${root}; did you build the app?`,
      );
    }
    return { files, esm };
  }
  const file = path.resolve(root, main);
  try {
    if (!(await stat(file)).isFile()) throw new Error('not a file');
  } catch {
    throw new StartupError(
      `File ${file} does not exist (package.json "main" is "${main}"); did you build the app?`,
    );
  }
  return { files: [file], esm };
}

/**
 * Loads each entry point in turn (`.mjs` and `"type":"module"` by import, `.cjs` and others by
 * require), recording the current file so registrations carry `scriptFile` like the worker's.
 */
export async function loadEntryPoints(root: string, core: CoreState): Promise<string[]> {
  const { files, esm } = await resolveEntryPoints(root);
  const requireFromRoot = createRequire(path.join(root, 'package.json'));
  for (const file of files) {
    core.currentFile = file;
    try {
      const ext = path.extname(file);
      if (ext === '.mjs' || (ext !== '.cjs' && esm)) await import(pathToFileURL(file).href);
      else requireFromRoot(file);
    } catch (e) {
      const err = e as Error;
      throw new StartupError(
        `Worker was unable to load entry point "${path.relative(root, file)}": ${err.message}`,
      );
    } finally {
      core.currentFile = undefined;
    }
  }
  return files;
}
