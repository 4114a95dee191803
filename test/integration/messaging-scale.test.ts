import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDeviceStore } from '@bulwark/chat';
import {
  encryptApplication,
  type GroupState,
  joinFromWelcome,
  processIncoming,
} from '@bulwark/crypto';
import { MemberStore } from '../../packages/server/src/directory/projects.ts';
import { buildWorld } from '../support/directory-world.ts';
import { openLiveSocket } from '../support/live-socket.ts';
import { allJoined, startDevice } from '../support/messaging.ts';
import { b64, rawDevice, unb64 } from '../support/raw-device.ts';
import { startTestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

const trustAll = { validateCredential: async () => true };

async function readyServer(t: Parameters<typeof startTestServer>[0]) {
  const server = await startTestServer(t, { dataDir: tempDir(t) });
  const init = await server.request('/v1/sys/init', {
    method: 'POST',
    body: { passphrase: 'messaging scale passphrase' },
  });
  assert.equal(init.status, 200, init.body);
  return { server, world: await buildWorld(server) };
}

describe('messaging at size', () => {
  it('an offline device catches up on 1,000 messages, each exactly once, across a reconnect', async (t) => {
    const { server, world } = await readyServer(t);
    const sender = await startDevice(t, server, world.people.orgOwner.id, 'sender');
    const store = new MemoryDeviceStore();
    const traveller = await startDevice(t, server, world.people.internalMember.id, 'traveller', {
      store,
    });
    const channel = await sender.client.createChannel(world.apollo, 'catch-up');
    await sender.client.sync(channel.id);
    await allJoined([sender, traveller], channel.id);
    await traveller.client.close();

    const total = 1000;
    const sent: string[] = [];
    for (let i = 0; i < total; i++) {
      const text = `message ${i}`;
      await sender.client.send(channel.id, text);
      sent.push(text);
    }

    // Back online: the backlog flows; the connection drops part-way (the laptop lid closes).
    const first = await startDevice(t, server, world.people.internalMember.id, 'traveller', {
      store,
    });
    await first.client.waitUntil(
      () => first.texts(channel.id).length >= 300,
      60_000,
      'the first 300 arrive',
    );
    await first.client.close();
    const second = await startDevice(t, server, world.people.internalMember.id, 'traveller', {
      store,
    });
    await second.client.waitUntil(
      () => first.texts(channel.id).length + second.texts(channel.id).length >= total,
      120_000,
      'the rest arrive',
    );
    await second.client.idle();
    const received = [...first.texts(channel.id), ...second.texts(channel.id)];
    assert.equal(received.length, total, 'no message delivered to the person twice');
    assert.deepEqual(received, sent, 'all of them, in order');
    const timeline = await second.client.timeline(channel.id);
    assert.equal(Object.keys(timeline.seqs).length, total + 0, 'the timeline holds each once');
  });

  it('a 200-member group works end to end', async (t) => {
    const { server, world } = await readyServer(t);
    const identity = server.handle.identity();
    const now = identity.clock.now();
    const members = new MemberStore(identity.storage);
    const owner = await startDevice(t, server, world.people.orgOwner.id, 'owner');
    // 199 more people in the project, one device each, driven by hand (cheap to set up).
    const raws = [];
    for (let i = 0; i < 199; i++) {
      const user = await identity.users.create(
        {
          displayName: `p${i}`,
          username: `p${i}-${world.acme.slice(0, 6)}`,
          email: null,
          orgId: world.acme,
          orgRole: 'member',
          isAdmin: false,
        },
        now,
      );
      await members.put(
        { projectId: world.apollo, userId: user.id, role: 'member', viaLinkId: null },
        world.people.orgOwner.id,
        now,
      );
      // Other channels of the project take their packages as they appear; the last-resort
      // package keeps the device addable (RFC 9420 §16.8).
      raws.push(await rawDevice(server, user.id, { keyPackages: 1, lastResort: true }));
    }
    const sockets = await Promise.all(
      raws.map((r) =>
        openLiveSocket(`${server.handle.url}/v1/messaging/ws`, {
          ca: server.ca,
          headers: { authorization: `Bearer ${r.token}` },
        }),
      ),
    );
    t.after(() => {
      for (const s of sockets) s.close();
    });
    const channel = await owner.client.createChannel(world.apollo, 'all-hands');
    await owner.client.sync(channel.id);
    await owner.client.waitUntil(
      async () => (await owner.client.conversation(channel.id)).roster.length === 200,
      60_000,
      'the server roster holds 200 devices',
    );
    assert.equal((await owner.client.conversation(channel.id)).missing.length, 0);

    // Every device gets its Welcome over its socket and joins.
    const states: GroupState[] = [];
    for (const [i, socket] of sockets.entries()) {
      const welcome = await socket.next(
        (f) => f.type === 'welcome' && f.conversation === channel.id,
        30_000,
      );
      const raw = raws[i];
      if (!raw) throw new Error('no device');
      states.push(await joinFromWelcome(unb64(String(welcome.data)), raw.keyPackages, trustAll));
      socket.send({ type: 'ack-welcome', id: welcome.id });
    }
    // The owner speaks; every one of the 199 decrypts it.
    const { seq } = await owner.client.send(channel.id, 'hello, everyone');
    for (const [i, socket] of sockets.entries()) {
      const delivery = await socket.next(
        (f) => f.type === 'delivery' && f.conversation === channel.id && f.seq === seq,
        30_000,
      );
      const opened = await processIncoming(states[i] as GroupState, unb64(String(delivery.data)));
      assert.equal(opened.event.type, 'application');
      if (opened.event.type === 'application') {
        assert.equal(
          JSON.parse(new TextDecoder().decode(opened.event.content)).body.text,
          'hello, everyone',
        );
      }
      states[i] = opened.state;
    }
    // And the last member answers; the owner reads it.
    const last = raws.at(-1);
    if (!last) throw new Error('no device');
    const reply = await encryptApplication(
      states.at(-1) as GroupState,
      new TextEncoder().encode(
        JSON.stringify({
          v: 1,
          id: crypto.randomUUID(),
          sentAt: new Date().toISOString(),
          body: { kind: 'text', text: 'hello from 200' },
        }),
      ),
    );
    const posted = await last.call(`/v1/conversations/${channel.id}/messages`, {
      method: 'POST',
      body: { message: b64(reply.message) },
    });
    assert.equal(posted.status, 200, posted.body);
    await owner.client.waitUntil(
      () => owner.texts(channel.id).includes('hello from 200'),
      30_000,
      'the owner reads the reply',
    );
  });
});
