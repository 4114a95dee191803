/**
 * A sealed (or uninitialised) server answers health, status, the unseal
 * ceremony and the web client's public files, and refuses everything else: walk the whole route table, so a
 * route added later is covered without touching this test.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type RegisteredRoute,
  registeredRoutes,
  requireAccessDeclaration,
} from '../../packages/server/src/http/app.ts';
import { webAppRoutes } from '../../packages/server/src/http/web-app.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

/** The only routes that may answer while sealed, and what they answer. */
const sealedAllowList: Record<string, (state: 'uninitialized' | 'sealed') => number> = {
  'GET /health': () => 503,
  'HEAD /health': () => 503,
  'GET /v1/sys/status': () => 200,
  'HEAD /v1/sys/status': () => 200,
  // Init answers only while uninitialised; afterwards it says so and changes nothing.
  'POST /v1/sys/init': (state) => (state === 'uninitialized' ? 400 : 409),
  // An empty body is refused as malformed before anything else is looked at.
  'POST /v1/sys/unseal': () => 400,
  // The resolver keeps serving while sealed (docs/dns.md); this server runs without dns.enabled.
  'GET /dns-query': () => 404,
  'HEAD /dns-query': () => 404,
  'POST /dns-query': () => 404,
  'GET /dns-query/:token': () => 404,
  'HEAD /dns-query/:token': () => 404,
  'POST /dns-query/:token': () => 404,
  // The web client loads before init and while sealed: it shows those ceremonies. Its files
  // are public (what an account may see comes from the API); `x` names no file of the build.
  ...Object.fromEntries(
    [...webAppRoutes, '/manifest.webmanifest', '/sw.js'].flatMap((path) => [
      [`GET ${path}`, () => 200],
      [`HEAD ${path}`, () => 200],
    ]),
  ),
  'GET /static/*': () => 404,
  'HEAD /static/*': () => 404,
  'GET /icons/*': () => 404,
  'HEAD /icons/*': () => 404,
};

function concretePath(url: string): string {
  return url.replace(/:[A-Za-z]+/g, 'x').replace(/\*/g, 'x');
}

async function walk(server: TestServer, state: 'uninitialized' | 'sealed') {
  const routes = registeredRoutes(server.handle.app);
  assert.ok(routes.length >= 8, `the route table is there (${routes.length} routes)`);
  const refusal = state === 'uninitialized' ? 'not_initialized' : 'sealed';
  for (const route of routes) {
    const key = `${route.method} ${route.url}`;
    const answer = await server.request(concretePath(route.url), {
      method: route.method,
      ...(route.method === 'POST' || route.method === 'PUT' || route.method === 'PATCH'
        ? { body: {} }
        : {}),
    });
    const allowed = sealedAllowList[key];
    if (allowed) {
      assert.equal(route.availableWhileSealed, true, `${key} is declared available while sealed`);
      assert.equal(answer.status, allowed(state), `${key} while ${state}: ${answer.body}`);
    } else {
      assert.equal(route.availableWhileSealed, false, `${key} must not be available while sealed`);
      assert.equal(answer.status, 503, `${key} while ${state} answered ${answer.status}`);
      if (route.method !== 'HEAD') {
        assert.equal((answer.json as { error: { code: string } }).error.code, refusal, key);
      }
    }
  }
  for (const path of [
    '/nope',
    '/v1/users',
    '/v1/sys/unseal/../../etc/passwd',
    '/%2e%2e/keyring.json',
  ]) {
    const answer = await server.request(path);
    assert.equal(answer.status, 503, path);
    assert.equal((answer.json as { error: { code: string } }).error.code, refusal, path);
  }
}

describe('sealed server', () => {
  it('refuses every route but health, status, init and unseal — uninitialised, then sealed', async (t) => {
    const dataDir = tempDir(t);
    const first = await startTestServer(t, { dataDir });
    await walk(first, 'uninitialized');
    const init = await first.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'route walking passphrase' },
    });
    assert.equal(init.status, 200, init.body);
    // Unsealed: the non-sys routes answer (metrics here).
    assert.equal((await first.request('/metrics')).status, 200);
    await first.close();

    const second = await startTestServer(t, { dataDir });
    await walk(second, 'sealed');
  });

  it('a route that declares no action, or an unknown one, fails to register', async () => {
    const { default: Fastify } = await import('fastify');
    const table: RegisteredRoute[] = [];
    const app = Fastify();
    app.addHook('onRoute', requireAccessDeclaration(table));
    assert.throws(() => app.get('/undeclared', async () => 'x'), /declares no known action/);
    assert.throws(
      () => app.get('/bogus', { config: { action: 'everyone' as 'sys.health' } }, async () => 'x'),
      /declares no known action/,
    );
    // An action on a project must name it with :projectId, or the guard could not find it.
    assert.throws(
      () => app.get('/projects/:id', { config: { action: 'project.read' } }, async () => 'x'),
      /acts on a project, named by :projectId/,
    );
    app.get('/declared', { config: { action: 'page.static' } }, async () => 'x');
    assert.deepEqual(
      table.map((r) => `${r.method} ${r.url} ${r.availableWhileSealed}`),
      ['GET /declared false', 'HEAD /declared false'],
    );
    await app.close();
  });
});
