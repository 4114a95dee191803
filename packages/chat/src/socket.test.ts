import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  closeDisposition,
  DeviceSocket,
  reconnectDelay,
  refusalDisposition,
  type SocketHandlers,
  type WsLike,
} from './socket.ts';

describe('closeDisposition', () => {
  it('stops on the codes after which reconnecting cannot help', () => {
    assert.deepEqual(
      [4401, 4409, 4410].map((c) => {
        const d = closeDisposition(c);
        return d.action === 'stop' ? d.code : d.action;
      }),
      ['unauthenticated', 'device_required', 'device_revoked'],
    );
    for (const code of [1000, 1001, 1006, 1011, 1012, 4000]) {
      assert.equal(closeDisposition(code).action, 'reconnect', String(code));
    }
  });

  it('treats a refused upgrade the same way', () => {
    assert.equal(refusalDisposition(401).action, 'stop');
    assert.equal(refusalDisposition(409).action, 'stop');
    assert.equal(refusalDisposition(503).action, 'reconnect');
    assert.equal(refusalDisposition(502).action, 'reconnect');
  });
});

describe('reconnectDelay', () => {
  it('grows exponentially with jitter, up to a cap', () => {
    assert.equal(
      reconnectDelay(0, () => 0),
      250,
    );
    assert.equal(
      reconnectDelay(0, () => 1),
      500,
    );
    assert.equal(
      reconnectDelay(3, () => 1),
      4000,
    );
    assert.equal(
      reconnectDelay(50, () => 1),
      30_000,
    );
    assert.equal(
      reconnectDelay(50, () => 0),
      15_000,
    );
  });
});

class FakeWs implements WsLike {
  readyState = 0;
  sent: string[] = [];
  readonly listeners = new Map<string, ((...args: never[]) => void)[]>();
  on(event: string, listener: (...args: never[]) => void): this {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
    return this;
  }
  emit(event: string, ...args: unknown[]): void {
    for (const l of this.listeners.get(event) ?? []) (l as (...a: unknown[]) => void)(...args);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(code = 1000): void {
    this.readyState = 3;
    this.emit('close', code, Buffer.from(''));
  }
  terminate(): void {
    this.close(1006);
  }
  open(): void {
    this.readyState = 1;
    this.emit('open');
  }
}

function harness() {
  const sockets: FakeWs[] = [];
  const seen: string[] = [];
  const handlers: SocketHandlers = {
    frame: (f) => seen.push(`frame ${f.type}`),
    malformed: (r) => seen.push(`malformed ${r}`),
    stopped: (r) => seen.push(`stopped ${r.code}`),
    disconnected: (ms) => seen.push(`disconnected ${ms}`),
  };
  const socket = new DeviceSocket({
    baseUrl: new URL('https://bulwark.test/'),
    token: 'bws_x',
    handlers,
    pingIntervalMs: 10,
    random: () => 0,
    wsFactory: (url, opts) => {
      assert.equal(url, 'wss://bulwark.test/v1/messaging/ws');
      assert.equal(opts.headers.authorization, 'Bearer bws_x');
      const ws = new FakeWs();
      sockets.push(ws);
      return ws;
    },
  });
  return { socket, sockets, seen };
}

describe('DeviceSocket', () => {
  it('passes frames on, reports malformed ones, and pings while open', async () => {
    const { socket, sockets, seen } = harness();
    socket.start();
    const ws = sockets[0];
    assert.ok(ws);
    ws.open();
    ws.emit('message', Buffer.from('{"type":"ready","deviceId":"d"}'), false);
    ws.emit('message', Buffer.from('{"type":"nonsense"}'), false);
    await new Promise((resolve) => setTimeout(resolve, 25));
    assert.ok(ws.sent.includes('{"type":"ping"}'));
    assert.ok(socket.send({ type: 'ack', conversation: 'c', seq: 1 }));
    socket.close();
    assert.deepEqual(seen.slice(0, 2), ['frame ready', 'malformed unknown frame type "nonsense"']);
    assert.equal(socket.send({ type: 'ping' }), false);
  });

  it('reconnects after a drop, backing off, and starts over after ready', async () => {
    const { socket, sockets, seen } = harness();
    socket.start();
    sockets[0]?.open();
    sockets[0]?.close(1006);
    assert.deepEqual(seen, ['disconnected 250']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(sockets.length, 2);
    sockets[1]?.close(1011);
    assert.equal(seen.at(-1), 'disconnected 500');
    await new Promise((resolve) => setTimeout(resolve, 550));
    sockets[2]?.open();
    socket.markReady();
    sockets[2]?.close(1006);
    assert.equal(seen.at(-1), 'disconnected 250');
    socket.close();
  });

  it('stops for good when the device is revoked', async () => {
    const { socket, sockets, seen } = harness();
    socket.start();
    sockets[0]?.open();
    sockets[0]?.close(4410);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(seen, ['stopped device_revoked']);
    assert.equal(sockets.length, 1);
  });

  it('gives up on a connection that stops answering pings', async () => {
    const { socket, sockets, seen } = harness();
    socket.start();
    sockets[0]?.open();
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(sockets[0]?.readyState, 3);
    assert.ok(seen.includes('disconnected 250'));
    socket.close();
  });
});
