import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/** Every file under a folder, as relative paths with forward slashes. */
function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? filesUnder(dir, join(prefix, entry.name))
      : [join(prefix, entry.name).split(sep).join('/')],
  );
}

/**
 * Builds `sw.js` (unhashed, at the root so its scope is the whole app) and
 * writes into it the list of every file of this build plus a version made
 * from their contents: a new build is a new service worker, which precaches
 * the new shell and drops the old cache.
 */
function serviceWorker(): Plugin {
  return {
    name: 'bulwark-service-worker',
    apply: 'build',
    // After writing, from the files really on disk: Vite drops some chunks late
    // (the empty JS of CSS-only chunks), and install fails if one URL is missing.
    writeBundle(options) {
      const outDir = options.dir;
      if (!outDir) throw new Error('the service worker plugin needs build.outDir');
      const swPath = join(outDir, 'sw.js');
      // index.html is served at /: the server has no /index.html.
      const files = filesUnder(outDir)
        .filter((name) => name !== 'sw.js' && name !== 'index.html' && !name.startsWith('.vite/'))
        .sort();
      const hash = createHash('sha256');
      for (const name of ['index.html', ...files])
        hash.update(name).update(readFileSync(join(outDir, name)));
      const version = hash.digest('hex').slice(0, 16);
      const shell = ['/', ...files.map((name) => `/${name}`)];
      const code = readFileSync(swPath, 'utf8');
      const precacheToken = /(["'`])__BULWARK_PRECACHE__\1/;
      if (!precacheToken.test(code) || !code.includes('__BULWARK_VERSION__'))
        throw new Error('sw.js lost its build-time placeholders');
      writeFileSync(
        swPath,
        code
          .replace(precacheToken, JSON.stringify(shell))
          .replaceAll('__BULWARK_VERSION__', version),
      );
    },
  };
}

export default defineConfig({
  plugins: [react(), serviceWorker()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'static',
    manifest: true,
    sourcemap: false,
    target: 'es2022',
    modulePreload: { polyfill: false },
    rollupOptions: {
      input: { app: 'index.html', sw: 'src/sw/service-worker.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'static/[name]-[hash].js'),
      },
    },
  },
});
