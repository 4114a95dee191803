/**
 * CONVENTIONS.md §1–2: runnable packages depend on libraries, never the
 * reverse, and nothing reaches into another package's `src/`. Checked on the
 * import graph of every source file, so a wrong import fails the build.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const packagesDir = join(root, 'packages');

/** Which of our packages each package may import. Libraries import none of ours but each other as listed. */
const allowed: Record<string, string[]> = {
  protocol: [],
  crypto: [],
  ledger: [],
  // The messaging device client, shared by the CLI and the web client: a library.
  chat: ['protocol', 'crypto'],
  server: ['protocol', 'crypto', 'ledger', 'dns'],
  cli: ['protocol', 'crypto', 'ledger', 'chat'],
  dns: ['protocol', 'crypto'],
  mail: ['protocol', 'crypto'],
  web: ['protocol', 'crypto', 'ledger', 'chat'],
};

/** The subpaths a package's `exports` declares besides "." (its public API, CONVENTIONS.md §2). */
function exportedSubpaths(name: string): string[] {
  try {
    const manifest = JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8')) as {
      exports?: Record<string, unknown>;
    };
    return Object.keys(manifest.exports ?? {})
      .filter((key) => key.startsWith('./'))
      .map((key) => key.slice(2));
  } catch {
    return [];
  }
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.(ts|tsx|js|mjs)$/.test(entry.name) ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers: string[] = [];
  const pattern =
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm;
  for (const match of text.matchAll(pattern)) {
    const spec = match[1] ?? match[2] ?? match[3];
    if (spec) specifiers.push(spec);
  }
  return specifiers;
}

function violations(): string[] {
  const found: string[] = [];
  const packages = readdirSync(packagesDir, { withFileTypes: true }).filter((d) => d.isDirectory());
  for (const pkg of packages) {
    const pkgDir = join(packagesDir, pkg.name);
    const may = allowed[pkg.name];
    if (!may) {
      found.push(`packages/${pkg.name} has no row in the import-direction table`);
      continue;
    }
    for (const file of sourceFiles(pkgDir)) {
      const where = relative(root, file);
      for (const spec of importsOf(file)) {
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          // Unit tests may use the shared test helpers (real servers, databases).
          if (file.endsWith('.test.ts') && target.startsWith(join(root, 'test', 'support') + sep))
            continue;
          if (!target.startsWith(pkgDir + sep))
            found.push(`${where}: relative import leaves its package: ${spec}`);
        } else if (spec.startsWith('@bulwark/')) {
          const [name = '', ...rest] = spec.slice('@bulwark/'.length).split('/');
          if (!may.includes(name))
            found.push(`${where}: packages/${pkg.name} may not import @bulwark/${name}`);
          if (rest.length > 0 && !exportedSubpaths(name).includes(rest.join('/')))
            found.push(`${where}: deep import into another package: ${spec}`);
        }
      }
    }
  }
  return found;
}

describe('import direction', () => {
  it('libraries import no runnable package; no package reaches into another', () => {
    assert.deepEqual(violations(), []);
  });

  it('the scanner sees the imports it must judge', () => {
    const serverMain = join(packagesDir, 'server', 'src', 'http', 'app.ts');
    assert.ok(importsOf(serverMain).includes('../policy/actions.ts'));
    const cliClient = sourceFiles(join(packagesDir, 'cli', 'src')).flatMap(importsOf);
    assert.ok(cliClient.includes('@bulwark/protocol'), 'the CLI imports the protocol package');
    assert.ok(cliClient.includes('@bulwark/chat'), 'the CLI imports the chat core');
  });

  it('the chat core stays platform-neutral: no Node built-ins outside its tests', () => {
    const found = sourceFiles(join(packagesDir, 'chat', 'src'))
      .filter((file) => !file.endsWith('.test.ts') && !file.includes(`${sep}test-support${sep}`))
      .flatMap((file) =>
        importsOf(file)
          .filter((spec) => spec.startsWith('node:') || spec === 'ws')
          .map((spec) => `${relative(root, file)}: ${spec}`),
      );
    assert.deepEqual(found, []);
  });
});
