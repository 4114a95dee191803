import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  addMembers,
  asGroupId,
  commitPending,
  createGroup,
  deserializeGroupState,
  encryptApplication,
  type GroupState,
  joinFromWelcome,
  processIncoming,
  removeMembers,
  serializeGroupState,
} from '@bulwark/crypto';
import { buildWorld, givePasskey, type World } from '../support/directory-world.ts';
import { openLiveSocket } from '../support/live-socket.ts';
import { storedLog } from '../support/messaging.ts';
import { b64, errorCode, type RawDevice, rawDevice, unb64 } from '../support/raw-device.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const trustAll = { validateCredential: async () => true };
const text = (s: string) => new TextEncoder().encode(s);

interface Group {
  conversation: string;
  a: RawDevice;
  b: RawDevice;
  stateA: GroupState;
  stateB: GroupState;
}

/** A channel whose group holds one device of the owner (leaf 0) and one of a member (leaf 1). */
async function twoDeviceGroup(server: TestServer, world: World): Promise<Group> {
  const a = await rawDevice(server, world.people.orgOwner.id);
  const b = await rawDevice(server, world.people.internalMember.id);
  const created = await a.call(`/v1/projects/${world.apollo}/conversations`, {
    method: 'POST',
    body: { kind: 'channel', name: `bad-input-${randomBytes(3).toString('hex')}` },
  });
  assert.equal(created.status, 201, created.body);
  const view = JSON.parse(created.body).conversation;
  const group = await createGroup({
    groupId: asGroupId(unb64(view.groupId)),
    suite: view.ciphersuite,
    identity: a.identity,
    self: a.ref,
    serverSignaturePublicKey: unb64(view.externalSender),
    authService: trustAll,
  });
  const established = await a.call(`/v1/conversations/${view.id}/group`, {
    method: 'POST',
    body: { groupInfo: b64(group.groupInfo) },
  });
  assert.equal(established.status, 200, established.body);
  const claimed = await a.call(`/v1/conversations/${view.id}/key-packages/claim`, {
    method: 'POST',
    body: { devices: [b.ref.deviceId] },
  });
  assert.equal(claimed.status, 200, claimed.body);
  const [kp] = JSON.parse(claimed.body).keyPackages;
  const add = await addMembers(group.state, [unb64(kp.keyPackage)]);
  const committed = await a.call(`/v1/conversations/${view.id}/commits`, {
    method: 'POST',
    body: {
      commit: b64(add.commit),
      groupInfo: b64(add.groupInfo),
      welcome: b64(add.welcome as Uint8Array),
    },
  });
  assert.equal(committed.status, 200, committed.body);
  const stateB = await joinFromWelcome(add.welcome as Uint8Array, b.keyPackages, trustAll);
  return { conversation: view.id, a, b, stateA: add.state, stateB };
}

async function post(device: RawDevice, conversation: string, message: Uint8Array) {
  return device.call(`/v1/conversations/${conversation}/messages`, {
    method: 'POST',
    body: { message: b64(message) },
  });
}

