import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import { makeTestPki, type TestPki } from '../../../../../test/support/pki.ts';
import { tempDir } from '../../../../../test/support/temp.ts';
import type { SiemSinkConfig } from '../../config/schema.ts';
import type { LedgerRecord } from './format.ts';
import {
  type SiemCursorStore,
  type SiemEntrySource,
  SiemForwarder,
  type SiemLogger,
} from './forwarder.ts';

/** A TLS receiver that splits octet-counted frames and keeps the seq of each message. */
async function receiver(t: TestContext, pki: TestPki) {
  const seqs: number[] = [];
  const sockets = new Set<TLSSocket>();
  let connections = 0;
  const server = createServer(
    {
      key: readFileSync(pki.serverKeyFile),
      cert: readFileSync(pki.serverCertFile),
      minVersion: 'TLSv1.2',
    },
    (socket) => {
      connections += 1;
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        for (;;) {
          const space = buffered.indexOf(0x20);
          if (space < 0) return;
          const length = Number(buffered.subarray(0, space).toString('ascii'));
          assert.ok(Number.isInteger(length) && length > 0, 'MSG-LEN');
          if (buffered.length < space + 1 + length) return;
          const message = buffered.subarray(space + 1, space + 1 + length).toString('utf8');
          buffered = buffered.subarray(space + 1 + length);
          seqs.push(Number(/ seq="(\d+)"/.exec(message)?.[1]));
        }
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    seqs,
    connections: () => connections,
    /** Breaks every open connection (as a crashed SIEM would). */
    breakConnections: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

function sinkFor(pki: TestPki, port: number): SiemSinkConfig {
  return {
    id: 'test',
    url: `tls://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    caFile: pki.caFile,
    hostname: 'h',
    enterpriseId: '32473',
  };
}

function memoryLedger(n: number) {
  const records: LedgerRecord[] = [];
  const add = (count: number) => {
    for (let i = 0; i < count; i += 1) {
      const seq = records.length;
      const text = JSON.stringify({ action: 'test.event', seq, time: '2026-01-01T00:00:00.000Z' });
      records.push({ seq, text, leafHash: seq.toString(16).padStart(64, '0') });
    }
  };
  add(n);
  let failReads = 0;
  const source: SiemEntrySource = {
    async read(from, limit) {
      if (failReads > 0) {
        failReads -= 1;
        throw new Error('database is locked');
      }
      return records.filter((r) => r.seq >= from).slice(0, limit);
    },
    async size() {
      return records.length;
    },
  };
  let saved: number | null = null;
  const saves: (number | null)[] = [];
  const cursor: SiemCursorStore = {
    async load() {
      return saved;
    },
    async save(seq) {
      saved = seq;
      saves.push(seq);
    },
  };
  return {
    source,
    cursor,
    add,
    saves,
    failNextReads: (k: number) => {
      failReads = k;
    },
  };
}

function quietLogger(): SiemLogger & { warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    warn: (_obj, msg) => warnings.push(msg),
    info: () => {},
  };
}

async function until(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const fast = { pollIntervalMs: 30, backoff: { initialMs: 20, maxMs: 100 } };

describe('SiemForwarder', () => {
  it('sends in order, moves the cursor after the flush, and resumes after it', async (t) => {
    const pki = await makeTestPki(join(tempDir(t), 'pki'), 'Bulwark test SIEM CA');
    const siem = await receiver(t, pki);
    const ledger = memoryLedger(5);
    const logger = quietLogger();
    const first = new SiemForwarder({
      sink: sinkFor(pki, siem.port),
      source: ledger.source,
      cursor: ledger.cursor,
      logger,
      ...fast,
      batchSize: 2,
    });
    first.start();
    await until('five entries', () => first.status().lastSentSeq === 4);
    assert.deepEqual(siem.seqs, [0, 1, 2, 3, 4]);
    assert.deepEqual(ledger.saves, [1, 3, 4], 'once per flushed batch');
    assert.deepEqual(first.status(), {
      sinkId: 'test',
      url: `tls://127.0.0.1:${siem.port}`,
      connected: true,
      lastSentSeq: 4,
      lag: 0,
      lastError: null,
      lastErrorAt: null,
    });
    await first.stop();
    assert.equal(first.status().connected, false);

    ledger.add(2);
    const second = new SiemForwarder({
      sink: sinkFor(pki, siem.port),
      source: ledger.source,
      cursor: ledger.cursor,
      logger,
      ...fast,
    });
    second.start();
    await until('two more', () => second.status().lastSentSeq === 6);
    await second.stop();
    assert.deepEqual(siem.seqs, [0, 1, 2, 3, 4, 5, 6], 'from the cursor on, no repeat');
    assert.deepEqual(logger.warnings, []);
  });

  it('after a broken connection sends the latest entries again, keeping the cursor before them until then', async (t) => {
    const pki = await makeTestPki(join(tempDir(t), 'pki'), 'Bulwark test SIEM CA');
    const siem = await receiver(t, pki);
    const ledger = memoryLedger(3);
    const forwarder = new SiemForwarder({
      sink: sinkFor(pki, siem.port),
      source: ledger.source,
      cursor: ledger.cursor,
      logger: quietLogger(),
      ...fast,
    });
    forwarder.start();
    t.after(() => forwarder.stop());
    await until('three entries', () => siem.seqs.length === 3);
    siem.breakConnections();
    await until('a new connection', () => siem.connections() === 2);
    ledger.add(1);
    await until('the resend and the new entry', () => siem.seqs.includes(3));
    assert.deepEqual(siem.seqs, [0, 1, 2, 0, 1, 2, 3]);
    // Back to before the resent entries until they are sent again.
    assert.deepEqual(ledger.saves.slice(0, 2), [2, null]);
    assert.equal(ledger.saves.at(-1), 3);
    assert.equal(forwarder.status().lastSentSeq, 3);
  });

  it('retries a failing read and reports it; stops at once while the SIEM is unreachable', async (t) => {
    const pki = await makeTestPki(join(tempDir(t), 'pki'), 'Bulwark test SIEM CA');
    const siem = await receiver(t, pki);
    const ledger = memoryLedger(2);
    ledger.failNextReads(2);
    const logger = quietLogger();
    const forwarder = new SiemForwarder({
      sink: sinkFor(pki, siem.port),
      source: ledger.source,
      cursor: ledger.cursor,
      logger,
      ...fast,
    });
    forwarder.start();
    await until('the entries, after the failed reads', () => siem.seqs.length === 2);
    assert.equal(forwarder.status().lastError, 'database is locked');
    assert.deepEqual(logger.warnings, ['SIEM stream interrupted; retrying with backoff'], 'once');
    await forwarder.stop();

    // Nothing listens here.
    const closed = new SiemForwarder({
      sink: sinkFor(pki, 1),
      source: ledger.source,
      cursor: ledger.cursor,
      logger,
      ...fast,
    });
    closed.start();
    await until('the connection error', () => closed.status().lastError !== null);
    assert.match(closed.status().lastError ?? '', /ECONNREFUSED/);
    assert.equal(closed.status().connected, false);
    const started = Date.now();
    await closed.stop();
    assert.ok(Date.now() - started < 500, 'stop does not wait for the backoff');
  });
});
