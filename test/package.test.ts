// What `func azure functionapp publish` would upload: the files .funcignore keeps, after `npm run build`.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ignore } from 'ignore';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Every file of the project folder, relative, with `/` (node_modules and .git left out of the walk). */
function projectFiles(dir = ''): string[] {
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = dir ? `${dir}/${e.name}` : e.name;
    if (e.isDirectory())
      return e.name === 'node_modules' || e.name === '.git' ? [] : projectFiles(rel);
    return [rel];
  });
}

// `ignore` is CommonJS typed as an ES default export: load it as the CommonJS module it is.
const ignore = createRequire(import.meta.url)('ignore') as () => Ignore;
const rules = ignore().add(readFileSync(path.join(root, '.funcignore'), 'utf8'));
const shipped = new Set(projectFiles().filter((f) => !rules.ignores(f)));
const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  dependencies: Record<string, string>;
};

/** The files the entry point reaches through relative imports, and the packages it imports by name. */
function importGraph(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) visit(path.posix.join(path.posix.dirname(file), spec));
      else
        packages.add(
          spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!,
        );
    }
  };
  visit(entry);
  return { files, packages };
}

describe('the publish package (.funcignore)', () => {
  it('holds host.json, package.json and the compiled app, and none of the tools, tests or sources', () => {
    expect(shipped.has('host.json')).toBe(true);
    expect(shipped.has('package.json')).toBe(true);
    expect(shipped.has(pkg.main)).toBe(true);
    const leaked = [...shipped].filter(
      (f) =>
        /^(devhost|sandbox|scripts|test|bench|dist-dev|\.azurite|\.devhost)\//.test(f) ||
        f.endsWith('.ts') ||
        f === 'local.settings.json',
    );
    expect(leaked).toEqual([]);
  });

  it('lets the entry point load: every file it imports is shipped, every package is a production dependency', () => {
    const { files, packages } = importGraph(pkg.main);
    expect(files.size).toBeGreaterThan(10);
    expect([...files].filter((f) => !shipped.has(f))).toEqual([]);
    const builtins = new Set(builtinModules);
    const missing = [...packages].filter(
      (p) => !p.startsWith('node:') && !builtins.has(p) && !(p in pkg.dependencies),
    );
    expect(missing).toEqual([]);
  });
});
