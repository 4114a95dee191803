/**
 * Scale-out with real processes: two `npm start` nodes of one installation
 * (node 2 runs on a copy of node 1's data directory, both unsealed with the
 * passphrase) share one PostgreSQL schema and one NATS. A change made
 * through node 1's API reaches a live-updates socket on node 2.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { SoftAuthenticator } from '../../packages/server/src/identity/passkeys/soft-authenticator.ts';
import { type ServerProcess, startServerProcess } from '../support/bulwark-process.ts';
import { httpsRequest } from '../support/https.ts';
import { type Frame, openLiveSocket } from '../support/live-socket.ts';
import { natsUrl } from '../support/nats.ts';
import { postgresSchema } from '../support/postgres.ts';
import { freePort, runServerProcess } from '../support/server-process.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'two nodes share one installation';

it('a change on node 1 reaches a socket on node 2 (and node 1) within 1 s', async (t) => {
  // Registered first, so the servers stop before their directories and schema go.
  const servers: ServerProcess[] = [];
  t.after(async () => {
    for (const server of servers) await server.stop();
  });
  const pg = await postgresSchema(t);
  if (!pg) return;
  const nats = await natsUrl(t);
  if (!nats) return;
  const env = { DATABASE_URL: pg.url, BULWARK_DB_SCHEMA: pg.schema, BULWARK_NATS_URL: nats };

  const base = tempDir(t);
  const node1 = await startServerProcess(join(base, 'node1'), { env });
  servers.push(node1);
  const ca = readFileSync(join(node1.dataDir, 'tls', 'ca.crt'), 'utf8');
  const call = (
    node: ServerProcess,
    path: string,
    opts: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) => httpsRequest(`${node.url}${path}`, { ca, ...opts });

  const init = await call(node1, '/v1/sys/init', { method: 'POST', body: { passphrase } });
  assert.equal(init.status, 200, init.body);

  // The keyring and the TLS files are the installation's; the database is shared.
  cpSync(node1.dataDir, join(base, 'node2'), { recursive: true });
  const node2 = await startServerProcess(join(base, 'node2'), { env });
  servers.push(node2);
  const unseal = await call(node2, '/v1/sys/unseal', { method: 'POST', body: { passphrase } });
  assert.equal(unseal.status, 200, unseal.body);
  assert.equal((unseal.json as { state: string }).state, 'unsealed');

  // The first admin, through the setup link, with a software passkey: a cookie session.
  const token = new URL((init.json as { setupUrl: string }).setupUrl).hash.slice(1);
  const options = await call(node1, '/v1/auth/setup/options', {
    method: 'POST',
    body: { token, displayName: 'Ada', username: 'ada' },
  });
  assert.equal(options.status, 200, options.body);
  const started = options.json as {
    challengeId: string;
    options: { challenge: string; rp: { id?: string }; user: { id: string } };
  };
  const verified = await call(node1, '/v1/auth/setup/verify', {
    method: 'POST',
    body: {
      token,
      challengeId: started.challengeId,
      response: new SoftAuthenticator().register(
        started.options,
        `https://localhost:${node1.port}`,
      ),
    },
  });
  assert.equal(verified.status, 200, verified.body);
  const setCookie = [verified.headers['set-cookie']].flat()[0] ?? '';
  const cookie = setCookie.split(';')[0] ?? '';
  assert.match(cookie, /^__Host-bulwark_session=bws_/);
  const headers = { cookie };

  const orgs = await call(node1, '/v1/orgs', { headers });
  const orgId = (orgs.json as { orgs: { id: string }[] }).orgs[0]?.id;
  assert.ok(orgId, orgs.body);
  const created = await call(node1, `/v1/orgs/${orgId}/projects`, {
    method: 'POST',
    headers,
    body: { key: 'APOLLO', name: 'Apollo' },
  });
  assert.equal(created.status, 201, created.body);
  const projectId = (created.json as { project: { id: string } }).project.id;

  // Sockets on both nodes, with the session made on node 1 (sessions live in the shared database).
  const sockets = await Promise.all(
    [node2, node1].map((node) => openLiveSocket(`${node.url}/v1/ws`, { ca, headers })),
  );
  t.after(() => {
    for (const s of sockets) s.close();
  });
  for (const socket of sockets) {
    socket.send({ type: 'subscribe', project: projectId });
    const answer = await socket.next((f) => f.project === projectId);
    assert.deepEqual(answer, { type: 'subscribed', project: projectId });
  }

  const renamed = await call(node1, `/v1/projects/${projectId}`, {
    method: 'PATCH',
    headers,
    body: { name: 'Apollo 11' },
  });
  assert.equal(renamed.status, 200, renamed.body);
  const committed = Date.now();
  const isUpdate = (f: Frame) => f.type === 'event' && f.project === projectId;
  const [onNode2, onNode1] = await Promise.all(sockets.map((s) => s.next(isUpdate, 1000)));
  assert.ok(Date.now() - committed < 1000, 'within 1 s');
  for (const frame of [onNode2, onNode1]) {
    assert.deepEqual(frame, {
      type: 'event',
      project: projectId,
      event: { type: 'project.updated', fields: ['name'] },
    });
  }
  // Ids and field names only: the new name (content, encrypted at rest) never travels.
  assert.ok(!JSON.stringify(onNode2).includes('Apollo 11'));

  // A card created and moved on node 2 is seen by the socket on node 1.
  const made = await call(node2, `/v1/projects/${projectId}/issues`, {
    method: 'POST',
    headers,
    body: { set: { title: 'Cross-node card' } },
  });
  assert.equal(made.status, 201, made.body);
  const issueId = (made.json as { issue: { id: string } }).issue.id;
  const board = await call(node2, `/v1/projects/${projectId}/board`, { headers });
  const doing = (board.json as { columns: { id: string }[] }).columns[1]?.id;
  // Node 1 reads (and keeps) the board before the move.
  type Board = { columns: { id: string; issues: { id: string }[] }[] };
  const columnOf = (b: Board) => b.columns.find((c) => c.issues.some((i) => i.id === issueId))?.id;
  const before = (await call(node1, `/v1/projects/${projectId}/board`, { headers })).json as Board;
  assert.notEqual(columnOf(before), doing);
  const from = sockets[1]?.frames.length ?? 0;
  const moved = await call(node2, `/v1/issues/${issueId}/move`, {
    method: 'POST',
    headers,
    body: { status: doing, after: null },
  });
  assert.equal(moved.status, 200, moved.body);
  const movedAt = Date.now();
  const seen = await sockets[1]?.next(
    (f) =>
      f.type === 'event' && f.project === projectId && JSON.stringify(f.event).includes(issueId),
    1000,
    from,
  );
  assert.ok(seen, 'the move reached node 1');
  assert.ok(Date.now() - movedAt < 1000, 'within 1 s');
  assert.ok(!JSON.stringify(seen).includes('Cross-node card'), 'no content on the bus');
  // And node 1's board shows the move: what a node keeps is checked against the shared database.
  const after = (await call(node1, `/v1/projects/${projectId}/board`, { headers })).json as Board;
  assert.equal(columnOf(after), doing);
});

it('a node that cannot reach NATS refuses to start, naming the URL', async (t) => {
  const natsPort = await freePort();
  const { exited } = await runServerProcess(t, {
    BULWARK_DATA_DIR: tempDir(t),
    BULWARK_HOST: '127.0.0.1',
    BULWARK_PORT: String(await freePort()),
    BULWARK_NATS_URL: `nats://127.0.0.1:${natsPort}`,
  });
  assert.ok(exited, 'the server did not exit');
  assert.equal(exited.code, 1, exited.stderr);
  assert.match(
    exited.stderr,
    new RegExp(`cannot start: Cannot connect to NATS at nats://127\\.0\\.0\\.1:${natsPort}`),
  );
});
