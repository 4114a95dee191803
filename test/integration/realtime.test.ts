/**
 * Live updates over real WebSockets against the in-process server: the
 * upgrade is authenticated like any request, each subscription is
 * authorized as a read of its project, and losing access (membership,
 * session) stops the events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import { MemberStore } from '../../packages/server/src/directory/projects.ts';
import { SESSION_COOKIE } from '../../packages/server/src/identity/session-cookie.ts';
import { buildWorld, type Persona, type World } from '../support/directory-world.ts';
import { type Frame, type LiveSocket, openLiveSocket, Refused } from '../support/live-socket.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

async function ready(
  t: TestContext,
): Promise<{ server: TestServer; world: World; operatorToken: string }> {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'live updates test passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  const tokenFile = (init.json as { operatorTokenFile: string }).operatorTokenFile;
  const operatorToken = readFileSync(tokenFile, 'utf8').trim();
  return { server, world: await buildWorld(server), operatorToken };
}

async function socketOf(
  t: TestContext,
  server: TestServer,
  world: World,
  who: Persona,
): Promise<LiveSocket> {
  const token = world.people[who].token;
  assert.ok(token);
  const socket = await openLiveSocket(`${server.handle.url}/v1/ws`, {
    ca: server.ca,
    headers: { authorization: `Bearer ${token}` },
  });
  t.after(() => socket.close());
  return socket;
}

const isEvent = (project: string, type?: string) => (f: Frame) =>
  f.type === 'event' &&
  f.project === project &&
  (type === undefined || (f.event as { type?: string }).type === type);

async function subscribe(socket: LiveSocket, project: string): Promise<Frame> {
  const from = socket.frames.length;
  socket.send({ type: 'subscribe', project });
  return socket.next(
    (f) => f.project === project && (f.type === 'subscribed' || f.type === 'error'),
    5000,
    from,
  );
}

async function refusal(url: string, opts: Parameters<typeof openLiveSocket>[1]) {
  try {
    const socket = await openLiveSocket(url, opts);
    socket.close();
  } catch (err) {
    assert.ok(err instanceof Refused, String(err));
    return { status: err.status, body: JSON.parse(err.body) as { error: { code: string } } };
  }
  assert.fail('the upgrade was accepted');
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('live updates (GET /v1/ws)', () => {
  it('needs a session: none, a deactivated account, or a plain GET get no socket', async (t) => {
    const { server, world } = await ready(t);
    const url = `${server.handle.url}/v1/ws`;
    const anonymous = await refusal(url, { ca: server.ca });
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'unauthenticated');
    const deactivated = await refusal(url, {
      ca: server.ca,
      headers: { authorization: `Bearer ${world.people.deactivated.token}` },
    });
    assert.equal(deactivated.status, 401);
    const forged = await refusal(url, {
      ca: server.ca,
      headers: { cookie: `${SESSION_COOKIE}=bws_${'A'.repeat(43)}` },
    });
    assert.equal(forged.status, 401);
    const plain = await world.call('internalMember', '/v1/ws');
    assert.equal(plain.status, 400, plain.body);
  });

  it('takes the session cookie (what browsers send), and refuses another origin', async (t) => {
    const { server, world } = await ready(t);
    const identity = server.handle.identity();
    const { token } = await identity.sessions.create(world.people.internalMember.id, {
      kind: 'cookie',
      methods: ['passkey'],
    });
    const url = `${server.handle.url}/v1/ws`;
    const cookie = `${SESSION_COOKIE}=${token}`;
    const foreign = await refusal(url, {
      ca: server.ca,
      headers: { cookie },
      origin: 'https://evil.example',
    });
    assert.equal(foreign.status, 403);
    const origin = identity.relyingParty.origins[0];
    assert.ok(origin);
    const socket = await openLiveSocket(url, { ca: server.ca, headers: { cookie }, origin });
    t.after(() => socket.close());
    assert.deepEqual(await subscribe(socket, world.apollo), {
      type: 'subscribed',
      project: world.apollo,
    });
    await server.handle
      .realtime()
      .publishProject(world.apollo, { type: 'issue.created', id: 'i1' });
    const got = await socket.next(isEvent(world.apollo));
    assert.deepEqual(got, {
      type: 'event',
      project: world.apollo,
      event: { type: 'issue.created', id: 'i1' },
    });
  });

  it('a member receives the project’s events; another org’s person gets not_found and nothing', async (t) => {
    const { server, world } = await ready(t);
    const member = await socketOf(t, server, world, 'internalMember');
    const external = await socketOf(t, server, world, 'externalMember');
    const outsider = await socketOf(t, server, world, 'unrelated');
    assert.equal((await subscribe(member, world.apollo)).type, 'subscribed');
    assert.equal((await subscribe(external, world.apollo)).type, 'subscribed');

    const refused = await subscribe(outsider, world.apollo);
    const never = randomUUID();
    const unknown = await subscribe(outsider, never);
    assert.deepEqual(refused, {
      type: 'error',
      code: 'not_found',
      message: 'No such project.',
      project: world.apollo,
    });
    assert.deepEqual(
      { ...unknown, project: world.apollo },
      refused,
      'the same answer as an id never used',
    );

    await server.handle.realtime().publishProject(world.apollo, { type: 'issue.moved', id: 'i7' });
    await member.next(isEvent(world.apollo, 'issue.moved'));
    await external.next(isEvent(world.apollo, 'issue.moved'));
    await pause(200);
    assert.deepEqual(
      outsider.frames.filter((f) => f.type === 'event'),
      [],
    );
  });

  it('a move on the board reaches every watcher of the project within a second', async (t) => {
    const { server, world } = await ready(t);
    const watcher = await socketOf(t, server, world, 'internalViewer');
    assert.equal((await subscribe(watcher, world.apollo)).type, 'subscribed');
    const board = (await world.call('internalMember', `/v1/projects/${world.apollo}/board`))
      .json as {
      columns: { id: string }[];
    };
    const started = Date.now();
    const moved = await world.call('internalMember', `/v1/issues/${world.issue}/move`, {
      method: 'POST',
      body: { status: board.columns[1]?.id, after: null },
    });
    assert.equal(moved.status, 200, moved.body);
    const frame = await watcher.next(isEvent(world.apollo, 'issues.changed'), 1000);
    assert.deepEqual((frame.event as { issues: string[] }).issues, [world.issue]);
    assert.ok(Date.now() - started < 1000);
  });

  it('a member removed through the API stops at once; the others hear of the change', async (t) => {
    const { server, world } = await ready(t);
    const viewer = await socketOf(t, server, world, 'internalViewer');
    const member = await socketOf(t, server, world, 'internalMember');
    await subscribe(viewer, world.apollo);
    await subscribe(member, world.apollo);

    const removed = await world.call(
      'orgOwner',
      `/v1/projects/${world.apollo}/members/${world.people.internalViewer.id}`,
      { method: 'DELETE' },
    );
    assert.equal(removed.status, 204, removed.body);
    const changed = await member.next(isEvent(world.apollo, 'member.changed'));
    assert.deepEqual(changed.event, {
      type: 'member.changed',
      user: world.people.internalViewer.id,
    });
    const lost = await viewer.next((f) => f.type === 'error');
    assert.deepEqual(lost, {
      type: 'error',
      code: 'not_found',
      message: 'No such project.',
      project: world.apollo,
    });

    await server.handle.realtime().publishProject(world.apollo, { type: 'issue.moved', id: 'i8' });
    await member.next(isEvent(world.apollo, 'issue.moved'));
    await pause(200);
    assert.deepEqual(
      viewer.frames.filter((f) => f.type === 'event'),
      [],
    );
  });

  it('a revoked session’s socket closes, and a quiet loss of access is caught within 5 s', async (t) => {
    const { server, world } = await ready(t);
    const leaving = await socketOf(t, server, world, 'externalMember');
    const quiet = await socketOf(t, server, world, 'internalViewer');
    const witness = await socketOf(t, server, world, 'internalMember');
    for (const s of [leaving, quiet, witness]) await subscribe(s, world.apollo);

    const logout = await world.call('externalMember', '/v1/auth/logout', { method: 'POST' });
    assert.equal(logout.status < 300, true, logout.body);
    // A change that publishes nothing: only the periodic re-check can notice it.
    await new MemberStore(server.handle.storage()).remove(
      world.apollo,
      world.people.internalViewer.id,
    );
    await pause(5100);

    await server.handle.realtime().publishProject(world.apollo, { type: 'issue.moved', id: 'i9' });
    await witness.next(isEvent(world.apollo, 'issue.moved'));
    const closed = await leaving.closed;
    assert.equal(closed.code, 4401);
    await quiet.next((f) => f.type === 'error' && f.code === 'not_found');
    await pause(200);
    for (const s of [leaving, quiet]) {
      assert.deepEqual(
        s.frames.filter((f) => f.type === 'event'),
        [],
      );
    }
  });

  it('malformed and oversized frames get error frames; past the hard limit the socket closes', async (t) => {
    const { server, world } = await ready(t);
    const socket = await socketOf(t, server, world, 'internalMember');
    const errors = () => socket.frames.filter((f) => f.type === 'error').map((f) => f.code);

    socket.sendRaw('not json');
    socket.send({ type: 'subscribe', project: 'apollo' });
    socket.send({ type: 'shout' });
    socket.sendRaw(Buffer.from([0xde, 0xad]));
    socket.send({ type: 'subscribe', project: world.apollo, pad: 'x'.repeat(8 * 1024) });
    socket.send({ type: 'ping' });
    await socket.next((f) => f.type === 'pong');
    assert.deepEqual(errors(), [
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'payload_too_large',
    ]);
    assert.equal(socket.frames.filter((f) => f.type === 'subscribed').length, 0);

    socket.sendRaw('x'.repeat(100 * 1024));
    assert.equal((await socket.closed).code, 1009);
  });

  it('a client that keeps sending garbage is disconnected', async (t) => {
    const { server, world } = await ready(t);
    const socket = await socketOf(t, server, world, 'internalMember');
    for (let i = 0; i < 20; i += 1) socket.sendRaw('{');
    assert.equal((await socket.closed).code, 1008);
  });

  it('sealing the server closes every socket (1001)', async (t) => {
    const { server, world, operatorToken } = await ready(t);
    const socket = await socketOf(t, server, world, 'internalMember');
    await subscribe(socket, world.apollo);
    const sealed = await server.request('/v1/sys/seal', {
      method: 'POST',
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    assert.equal(sealed.status, 200, sealed.body);
    assert.deepEqual(await socket.closed, { code: 1001, reason: 'sealed' });
  });
});