describe('messaging: bad input is refused, changes nothing, and harms no one else', () => {
  let server: TestServer;
  let world: World;
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  before(async () => {
    // One server for the suite: each test builds its own conversation.
    const t = { after: (fn: () => unknown) => cleanups.push(fn) } as never;
    server = await startTestServer(t, { dataDir: tempDir(t) });
    const init = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'messaging bad input passphrase' },
    });
    assert.equal(init.status, 200, init.body);
    world = await buildWorld(server);
  });

  it('malformed MLS bytes: 400 naming the problem, nothing stored', async () => {
    const g = await twoDeviceGroup(server, world);
    const before = await storedLog(server, g.conversation);
    for (const bytes of [randomBytes(1), randomBytes(200), Buffer.from('00010002', 'hex')]) {
      const answer = await post(g.a, g.conversation, bytes);
      assert.equal(answer.status, 400, answer.body);
      assert.match(JSON.parse(answer.body).error.message, /not valid MLS/);
    }
    const notBase64 = await g.a.call(`/v1/conversations/${g.conversation}/messages`, {
      method: 'POST',
      body: { message: 'not base64url!' },
    });
    assert.equal(notBase64.status, 400);
    const garbageCommit = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(randomBytes(64)), groupInfo: b64(randomBytes(64)) },
    });
    assert.equal(garbageCommit.status, 400, garbageCommit.body);
    assert.deepEqual(await storedLog(server, g.conversation), before);
    // The group still works for everyone.
    const ok = await encryptApplication(g.stateA, text('still fine'));
    assert.equal((await post(g.a, g.conversation, ok.message)).status, 200);
    const [last] = (await storedLog(server, g.conversation)).slice(-1);
    const read = await processIncoming(g.stateB, last?.data as Uint8Array);
    assert.equal(read.event.type, 'application');
  });

  it('a stale epoch: the message or commit gets epoch_conflict and is not stored', async () => {
    const g = await twoDeviceGroup(server, world);
    const saved = serializeGroupState(g.stateA);
    const update = await commitPending(g.stateA);
    const accepted = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(update.commit), groupInfo: b64(update.groupInfo) },
    });
    assert.equal(accepted.status, 200, accepted.body);
    const before = await storedLog(server, g.conversation);

    const staleState = deserializeGroupState(saved, trustAll);
    const stale = await encryptApplication(staleState, text('from the past'));
    const answer = await post(g.a, g.conversation, stale.message);
    assert.equal(answer.status, 409, answer.body);
    assert.equal(errorCode(answer), 'epoch_conflict');

    const staleCommit = await commitPending(deserializeGroupState(saved, trustAll));
    const rival = await g.b.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(staleCommit.commit), groupInfo: b64(staleCommit.groupInfo) },
    });
    // Not B's leaf either: refused before the epoch is even compared, or as stale.
    assert.ok([403, 409].includes(rival.status), rival.body);
    const own = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(staleCommit.commit), groupInfo: b64(staleCommit.groupInfo) },
    });
    assert.equal(errorCode(own), 'epoch_conflict', own.body);
    assert.deepEqual(await storedLog(server, g.conversation), before);
  });

  it('a replayed message is stored once and answered with the same position', async () => {
    const g = await twoDeviceGroup(server, world);
    const sent = await encryptApplication(g.stateA, text('only once'));
    const first = await post(g.a, g.conversation, sent.message);
    const again = await post(g.a, g.conversation, sent.message);
    assert.equal(first.status, 200);
    assert.equal(again.status, 200);
    assert.equal(JSON.parse(again.body).seq, JSON.parse(first.body).seq);
    assert.equal(JSON.parse(again.body).duplicate, true);
    const copies = (await storedLog(server, g.conversation)).filter(
      (e) => Buffer.compare(Buffer.from(e.data), Buffer.from(sent.message)) === 0,
    );
    assert.equal(copies.length, 1);
    // And a member that is handed it twice refuses the second (MLS generation reuse).
    const once = await processIncoming(g.stateB, sent.message);
    await assert.rejects(processIncoming(once.state, sent.message));
  });

  it('devices outside the group, or not entitled, cannot post, add or remove', async () => {
    const g = await twoDeviceGroup(server, world);
    const before = await storedLog(server, g.conversation);
    // A device of a project member that is not in the group yet.
    const outsider = await rawDevice(server, world.people.internalViewer.id);
    const sent = await encryptApplication(g.stateA, text('not yours to post'));
    const refused = await post(outsider, g.conversation, sent.message);
    assert.equal(refused.status, 403, refused.body);

    // A device of someone with no business in the project.
    const stranger = await rawDevice(server, world.people.unrelated.id);
    const claim = await g.a.call(`/v1/conversations/${g.conversation}/key-packages/claim`, {
      method: 'POST',
      body: { devices: [stranger.ref.deviceId] },
    });
    assert.equal(claim.status, 400, claim.body);
    const [strangerKp] = [...stranger.published.values()];
    const add = await addMembers(g.stateA, [strangerKp as Uint8Array]);
    const addAnswer = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: {
        commit: b64(add.commit),
        groupInfo: b64(add.groupInfo),
        welcome: b64(add.welcome as Uint8Array),
      },
    });
    assert.equal(addAnswer.status, 403, addAnswer.body);
    assert.match(JSON.parse(addAnswer.body).error.message, /not entitled/);

    // Removing a member who still belongs is the directory's call, not another member's.
    const kick = await removeMembers(g.stateA, [1]);
    const kickAnswer = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(kick.commit), groupInfo: b64(kick.groupInfo) },
    });
    assert.equal(kickAnswer.status, 403, kickAnswer.body);
    assert.deepEqual(await storedLog(server, g.conversation), before);
    const view = await g.a.call(`/v1/conversations/${g.conversation}`);
    assert.equal(JSON.parse(view.body).conversation.epoch, 1);
  });

  it('while a removal waits to be committed, messages are refused and the commit must carry it', async () => {
    const g = await twoDeviceGroup(server, world);
    const removed = await world.call(
      'orgOwner',
      `/v1/projects/${world.apollo}/members/${world.people.internalMember.id}`,
      { method: 'DELETE' },
    );
    assert.equal(removed.status, 204, removed.body);
    const view = JSON.parse(
      (await g.a.call(`/v1/conversations/${g.conversation}`)).body,
    ).conversation;
    assert.deepEqual(
      view.pendingRemovals.map((p: { deviceId: string }) => p.deviceId),
      [g.b.ref.deviceId],
    );
    const early = await encryptApplication(g.stateA, text('too early'));
    const answer = await post(g.a, g.conversation, early.message);
    assert.equal(errorCode(answer), 'removal_pending', answer.body);

    // A commit that ignores the server's proposal is refused ...
    const ignoring = await commitPending(g.stateA);
    const refused = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(ignoring.commit), groupInfo: b64(ignoring.groupInfo) },
    });
    assert.equal(refused.status, 400, refused.body);
    // ... one that carries it (after processing the proposal) is accepted.
    const proposal = (await storedLog(server, g.conversation)).find((e) => e.kind === 'proposal');
    const withProposal = await processIncoming(g.stateA, proposal?.data as Uint8Array);
    const carrying = await commitPending(withProposal.state);
    const accepted = await g.a.call(`/v1/conversations/${g.conversation}/commits`, {
      method: 'POST',
      body: { commit: b64(carrying.commit), groupInfo: b64(carrying.groupInfo) },
    });
    assert.equal(accepted.status, 200, accepted.body);
    // Re-add the member for the other tests.
    const back = await world.call(
      'orgOwner',
      `/v1/projects/${world.apollo}/members/${world.people.internalMember.id}`,
      { method: 'PUT', body: { role: 'member' } },
    );
    assert.ok(back.status < 300, back.body);
  });

  it('oversized messages and attachments are refused with the limit named', async () => {
    const g = await twoDeviceGroup(server, world);
    const big = await post(g.a, g.conversation, randomBytes(300 * 1024));
    assert.equal(big.status, 400, big.body);
    assert.match(big.body, /larger than 262144 bytes/);
    const huge = await post(g.a, g.conversation, randomBytes(600 * 1024));
    assert.equal(huge.status, 413, huge.body);

    // The owner needs a way to sign in, or any policy change would lock them out.
    await givePasskey(server, world.people.orgOwner.id, '00000000-0000-0000-0000-000000000000');
    const policy = await world.call('orgOwner', `/v1/projects/${world.apollo}/policy`, {
      method: 'PUT',
      body: { attachmentMaxMB: 1 },
    });
    assert.equal(policy.status, 200, policy.body);
    const upload = (bytes: Buffer, type = 'application/octet-stream') =>
      g.a.call(`/v1/conversations/${g.conversation}/attachments`, {
        method: 'POST',
        body: bytes,
        headers: { 'content-type': type },
      });
    const tooBig = await upload(randomBytes(1024 * 1024 + 1));
    assert.equal(tooBig.status, 413, tooBig.body);
    assert.match(tooBig.body, /at most 1048576 bytes/);
    assert.equal((await upload(Buffer.alloc(0))).status, 400);
    const fits = await upload(randomBytes(1000));
    assert.equal(fits.status, 201, fits.body);
    const count = await server.handle
      .storage()
      .db.selectFrom('conversation_attachments')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('conversation_id', '=', g.conversation)
      .executeTakeFirstOrThrow();
    assert.equal(Number(count.n), 1);
    const restore = await world.call('orgOwner', `/v1/projects/${world.apollo}/policy`, {
      method: 'PUT',
      body: {},
    });
    assert.equal(restore.status, 200, restore.body);
  });

  it('key packages: wrong device, bad bytes and exhaustion get clear answers', async () => {
    const g = await twoDeviceGroup(server, world);
    const empty = await rawDevice(server, world.people.internalViewer.id, { keyPackages: 0 });
    const claim = await g.a.call(`/v1/conversations/${g.conversation}/key-packages/claim`, {
      method: 'POST',
      body: { devices: [empty.ref.deviceId] },
    });
    assert.equal(claim.status, 200, claim.body);
    assert.deepEqual(JSON.parse(claim.body), { keyPackages: [], exhausted: [empty.ref.deviceId] });

    const [bPackage] = [...g.b.published.values()];
    const foreign = await empty.call(`/v1/messaging/devices/${empty.ref.deviceId}/key-packages`, {
      method: 'POST',
      body: { keyPackages: [b64(bPackage as Uint8Array)] },
    });
    assert.equal(foreign.status, 400, foreign.body);
    assert.match(foreign.body, /another device|already/);
    const garbage = await empty.call(`/v1/messaging/devices/${empty.ref.deviceId}/key-packages`, {
      method: 'POST',
      body: { keyPackages: [b64(randomBytes(100))] },
    });
    assert.equal(garbage.status, 400, garbage.body);
    const stock = await empty.call(`/v1/messaging/devices/${empty.ref.deviceId}/key-packages`);
    assert.deepEqual(JSON.parse(stock.body), { available: 0, lastResort: false });
  });

  it('the device socket: malformed frames get an error frame, the socket and others carry on', async () => {
    const g = await twoDeviceGroup(server, world);
    const socket = await openLiveSocket(`${server.handle.url}/v1/messaging/ws`, {
      ca: server.ca,
      headers: { authorization: `Bearer ${g.b.token}` },
    });
    await socket.next((f) => f.type === 'ready');
    socket.sendRaw('not json');
    await socket.next((f) => f.type === 'error');
    socket.send({ type: 'ack', conversation: g.conversation, seq: 999 });
    const err = await socket.next(
      (f) => f.type === 'error' && /not delivered/.test(String(f.message)),
    );
    assert.ok(err);
    socket.send({ type: 'ping' });
    await socket.next((f) => f.type === 'pong');
    // Deliveries still flow on the same socket.
    const sent = await encryptApplication(g.stateA, text('after the noise'));
    const answer = await post(g.a, g.conversation, sent.message);
    const { seq } = JSON.parse(answer.body);
    const delivery = await socket.next((f) => f.type === 'delivery' && f.seq === seq);
    assert.equal(delivery.data, b64(sent.message));
    // A frame over the hard limit closes this socket only.
    socket.sendRaw(Buffer.alloc(70 * 1024, 'x').toString());
    const closed = await socket.closed;
    assert.equal(closed.code, 1009);
    const healthy = await g.a.call(`/v1/conversations/${g.conversation}`);
    assert.equal(healthy.status, 200);
  });

  it('a session without a device cannot open the device socket', async () => {
    const socket = await openLiveSocket(`${server.handle.url}/v1/messaging/ws`, {
      ca: server.ca,
      headers: { authorization: `Bearer ${world.people.internalViewer.token}` },
    });
    const closed = await socket.closed;
    assert.equal(closed.code, 4409);
  });
});
