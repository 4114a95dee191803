/**
 * docs/api.md stays true: every route the server registers (with every
 * optional feature on) is listed there, and the page lists no route that
 * does not exist.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { registeredRoutes } from '../../packages/server/src/http/app.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const docs = readFileSync(fileURLToPath(new URL('../../docs/api.md', import.meta.url)), 'utf8');

it('docs/api.md lists exactly the registered routes', async (t) => {
  const server = await startTestServer(t, {
    dataDir: tempDir(t),
    config: { auth: { passwords: true, sms: { enabled: true, provider: 'dev-log' } } },
  });
  const registered = new Set(
    registeredRoutes(server.handle.app)
      .filter((r) => r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.url}`),
  );
  const documented = new Set(
    [...docs.matchAll(/`(GET|POST|PUT|PATCH|DELETE) (\/[^`\s]*)`/g)].map((m) => `${m[1]} ${m[2]}`),
  );
  assert.deepEqual(
    [...registered].filter((r) => !documented.has(r)),
    [],
    'registered but not documented',
  );
  assert.deepEqual(
    [...documented].filter((r) => !registered.has(r)),
    [],
    'documented but not registered',
  );
});
