/**
 * The web client's JavaScript, gzipped (level 9), per screen: what must
 * load before each screen can show (the entry, its static imports, and the
 * screen's lazy chunk with its own static imports). Run after
 * `npm run build`: `node bench/web/bundle.ts`. The budget (250 kB for the
 * first screen) is enforced by test/architecture/web-bundle.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

interface ManifestChunk {
  file: string;
  src?: string;
  isEntry?: boolean;
  imports?: string[];
}

const dist = join(import.meta.dirname, '../../packages/web/dist');
const manifest = JSON.parse(readFileSync(join(dist, '.vite/manifest.json'), 'utf8')) as Record<
  string,
  ManifestChunk
>;

function closure(keys: string[]): Set<string> {
  const files = new Set<string>();
  const seen = new Set<string>();
  const visit = (key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    const chunk = manifest[key];
    if (!chunk) throw new Error(`no chunk ${key}`);
    files.add(chunk.file);
    for (const next of chunk.imports ?? []) visit(next);
  };
  for (const key of keys) visit(key);
  return files;
}

const size = (files: Iterable<string>) => {
  let raw = 0;
  let gz = 0;
  for (const file of files) {
    const bytes = readFileSync(join(dist, file));
    raw += bytes.length;
    gz += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gz };
};

const entry = Object.keys(manifest).find(
  (k) => manifest[k]?.isEntry && manifest[k]?.src === 'index.html',
);
if (!entry) throw new Error('no entry');
const project = 'src/features/project/ProjectPage.tsx';
const screens: [string, string[]][] = [
  ['sign-in, init, unseal (the entry)', []],
  ['start page', ['src/features/directory/HomePage.tsx']],
  ['project: board', [project, 'src/features/board/BoardPage.tsx']],
  ['project: chat (MLS)', [project, 'src/features/chat/ChatPage.tsx']],
  ['installation admin (ledger verification)', ['src/features/admin/InstallationAdminPage.tsx']],
  ['account', ['src/features/account/AccountPage.tsx']],
];
const kb = (n: number) => `${(n / 1000).toFixed(1)} kB`;
console.log('| screen | JavaScript | gzipped |');
console.log('| --- | ---: | ---: |');
for (const [name, lazy] of screens) {
  const { raw, gz } = size(closure([entry, ...lazy]));
  console.log(`| ${name} | ${kb(raw)} | ${kb(gz)} |`);
}
const all = size(
  Object.values(manifest)
    .map((c) => c.file)
    .filter((f) => f.endsWith('.js')),
);
console.log(`| everything (precached for offline) | ${kb(all.raw)} | ${kb(all.gz)} |`);
