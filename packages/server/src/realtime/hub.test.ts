import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import pino from 'pino';
import { BulwarkError } from '../errors.ts';
import type { Actor } from '../identity/sessions/service.ts';
import { LocalEventBus } from './bus.ts';
import type { LiveSocket } from './connection.ts';
import { type HubLimits, RealtimeHub } from './hub.ts';

const logger = pino({ level: 'silent' });

/** A socket the hub writes to; the test reads what it sent and plays the client. */
class FakeSocket extends EventEmitter implements LiveSocket {
  readyState = 1;
  bufferedAmount = 0;
  sent: Record<string, unknown>[] = [];
  closedWith: { code: number | undefined; reason: string | undefined } | null = null;
  terminated = false;
  pings = 0;

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  ping(): void {
    this.pings += 1;
  }
  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    this.readyState = 3;
    this.emit('close');
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
    this.emit('close');
  }
  client(frame: unknown): void {
    this.emit('message', Buffer.from(JSON.stringify(frame)), false);
  }
  /** A method, so an earlier assertion on closedWith does not narrow it for the compiler. */
  closeCode(): number | undefined {
    return this.closedWith?.code;
  }
  framesOf(type: string) {
    return this.sent.filter((f) => f.type === type);
  }
}

function actor(userId = 'u1'): Actor {
  return {
    userId,
    sessionId: 's1',
    sessionKind: 'bearer',
    isAdmin: false,
    orgId: 'o1',
    orgRole: 'member',
    methods: ['passkey'],
    stepUpAt: null,
    passkeyAaguid: null,
    createdAt: new Date(0),
    lastSeenAt: new Date(0),
  };
}

/** A hub over an in-process bus with a hand-moved clock and an access table the test edits. */
function world(limits: Partial<HubLimits> = {}) {
  let now = 0;
  const readers = new Map<string, Set<string>>();
  const sessions = new Set(['token-1', 'token-2']);
  const asked = { sessions: 0, reads: 0 };
  const bus = new LocalEventBus(logger);
  const hub = new RealtimeHub({
    bus,
    logger,
    now: () => now,
    limits: { heartbeatMs: 3_600_000, ...limits },
    subject: (p) => `bulwark.inst.project.${p}`,
    access: {
      async session(token) {
        asked.sessions += 1;
        return sessions.has(token) ? actor() : null;
      },
      async readProject(a, projectId) {
        asked.reads += 1;
        if (!readers.get(projectId)?.has(a.userId)) {
          throw new BulwarkError('not_found', 'No such project.');
        }
      },
    },
  });
  const connect = (token = 'token-1', userId = 'u1') => {
    const socket = new FakeSocket();
    hub.accept(socket, { actor: actor(userId), token, source: '127.0.0.1' });
    return socket;
  };
  const allow = (projectId: string, userId = 'u1') => {
    const set = readers.get(projectId) ?? new Set();
    set.add(userId);
    readers.set(projectId, set);
  };
  return {
    hub,
    bus,
    connect,
    allow,
    deny: (projectId: string, userId = 'u1') => readers.get(projectId)?.delete(userId),
    endSession: (token: string) => sessions.delete(token),
    advance: (ms: number) => {
      now += ms;
    },
    asked,
  };
}

