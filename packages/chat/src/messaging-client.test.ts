/**
 * Scenario tests: several devices in one process, real MLS from
 * `@bulwark/crypto`, against the in-process fake Delivery Service. The
 * same tests against the real server live with the server's end-to-end
 * tests.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { asMessageId } from '@bulwark/crypto';
import { createCryptoEngine } from './crypto-engine.ts';
import { MemoryDeviceStore } from './device-store.ts';
import type { ChatEvent } from './events.ts';
import { MessagingClient } from './messaging-client.ts';
import { FakeDeliveryService } from './test-support/fake-delivery-service.ts';

const engine = createCryptoEngine();

interface Device {
  client: MessagingClient;
  store: MemoryDeviceStore;
  userId: string;
  events: ChatEvent[];
}

async function device(
  ds: FakeDeliveryService,
  userId: string,
  store = new MemoryDeviceStore(),
  token = ds.newSession(userId),
): Promise<Device> {
  const client = new MessagingClient({
    baseUrl: ds.baseUrl,
    token,
    store,
    engine,
    fetchImpl: ds.fetch,
    wsFactory: ds.wsFactory,
  });
  const events: ChatEvent[] = [];
  client.on((e) => events.push(e));
  await client.ensureDevice(`${userId.slice(0, 4)} laptop`);
  await client.connect();
  return { client, store, userId, events };
}

async function texts(d: Device, conversation: string): Promise<string[]> {
  const timeline = await d.client.timeline(conversation);
  return timeline.fold.messages.map((m) => (m.deleted ? '(deleted)' : m.text));
}

function waitForTexts(d: Device, conversation: string, count: number, timeoutMs = 20_000) {
  return d.client.waitUntil(
    async () => (await texts(d, conversation)).length >= count,
    timeoutMs,
    `${count} messages on ${d.userId.slice(0, 4)}`,
  );
}

describe('MessagingClient against the fake Delivery Service', { timeout: 120_000 }, () => {
  let ds: FakeDeliveryService;
  const project = randomUUID();
  const alice = randomUUID();
  const bob = randomUUID();
  const carol = randomUUID();
  const devices: Device[] = [];

  before(async () => {
    ds = await new FakeDeliveryService().start();
    for (const u of [alice, bob, carol]) ds.addUser(u, [project]);
  });

  after(async () => {
    await Promise.all(devices.map((d) => d.client.close()));
    if (process.env.CHAT_TEST_DEBUG) {
      for (const d of devices) {
        const odd = d.events.filter((e) => e.type === 'error' || e.type === 'warning');
        console.log(d.userId.slice(0, 4), JSON.stringify(odd, null, 1));
      }
      console.log(ds.requests.filter((r) => r.startsWith('POST')).join('\n'));
    }
  });

  it('establishes a channel, adds everyone, and delivers messages, edits and reactions', async () => {
    const a = await device(ds, alice);
    const b = await device(ds, bob);
    const c = await device(ds, carol);
    devices.push(a, b, c);

    const channel = await a.client.createChannel(project, 'general');
    await b.client.waitUntil(async () => (await b.client.membership(channel.id)).joined, 20_000);
    await c.client.waitUntil(async () => (await c.client.membership(channel.id)).joined, 20_000);

    const hello = await a.client.send(channel.id, 'hello, team');
    assert.ok(hello.seq !== null && hello.seq > 0);
    await waitForTexts(b, channel.id, 1);
    await waitForTexts(c, channel.id, 1);
    assert.deepEqual(await texts(c, channel.id), ['hello, team']);

    await b.client.send(channel.id, {
      kind: 'reply',
      to: asMessageId(hello.messageId),
      text: 'hi!',
    });
    const typo = await c.client.send(channel.id, 'helo');
    await c.client.send(channel.id, {
      kind: 'edit',
      target: asMessageId(typo.messageId),
      text: 'hello',
    });
    await b.client.send(channel.id, {
      kind: 'reaction',
      target: asMessageId(hello.messageId),
      emoji: '👍',
    });
    // Not carol's message: every reader ignores the edit.
    await a.client.send(channel.id, {
      kind: 'edit',
      target: asMessageId(typo.messageId),
      text: 'X',
    });

    for (const d of [a, b, c]) {
      await d.client.waitUntil(
        async () => {
          const t = await d.client.timeline(channel.id);
          const first = t.fold.messages.find((m) => m.id === hello.messageId);
          return Object.keys(t.fold.seen).length >= 6 && (first?.reactions.length ?? 0) === 1;
        },
        20_000,
        'edits and reactions',
      );
    }
    for (const d of [a, b, c]) {
      assert.deepEqual((await texts(d, channel.id)).sort(), ['hello', 'hello, team', 'hi!']);
    }
    const ignored = b.events.find((e) => e.type === 'warning' && e.kind === 'ignored-content');
    assert.ok(ignored, 'the foreign edit is reported');
  });

  it('adds a second device of a user, warns the others, and removes it when revoked', async () => {
    const [a, b, c] = devices as [Device, Device, Device];
    const [channel] = await a.client.conversations(project);
    assert.ok(channel);
    const b2 = await device(ds, bob);
    devices.push(b2);
    await b2.client.waitUntil(async () => (await b2.client.membership(channel.id)).joined, 20_000);
    await a.client.send(channel.id, 'welcome, second device');
    await waitForTexts(b2, channel.id, 1);
    assert.deepEqual(await texts(b2, channel.id), ['welcome, second device']);

    // Alice and Carol saw Bob's new device key in the conversation it touches.
    for (const d of [a, c]) {
      await d.client.waitUntil(
        () =>
          d.events.some(
            (e) =>
              e.type === 'warning' &&
              e.kind === 'new-device' &&
              e.conversation === channel.id &&
              e.deviceId === b2.client.device?.deviceId,
          ),
        10_000,
        'a new-device warning',
      );
    }
    const notices = (await a.client.timeline(channel.id)).notices.filter(
      (n) => n.kind === 'new-device',
    );
    assert.equal(notices.length, 1);

    const removedDevice = b2.client.device?.deviceId ?? '';
    await b.client.revokeDevice(removedDevice);
    // A member commits the server's Remove proposal; sending works again afterwards.
    const sent = await c.client.send(channel.id, 'after the revocation');
    assert.ok(sent.seq !== null);
    await waitForTexts(a, channel.id, 5);
    const fake = ds.conversations.get(channel.id);
    assert.ok(fake && ![...fake.roster.values()].includes(removedDevice));
    assert.equal(fake.pendingRemovals.length, 0);
    assert.ok(!(await texts(b2, channel.id)).includes('after the revocation'));
  });

  it('survives concurrent senders and a dropped connection without losing or repeating', async () => {
    const [a, b, c] = devices as [Device, Device, Device];
    const [channel] = await a.client.conversations(project);
    assert.ok(channel);
    const before = (await texts(a, channel.id)).length;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 5; i++) {
      for (const [name, d] of [
        ['a', a],
        ['b', b],
        ['c', c],
      ] as const) {
        sends.push(d.client.send(channel.id, `${name}${i}`));
      }
      if (i === 2) ds.dropSockets();
    }
    await Promise.all(sends);
    for (const d of [a, b, c]) {
      await waitForTexts(d, channel.id, before + 15);
      const all = await texts(d, channel.id);
      assert.equal(all.length, before + 15, 'no repeats');
    }
  });

  it('binds the stored device again in a new session and does not process anything twice', async () => {
    const [a] = devices as [Device, Device, Device];
    const [channel] = await a.client.conversations(project);
    assert.ok(channel);
    const beforeTexts = await texts(a, channel.id);
    await a.client.close();
    const again = await device(ds, alice, a.store);
    devices.push(again);
    assert.equal(again.client.device?.deviceId, a.client.device?.deviceId);
    await again.client.idle();
    const [b] = devices.slice(1) as [Device];
    await b.client.send(channel.id, 'are you back?');
    await waitForTexts(again, channel.id, beforeTexts.length + 1);
    assert.deepEqual(
      (await texts(again, channel.id)).sort(),
      [...beforeTexts, 'are you back?'].sort(),
    );
    const undecryptable = (await again.client.timeline(channel.id)).notices.filter(
      (n) => n.kind === 'undecryptable',
    );
    assert.deepEqual(undecryptable, []);
  });

  it('records what it cannot decrypt as a notice and keeps going', async () => {
    const [, b, c] = devices as [Device, Device, Device];
    const [channel] = await b.client.conversations(project);
    assert.ok(channel);
    const fake = ds.conversations.get(channel.id);
    assert.ok(fake?.epoch);
    const garbage = crypto.getRandomValues(new Uint8Array(64));
    const old = ds.inject(channel.id, 'application', garbage, fake.epoch - 1);
    const current = ds.inject(channel.id, 'application', garbage, fake.epoch);
    await b.client.send(channel.id, 'still here');
    await c.client.waitUntil(
      async () => (await texts(c, channel.id)).includes('still here'),
      20_000,
      'the message after the garbage',
    );
    const notices = (await c.client.timeline(channel.id)).notices.filter(
      (n) => n.kind === 'undecryptable',
    );
    assert.deepEqual(
      notices.map((n) => n.seq),
      [old.seq, current.seq],
    );
    // Only the one at the current epoch means this device may be out of step.
    const errors = c.events.filter((e) => e.type === 'error' && e.code === 'out_of_step');
    assert.equal(errors.length, 1);
  });

  it('sends and fetches an encrypted attachment', async () => {
    const [, b, c] = devices as [Device, Device, Device];
    const [channel] = await b.client.conversations(project);
    assert.ok(channel);
    const file = new TextEncoder().encode('the quarterly numbers');
    const sent = await b.client.sendAttachment(channel.id, file, {
      name: 'q3.txt',
      mediaType: 'text/plain',
    });
    await c.client.waitUntil(
      async () =>
        (await c.client.timeline(channel.id)).fold.messages.some((m) => m.id === sent.messageId),
      20_000,
    );
    const message = (await c.client.timeline(channel.id)).fold.messages.find(
      (m) => m.id === sent.messageId,
    );
    assert.ok(message?.attachment);
    const bytes = await c.client.fetchAttachment(channel.id, message.attachment);
    assert.equal(new TextDecoder().decode(bytes), 'the quarterly numbers');
  });
});
