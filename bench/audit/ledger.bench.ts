/**
 * Audit ledger benchmark: appends per second (each in its own transaction,
 * tree maintained in storage), inclusion-proof latency, and full verify
 * time, on SQLCipher and PostgreSQL; plus the in-memory tree alone.
 *
 *   node bench/audit/ledger.bench.ts [appends=5000] [verifyEntries=100000]
 *
 * PostgreSQL is used when TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/test) answers; a schema of its own is
 * created and dropped.
 */

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ed25519NoteSigner } from '@bulwark/ledger';
import pg from 'pg';
import { AuditLedger } from '../../packages/server/src/audit/ledger/ledger.ts';
import { MemoryNodeStore, MerkleTree } from '../../packages/server/src/audit/merkle/tree.ts';
import { RootKey } from '../../packages/server/src/keys/root-key.ts';
import { createStorage, type StorageConfig } from '../../packages/server/src/storage/storage.ts';

const appends = Number(process.argv[2] ?? 5000);
const verifyEntries = Number(process.argv[3] ?? 100_000);
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** Which parts to run: any of memory, sqlcipher, postgres (comma-separated). */
const parts = new Set((process.env.BENCH_PARTS ?? 'memory,sqlcipher,postgres').split(','));

function event(i: number) {
  return {
    action: 'bench.change',
    actor: {
      kind: 'user' as const,
      userId: `u-${i % 97}`,
      source: '127.0.0.1',
      channel: 'api' as const,
    },
    target: { type: 'thing', id: `t-${i}` },
    after: { i, text: 'x'.repeat(64) },
  };
}

async function run(label: string, cfg: StorageConfig) {
  const installationId = `bwk_${randomBytes(10).toString('hex')}`;
  const root = RootKey.generate(installationId);
  const storage = await createStorage(cfg, root);
  const seed = root.derive('ledgerSigning');
  const ledger = new AuditLedger({
    storage,
    signer: new Ed25519NoteSigner(`bulwark/${installationId}`, seed.bytes()),
    clock: { now: () => new Date() },
    hashSource: (s) => s,
  });
  try {
    let t0 = performance.now();
    for (let i = 0; i < appends; i++) await ledger.record(event(i));
    const appendMs = performance.now() - t0;
    await ledger.signHead();

    // Fill up to verifyEntries in bigger transactions (many appends each) to keep setup short.
    t0 = performance.now();
    const perTx = 500;
    for (let done = appends; done < verifyEntries; done += perTx) {
      await storage.db.transaction().execute(async (trx) => {
        for (let i = 0; i < perTx && done + i < verifyEntries; i++)
          await ledger.append(trx, event(done + i));
      });
    }
    const fillMs = performance.now() - t0;
    const head = await ledger.signHead();

    const proofs = 200;
    t0 = performance.now();
    for (let i = 0; i < proofs; i++)
      await ledger.inclusionProof(Math.floor(Math.random() * head.size), head.size);
    const proofMs = (performance.now() - t0) / proofs;

    const heapBefore = process.memoryUsage().heapUsed;
    t0 = performance.now();
    const result = await ledger.verify();
    const verifyMs = performance.now() - t0;
    const heapAfter = process.memoryUsage().heapUsed;
    if (!result.ok) throw new Error(`verify failed: ${JSON.stringify(result)}`);
    console.log(
      JSON.stringify({
        backend: label,
        appendsPerSecondOwnTx: Math.round((appends / appendMs) * 1000),
        appendsPerSecondBatched: Math.round(((verifyEntries - appends) / fillMs) * 1000),
        inclusionProofMs: Number(proofMs.toFixed(2)),
        verifyEntries: head.size,
        verifySeconds: Number((verifyMs / 1000).toFixed(1)),
        verifyEntriesPerSecond: Math.round((head.size / verifyMs) * 1000),
        verifyHeapDeltaMiB: Math.round((heapAfter - heapBefore) / 2 ** 20),
      }),
    );
  } finally {
    await storage.close();
  }
}

async function memoryTree(n: number) {
  const tree = await MerkleTree.open(new MemoryNodeStore(), 0);
  const leaf = new Uint8Array(200);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    leaf[0] = i & 255;
    await tree.append(leaf);
  }
  await tree.root();
  const ms = performance.now() - t0;
  console.log(
    JSON.stringify({
      backend: 'memory-tree',
      leaves: n,
      seconds: Number((ms / 1000).toFixed(1)),
      leavesPerSecond: Math.round((n / ms) * 1000),
    }),
  );
}

const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-'));
try {
  if (parts.has('memory')) await memoryTree(1_000_000);
  if (parts.has('sqlcipher'))
    await run('sqlcipher', { backend: 'sqlite', path: join(dir, 'bench.db') });
  const schema = `bwk_bench_${randomBytes(4).toString('hex')}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  let pgReady = false;
  if (parts.has('postgres'))
    try {
      await client.connect();
      pgReady = true;
    } catch (err) {
      console.log(JSON.stringify({ backend: 'postgres', skipped: (err as Error).message }));
    }
  if (pgReady) {
    try {
      await run('postgres', { backend: 'postgres', url: databaseUrl, schema });
    } finally {
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
