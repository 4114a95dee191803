import { createHash } from 'node:crypto';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

/**
 * Builds `sw.js` (unhashed, at the root so its scope is the whole app) and
 * writes into it the list of every file of this build plus a version made
 * from their names: a new build is a new service worker, which precaches
 * the new shell and drops the old cache.
 */
function serviceWorker(): Plugin {
  return {
    name: 'bulwark-service-worker',
    apply: 'build',
    generateBundle(_options, bundle) {
      const sw = Object.values(bundle).find(
        (file) => file.type === 'chunk' && file.fileName === 'sw.js',
      );
      if (!sw || sw.type !== 'chunk') throw new Error('service worker chunk sw.js is missing');
      const files = Object.keys(bundle)
        .filter(
          (name) => name !== 'sw.js' && !name.endsWith('.map') && name !== '.vite/manifest.json',
        )
        .map((name) => `/${name}`)
        .sort();
      const version = createHash('sha256').update(files.join('\n')).digest('hex').slice(0, 16);
      const shell = ['/', ...files];
      const precacheToken = /(["'`])__BULWARK_PRECACHE__\1/;
      if (!precacheToken.test(sw.code) || !sw.code.includes('__BULWARK_VERSION__'))
        throw new Error('sw.js lost its build-time placeholders');
      sw.code = sw.code
        .replace(precacheToken, JSON.stringify(shell))
        .replaceAll('__BULWARK_VERSION__', version);
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
