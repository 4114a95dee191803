import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeClientFrame, parseServerFrame, readDelivery } from './frames.ts';

const delivery = {
  type: 'delivery',
  conversation: '0c7c3b4e-1d2a-4f3b-8c9d-0e1f2a3b4c5d',
  seq: 3,
  kind: 'commit',
  epoch: 1,
  data: 'AAEC',
  sentAt: '2025-01-01T00:00:00.000Z',
  sender: { userId: 'u', deviceId: 'd' },
};

describe('parseServerFrame', () => {
  it('reads every frame the server sends', () => {
    assert.deepEqual(parseServerFrame('{"type":"ready","deviceId":"d"}'), {
      ok: true,
      frame: { type: 'ready', deviceId: 'd' },
    });
    assert.deepEqual(parseServerFrame(JSON.stringify(delivery)), { ok: true, frame: delivery });
    assert.deepEqual(parseServerFrame(JSON.stringify({ ...delivery, sender: null })), {
      ok: true,
      frame: { ...delivery, sender: null },
    });
    const welcome = { type: 'welcome', id: 'w', conversation: 'c', epoch: 2, data: 'AA' };
    assert.deepEqual(parseServerFrame(JSON.stringify(welcome)), { ok: true, frame: welcome });
    assert.deepEqual(parseServerFrame('{"type":"conversation","conversation":"c"}'), {
      ok: true,
      frame: { type: 'conversation', conversation: 'c' },
    });
    assert.deepEqual(parseServerFrame('{"type":"pong"}'), { ok: true, frame: { type: 'pong' } });
    assert.deepEqual(parseServerFrame('{"type":"error","code":"forbidden","message":"no"}'), {
      ok: true,
      frame: { type: 'error', code: 'forbidden', message: 'no' },
    });
  });

  it('refuses what it cannot read rather than using part of it', () => {
    for (const raw of [
      'not json',
      '[]',
      '{"no":"type"}',
      '{"type":"surprise"}',
      '{"type":"ready"}',
      JSON.stringify({ ...delivery, seq: -1 }),
      JSON.stringify({ ...delivery, seq: 1.5 }),
      JSON.stringify({ ...delivery, kind: 'welcome' }),
      JSON.stringify({ ...delivery, data: 7 }),
      JSON.stringify({ ...delivery, sender: { userId: 'u' } }),
      '{"type":"welcome","id":"w","conversation":"c","data":"AA"}',
      '{"type":"error","code":"x"}',
    ]) {
      assert.equal(parseServerFrame(raw).ok, false, raw);
    }
  });

  it('reads log entries that come without their conversation', () => {
    const { type: _, ...entry } = delivery;
    assert.equal(readDelivery(entry)?.seq, 3);
    assert.equal(readDelivery({ ...entry, epoch: 'x' }), null);
  });
});

describe('encodeClientFrame', () => {
  it('writes the frames the protocol defines', () => {
    assert.equal(
      encodeClientFrame({ type: 'ack', conversation: 'c', seq: 4 }),
      '{"type":"ack","conversation":"c","seq":4}',
    );
    assert.equal(encodeClientFrame({ type: 'ping' }), '{"type":"ping"}');
  });
});
