import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ChatEvent, ChatEvents } from './events.ts';

const ready = (deviceId: string): ChatEvent => ({ type: 'ready', deviceId });

describe('ChatEvents', () => {
  it('waits for a matching event, and times out without one', async () => {
    const events = new ChatEvents();
    const waiting = events.waitFor((e) => e.type === 'ready' && e.deviceId === 'b', 1000);
    events.emit(ready('a'));
    events.emit(ready('b'));
    assert.deepEqual(await waiting, ready('b'));
    await assert.rejects(
      events.waitFor(() => false, 20),
      /within 20 ms/,
    );
  });

  it('re-checks a condition after every event', async () => {
    const events = new ChatEvents();
    let count = 0;
    const done = events.waitUntil(() => count >= 3, 1000);
    for (let i = 0; i < 3; i++) {
      count += 1;
      events.emit(ready(String(i)));
    }
    await done;
    await events.waitUntil(() => true, 1); // already true: no event needed
    await assert.rejects(
      events.waitUntil(() => false, 20, 'never'),
      /never did not hold/,
    );
  });

  it('streams events until the signal aborts', async () => {
    const events = new ChatEvents();
    const abort = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of events.stream(abort.signal)) {
        if (e.type === 'ready') seen.push(e.deviceId);
        if (seen.length === 2) abort.abort();
      }
    })();
    await new Promise((resolve) => setImmediate(resolve));
    events.emit(ready('x'));
    events.emit(ready('y'));
    await reading;
    assert.deepEqual(seen, ['x', 'y']);
  });

  it('keeps going when a listener throws', () => {
    const events = new ChatEvents();
    let reached = false;
    events.on(() => {
      throw new Error('listener bug');
    });
    events.on(() => {
      reached = true;
    });
    events.emit(ready('a'));
    assert.ok(reached);
  });
});
