/// <reference lib="webworker" />
/**
 * The app shell offline: every file of the build is precached at install,
 * navigations fall back to the cached shell when the network fails, and the
 * hashed static files are served cache-first. API responses are never cached
 * here: what the app keeps offline it keeps encrypted in IndexedDB
 * (src/offline), and a plaintext copy in the Cache Storage would defeat that.
 */
export {};

declare const self: ServiceWorkerGlobalScope;

// Replaced at build time by the bundler plugin (vite.config.ts).
const precache = '__BULWARK_PRECACHE__' as unknown as string[];
const version = '__BULWARK_VERSION__';
const cacheName = `bulwark-shell-${version}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(cacheName);
      await cache.addAll(precache.map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith('bulwark-shell-') && name !== cacheName) await caches.delete(name);
      }
      await self.clients.claim();
    })(),
  );
});

/** Paths the server answers itself; never the shell's business. */
function isServerPath(path: string): boolean {
  return (
    path.startsWith('/v1/') ||
    path.startsWith('/dns-query') ||
    path === '/health' ||
    path === '/metrics' ||
    ['/login', '/setup', '/enrol', '/invite'].includes(path) ||
    path.startsWith('/assets/')
  );
}

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin || isServerPath(url.pathname)) return;

  if (request.mode === 'navigate') {
    // Network first so a new deployment shows at once; the cached shell offline.
    event.respondWith(
      (async () => {
        try {
          return await fetch(request);
        } catch {
          const cached = await caches.match('/', { cacheName });
          return cached ?? Response.error();
        }
      })(),
    );
    return;
  }
  event.respondWith((async () => (await caches.match(request, { cacheName })) ?? fetch(request))());
});
