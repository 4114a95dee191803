import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { App } from './app.ts';

/**
 * The web client (packages/web, built by `npm run build`) served at `/`.
 * Every file of the build is read once at start-up into memory: no request
 * path ever reaches the filesystem. The shell (index.html) and the service
 * worker are never cached by the HTTP cache, so a new deployment shows at
 * once; the hashed files under /static/ are immutable. The same strict
 * Content-Security-Policy as every answer applies (script-src 'self', no
 * inline script or style).
 */

/** Client-side routes: each answers with the shell, and the app's router takes over. */
export const webAppRoutes = [
  '/',
  '/init',
  '/unseal',
  '/sign-in',
  '/search',
  '/orgs',
  '/orgs/*',
  '/projects/*',
  '/account',
  '/account/*',
  '/admin',
  '/admin/*',
] as const;

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.webmanifest': 'application/manifest+json',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

interface WebFile {
  body: Buffer;
  type: string;
}

export const defaultWebDist = fileURLToPath(new URL('../../../web/dist/', import.meta.url));

/** Every servable file of the build, keyed by URL path (`/static/app-1a2b.js`). */
export function loadWebBuild(dir: string): Map<string, WebFile> | null {
  if (!existsSync(join(dir, 'index.html'))) return null;
  const files = new Map<string, WebFile>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) {
        if (name !== '.vite') walk(path);
        continue;
      }
      const type = contentTypes[extname(name)];
      if (!type) continue;
      files.set(`/${relative(dir, path).split(sep).join('/')}`, { body: readFileSync(path), type });
    }
  };
  walk(dir);
  return files;
}

const notBuilt =
  '<!doctype html><meta charset="utf-8"><title>Bulwark</title><p>The web client is not built. Run <code>npm run build</code> (npm start does it) and restart the server.</p>';

export function registerWebAppRoutes(app: App, dir: string = defaultWebDist): void {
  const files = loadWebBuild(dir);
  const page = { config: { action: 'page.app' as const } };
  const shell = files?.get('/index.html');

  for (const route of webAppRoutes) {
    app.get(route, page, async (_req, reply) => {
      if (!shell) return reply.status(503).type('text/html; charset=utf-8').send(notBuilt);
      return reply.type(shell.type).send(shell.body);
    });
  }

  const serve =
    (cacheControl: string, extraHeaders: Record<string, string> = {}) =>
    async (req: { url: string }, reply: import('fastify').FastifyReply) => {
      const path = req.url.split('?')[0] ?? '';
      const file = files?.get(path);
      if (!file)
        return reply
          .status(404)
          .send({ error: { code: 'not_found', message: `No file ${path}.` } });
      reply.header('cache-control', cacheControl);
      for (const [name, value] of Object.entries(extraHeaders)) reply.header(name, value);
      return reply.type(file.type).send(file.body);
    };

  // Content-hashed: a changed file has a new name, so caching forever is safe.
  app.get('/static/*', page, serve('public, max-age=31536000, immutable'));
  app.get('/icons/*', page, serve('public, max-age=86400'));
  app.get('/manifest.webmanifest', page, serve('no-cache'));
  // The worker must always be revalidated or a broken one could pin an old shell.
  app.get('/sw.js', page, serve('no-cache', { 'service-worker-allowed': '/' }));
}