/** Lets queued work, setImmediate deliveries and their re-checks run. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('RealtimeHub', () => {
  it('subscribes through the access check and delivers the project’s events', async () => {
    const w = world();
    const p = randomUUID();
    w.allow(p);
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    assert.deepEqual(s.sent, [{ type: 'subscribed', project: p }]);
    await w.hub.publishProject(p, { type: 'issue.moved', issue: 'i1' });
    await settle();
    assert.deepEqual(s.sent[1], {
      type: 'event',
      project: p,
      event: { type: 'issue.moved', issue: 'i1' },
    });
    // Within recheckMs the decision is reused: one read check for subscribe and event.
    assert.equal(w.asked.reads, 1);
  });

  it('answers a refused subscription with the checker’s error and sends nothing after', async () => {
    const w = world();
    const p = randomUUID();
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    assert.deepEqual(s.sent, [
      { type: 'error', code: 'not_found', message: 'No such project.', project: p },
    ]);
    await w.hub.publishProject(p, { type: 'x' });
    await settle();
    assert.equal(s.sent.length, 1);
  });

  it('re-checks before delivering once the last check is stale, and drops a lost subscription', async () => {
    const w = world({ recheckMs: 5000 });
    const p = randomUUID();
    w.allow(p);
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    w.deny(p);
    w.advance(5000);
    await w.hub.publishProject(p, { type: 'x' });
    await settle();
    assert.deepEqual(s.sent.at(-1), {
      type: 'error',
      code: 'not_found',
      message: 'No such project.',
      project: p,
    });
    assert.equal(s.framesOf('event').length, 0);
    await w.hub.publishProject(p, { type: 'y' });
    await settle();
    assert.equal(s.framesOf('event').length, 0, 'the subscription is gone');
  });

  it('re-checks at once when the event says access changed', async () => {
    const w = world();
    const p = randomUUID();
    w.allow(p);
    w.allow(p, 'u2');
    const gone = w.connect('token-1', 'u1');
    const stays = w.connect('token-2', 'u2');
    gone.client({ type: 'subscribe', project: p });
    stays.client({ type: 'subscribe', project: p });
    await settle();
    w.deny(p, 'u1');
    await w.hub.publishProject(p, { type: 'member.changed', user: 'u1' }, { accessChanged: true });
    await settle();
    assert.equal(gone.framesOf('event').length, 0);
    assert.equal(gone.framesOf('error').length, 1);
    assert.equal(stays.framesOf('event').length, 1);
  });

  it('closes the socket of a session that ended (4401)', async () => {
    const w = world({ recheckMs: 5000 });
    const p = randomUUID();
    w.allow(p);
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    w.endSession('token-1');
    w.advance(6000);
    await w.hub.publishProject(p, { type: 'x' });
    await settle();
    assert.equal(s.closeCode(), 4401);
    assert.equal(s.framesOf('event').length, 0);
    assert.equal(w.hub.connections, 0);
  });

  it('heartbeat: pings, closes a socket that did not answer, and re-checks idle sessions', async () => {
    const w = world();
    const answering = w.connect('token-1');
    const silent = w.connect('token-2');
    w.hub.heartbeat();
    assert.equal(answering.pings, 1);
    answering.emit('pong');
    w.advance(6000);
    w.endSession('token-2');
    w.hub.heartbeat();
    await settle();
    assert.ok(silent.terminated, 'no pong: dropped');
    assert.equal(answering.pings, 2);
    assert.equal(answering.closedWith, null);
    assert.ok(w.asked.sessions >= 1);
  });

  it('answers malformed and oversized frames with error frames, then closes an abusive client', async () => {
    const w = world({ badFramesPerWindow: 3, maxFrameBytes: 100 });
    const s = w.connect();
    s.emit('message', Buffer.from('not json'), false);
    s.client({ type: 'subscribe', project: 'not-a-uuid' });
    s.emit('message', Buffer.from(JSON.stringify({ type: 'ping', pad: 'x'.repeat(200) })), false);
    await settle();
    assert.deepEqual(
      s.sent.map((f) => f.code),
      ['bad_request', 'bad_request', 'payload_too_large'],
    );
    assert.equal(s.closedWith, null, 'still open');
    s.emit('message', Buffer.from([1, 2, 3]), true);
    assert.equal(s.closeCode(), 1008);
  });

  it('limits frames per window, subscriptions per connection and connections per account', async () => {
    const w = world({ framesPerWindow: 5, maxSubscriptions: 2, maxConnectionsPerUser: 2 });
    const s = w.connect();
    const projects = [randomUUID(), randomUUID(), randomUUID()];
    for (const p of projects) {
      w.allow(p);
      s.client({ type: 'subscribe', project: p });
    }
    await settle();
    assert.equal(s.framesOf('subscribed').length, 2);
    assert.equal(s.framesOf('error')[0]?.code, 'rate_limited');
    s.client({ type: 'ping' });
    s.client({ type: 'ping' });
    assert.equal(s.closedWith, null, 'five frames in the window');
    s.client({ type: 'ping' });
    assert.equal(s.closeCode(), 1008, 'the sixth frame in the window');

    w.connect();
    w.connect();
    const third = w.connect();
    assert.equal(third.closeCode(), 1013);
  });

  it('drops a slow consumer instead of buffering for it', async () => {
    const w = world({ maxBufferedBytes: 1000 });
    const p = randomUUID();
    w.allow(p);
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    s.bufferedAmount = 5000;
    await w.hub.publishProject(p, { type: 'x' });
    await settle();
    assert.ok(s.terminated);
    assert.equal(w.hub.connections, 0);
  });

  it('follows a project on the bus while someone here subscribes, and no longer', async () => {
    const w = world();
    const p = randomUUID();
    w.allow(p);
    const subject = `bulwark.inst.project.${p}`;
    const s = w.connect();
    s.client({ type: 'subscribe', project: p });
    await settle();
    // Another node publishing straight onto the bus reaches this node's subscriber.
    await w.bus.publish(subject, { v: 1, project: p, event: { type: 'remote' } });
    // A malformed envelope (wrong project, no event) is dropped.
    await w.bus.publish(subject, { v: 1, project: randomUUID(), event: { type: 'spoof' } });
    await w.bus.publish(subject, { v: 1, project: p });
    await settle();
    assert.deepEqual(
      s.framesOf('event').map((f) => f.event),
      [{ type: 'remote' }],
    );
    s.client({ type: 'unsubscribe', project: p });
    await settle();
    assert.deepEqual(s.sent.at(-1), { type: 'unsubscribed', project: p });
    await w.hub.publishProject(p, { type: 'after' });
    await settle();
    assert.equal(s.framesOf('event').length, 1);
  });

  it('closes every socket with 1001 on close, and refuses new ones', async () => {
    const w = world();
    const s = w.connect();
    await w.hub.close();
    assert.equal(s.closeCode(), 1001);
    assert.equal(w.connect().closeCode(), 1001);
  });
});
