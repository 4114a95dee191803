/**
 * The web client's first screen must stay light on a poor mobile network:
 * its JavaScript, gzipped, under 250 kB. Measured on the production build
 * (`npm test` builds first) from Vite's manifest: the entry and everything
 * it imports statically, plus the lazily loaded chunk of the signed-in
 * start page and its own static imports. Heavy parts (MLS for chat, the
 * ledger verifier) must stay behind dynamic imports.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../support/process.ts';

interface ManifestChunk {
  file: string;
  src?: string;
  isEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}

const dist = join(repoRoot, 'packages/web/dist');
const budget = 250_000;

function load(): Record<string, ManifestChunk> {
  const path = join(dist, '.vite/manifest.json');
  assert.ok(existsSync(path), 'packages/web/dist is missing: run `npm run build` (npm test does)');
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, ManifestChunk>;
}

/** The files a chunk needs before it runs: itself and its static imports, transitively. */
function staticClosure(manifest: Record<string, ManifestChunk>, keys: string[]): Set<string> {
  const files = new Set<string>();
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const chunk = manifest[key];
    assert.ok(chunk, `manifest has no chunk ${key}`);
    files.add(chunk.file);
    for (const next of chunk.imports ?? []) visit(next);
  };
  for (const key of keys) visit(key);
  return files;
}

const gzipped = (files: Iterable<string>) =>
  [...files].reduce(
    (sum, file) => sum + gzipSync(readFileSync(join(dist, file)), { level: 9 }).length,
    0,
  );

it('the first screen loads under 250 kB of gzipped JavaScript', (t) => {
  const manifest = load();
  const entry = Object.entries(manifest).find(([, c]) => c.isEntry && c.src === 'index.html');
  assert.ok(entry, 'no index.html entry in the manifest');
  const home = Object.keys(manifest).find((k) => k.endsWith('features/directory/HomePage.tsx'));
  assert.ok(home, 'the start page is its own chunk');

  const signIn = gzipped(staticClosure(manifest, [entry[0]]));
  const signedIn = gzipped(staticClosure(manifest, [entry[0], home]));
  t.diagnostic(`sign-in screen: ${(signIn / 1000).toFixed(1)} kB gzipped JavaScript`);
  t.diagnostic(`signed-in start page: ${(signedIn / 1000).toFixed(1)} kB gzipped JavaScript`);
  assert.ok(signIn < budget, `sign-in screen ${signIn} bytes > ${budget}`);
  assert.ok(signedIn < budget, `start page ${signedIn} bytes > ${budget}`);

  // The heavy parts stay out of it.
  const firstFiles = [...staticClosure(manifest, [entry[0], home])];
  const firstSource = firstFiles.map((f) => readFileSync(join(dist, f), 'utf8')).join('\n');
  assert.doesNotMatch(firstSource, /MLS_10_128|mls10/i, 'MLS code leaked into the first screen');
});

it('the build precaches its shell in the service worker and ships the manifest icons', () => {
  const sw = readFileSync(join(dist, 'sw.js'), 'utf8');
  assert.doesNotMatch(sw, /__BULWARK_(PRECACHE|VERSION)__/, 'placeholders replaced at build time');
  // Install fails as a whole if one URL does not answer: only URLs the server serves.
  assert.doesNotMatch(sw, /"\/index\.html"|"\/\.vite\//, 'only served paths are precached');
  assert.ok(sw.includes('"/manifest.webmanifest"') && sw.includes('"/icons/icon-192.png"'));
  const manifest = load();
  for (const chunk of Object.values(manifest))
    if (chunk.file !== 'sw.js') assert.ok(sw.includes(`/${chunk.file}`), `${chunk.file} precached`);
  const app = JSON.parse(readFileSync(join(dist, 'manifest.webmanifest'), 'utf8')) as {
    icons: { src: string; sizes: string }[];
    start_url: string;
    display: string;
  };
  assert.equal(app.display, 'standalone');
  assert.ok(app.icons.some((i) => i.sizes === '512x512'));
  for (const icon of app.icons) assert.ok(existsSync(join(dist, icon.src)), `${icon.src} exists`);
});
