import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { connect } from '@nats-io/transport-node';
import pino from 'pino';
import { natsUrl } from '../../../../test/support/nats.ts';
import { freePort } from '../../../../test/support/process.ts';
import { type EventBus, LocalEventBus, NatsEventBus } from './bus.ts';

const logger = pino({ level: 'silent' });

/** The events a subscription receives, and a wait for the n-th. */
function collect(bus: EventBus, subject: string) {
  const got: unknown[] = [];
  const waiters: (() => void)[] = [];
  const stop = bus.subscribe(subject, (event) => {
    got.push(event);
    for (const w of waiters.splice(0)) w();
  });
  const count = (n: number, timeoutMs = 2000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`got ${got.length} of ${n}`)), timeoutMs);
      const check = () => {
        if (got.length >= n) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { got, stop, count };
}

const settle = (ms = 150) => new Promise((resolve) => setTimeout(resolve, ms));

async function natsBus(t: TestContext, url: string): Promise<NatsEventBus> {
  const bus = await NatsEventBus.connect({ url, logger, name: 'bulwark-test' });
  t.after(() => bus.close());
  return bus;
}

describe('LocalEventBus', () => {
  it('delivers a copy to each subscriber of the exact subject, after publish returns', async () => {
    const bus = new LocalEventBus(logger);
    const a = collect(bus, 'bulwark.i1.project.p1');
    const b = collect(bus, 'bulwark.i1.project.p1');
    const other = collect(bus, 'bulwark.i2.project.p1');
    const event = { type: 'x', when: new Date(0) };
    await bus.publish('bulwark.i1.project.p1', event);
    assert.equal(a.got.length, 0, 'not inside the publisher’s call');
    await a.count(1);
    await b.count(1);
    assert.deepEqual(a.got[0], { type: 'x', when: '1970-01-01T00:00:00.000Z' }, 'a JSON copy');
    assert.notEqual(a.got[0], b.got[0], 'each subscriber its own copy');
    await settle();
    assert.equal(other.got.length, 0, 'another subject (installation) sees nothing');
  });

  it('stops delivering after unsubscribe and after close; a failing subscriber harms no other', async () => {
    const bus = new LocalEventBus(logger);
    bus.subscribe('s', () => {
      throw new Error('subscriber bug');
    });
    const a = collect(bus, 's');
    const b = collect(bus, 's');
    await bus.publish('s', { n: 1 });
    await a.count(1);
    await b.count(1);
    a.stop();
    await bus.publish('s', { n: 2 });
    await b.count(2);
    assert.equal(a.got.length, 1);
    await bus.close();
    await bus.publish('s', { n: 3 });
    await settle();
    assert.equal(b.got.length, 2);
  });
});

describe('NatsEventBus', () => {
  it('carries an event from one connection to another', async (t) => {
    const url = await natsUrl(t);
    if (!url) return;
    const node1 = await natsBus(t, url);
    const node2 = await natsBus(t, url);
    const subject = `bulwark.test_${randomUUID().slice(0, 8)}.project.${randomUUID()}`;
    const there = collect(node2, subject);
    const here = collect(node1, subject);
    // A subscription is registered with the server asynchronously; flush waits for it.
    await node2.flush();
    await node1.flush();
    const started = Date.now();
    await node1.publish(subject, { type: 'project.updated', fields: ['name'] });
    await there.count(1, 1000);
    await here.count(1, 1000);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(there.got, [{ type: 'project.updated', fields: ['name'] }]);
  });

  it('keeps installations apart and stops after unsubscribe', async (t) => {
    const url = await natsUrl(t);
    if (!url) return;
    const bus = await natsBus(t, url);
    const project = randomUUID();
    const mine = collect(bus, `bulwark.inst_a.project.${project}`);
    const theirs = collect(bus, `bulwark.inst_b.project.${project}`);
    await bus.flush();
    await bus.publish(`bulwark.inst_a.project.${project}`, { n: 1 });
    await mine.count(1);
    mine.stop();
    await settle(200);
    await bus.publish(`bulwark.inst_a.project.${project}`, { n: 2 });
    await settle(300);
    assert.equal(mine.got.length, 1);
    assert.equal(theirs.got.length, 0);
  });

  it('drops a message that is not JSON and goes on', async (t) => {
    const url = await natsUrl(t);
    if (!url) return;
    const bus = await natsBus(t, url);
    const subject = `bulwark.test.project.${randomUUID()}`;
    const sub = collect(bus, subject);
    await bus.flush();
    const raw = await connect({ servers: [url] });
    t.after(() => raw.close());
    raw.publish(subject, 'not json {');
    raw.publish(subject, JSON.stringify({ ok: true }));
    await raw.flush();
    await sub.count(1);
    await settle();
    assert.deepEqual(sub.got, [{ ok: true }]);
  });

  it('never throws from publish, even closed', async (t) => {
    const url = await natsUrl(t);
    if (!url) return;
    const bus = await NatsEventBus.connect({ url, logger });
    await bus.close();
    await bus.publish('bulwark.test.project.x', { n: 1 });
    await bus.close();
  });

  it('fails to connect, quickly, when nothing listens', async () => {
    const port = await freePort();
    await assert.rejects(
      NatsEventBus.connect({ url: `nats://127.0.0.1:${port}`, logger, timeoutMs: 2000 }),
    );
  });
});
