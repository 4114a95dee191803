/**
 * Browser-side ledger verification, run under node:test: a small ledger is
 * built with @bulwark/ledger's server-side pieces (node:crypto Ed25519
 * signer, canonical JSON, leaf hashes) and a reference RFC 9162 tree here;
 * fetch and localStorage are stubbed by a fake source and an in-memory store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  canonicalJsonString,
  Ed25519NoteSigner,
  emptyRoot,
  leafHash,
  nodeHash,
  signCheckpoint,
  toHex,
} from '@bulwark/ledger';
import {
  type KeyValueStore,
  LAST_HEAD_ITEM,
  type LedgerSource,
  PINNED_KEY_ITEM,
  type ProvedEntry,
  verifyAuditPage,
  verifyEntriesAgainstCheckpoint,
} from './verify.ts';

// --- a reference RFC 9162 tree over leaf hashes ------------------------------

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return emptyRoot();
  if (leaves.length === 1) return leaves[0] as Uint8Array;
  const k = split(leaves.length);
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}
function auditPath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = split(leaves.length);
  return m < k
    ? [...auditPath(m, leaves.slice(0, k)), mth(leaves.slice(k))]
    : [...auditPath(m - k, leaves.slice(k)), mth(leaves.slice(0, k))];
}
function subproof(m: number, leaves: Uint8Array[], whole: boolean): Uint8Array[] {
  if (m === leaves.length) return whole ? [] : [mth(leaves)];
  const k = split(leaves.length);
  return m <= k
    ? [...subproof(m, leaves.slice(0, k), whole), mth(leaves.slice(k))]
    : [...subproof(m - k, leaves.slice(k), false), mth(leaves.slice(0, k))];
}

// --- a ledger like the server's ----------------------------------------------

const ORIGIN = 'bulwark/bwk_test';

function entryAt(seq: number, action = 'user.create') {
  return {
    action,
    actor: { channel: 'api', kind: 'user', sessionId: null, sourceHash: null, userId: 'u-1' },
    afterSha256: null,
    beforeSha256: null,
    issue: null,
    org: null,
    personal: null,
    project: null,
    seq,
    target: { id: `t-${seq}`, type: 'user' },
    time: new Date(Date.UTC(2026, 10, 25, 14, 0, seq)).toISOString(),
    v: 2,
  };
}

class Ledger {
  readonly signer: Ed25519NoteSigner;
  readonly entries: ReturnType<typeof entryAt>[] = [];
  readonly leaves: Uint8Array[] = [];
  constructor(size: number, signer = new Ed25519NoteSigner(ORIGIN, randomBytes(32)), tag = '') {
    this.signer = signer;
    for (let i = 0; i < size; i++) this.append(`user.create${tag}`);
  }
  append(action = 'user.create') {
    const entry = entryAt(this.entries.length, action);
    this.entries.push(entry);
    this.leaves.push(leafHash(new TextEncoder().encode(canonicalJsonString(entry))));
  }
  checkpoint(size = this.leaves.length): string {
    return signCheckpoint(
      { origin: ORIGIN, size, rootHash: mth(this.leaves.slice(0, size)) },
      this.signer,
    );
  }
  proved(seqs: number[], size = this.leaves.length): ProvedEntry[] {
    return seqs.map((seq) => ({
      seq,
      entry: structuredClone(this.entries[seq]),
      leafHash: toHex(this.leaves[seq] as Uint8Array),
      proof: { size, path: auditPath(seq, this.leaves.slice(0, size)).map(toHex) },
    }));
  }
  source(overrides: Partial<LedgerSource> = {}): LedgerSource & { calls: string[] } {
    const calls: string[] = [];
    return {
      calls,
      key: async () => ({ origin: ORIGIN, verifierKey: this.signer.verifierKey() }),
      checkpoint: async () => this.checkpoint(),
      inclusion: async (seq, size) => {
        calls.push(`inclusion ${seq} ${size}`);
        return auditPath(seq, this.leaves.slice(0, size)).map(toHex);
      },
      consistency: async (from, to) => {
        calls.push(`consistency ${from} ${to}`);
        return subproof(from, this.leaves.slice(0, to), true).map(toHex);
      },
      ...overrides,
    };
  }
}

function memoryStore(): KeyValueStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (k) => items.get(k) ?? null,
    setItem: (k, v) => void items.set(k, v),
    removeItem: (k) => void items.delete(k),
  };
}

function failed(report: Awaited<ReturnType<typeof verifyEntriesAgainstCheckpoint>>) {
  assert.equal(report.ok, false, 'expected the verification to fail');
  return report as { ok: false; problem: string; seq?: number };
}

describe('verifyEntriesAgainstCheckpoint', () => {
  it('accepts valid entries and proofs, pins the key on first use and remembers the head', async () => {
    const ledger = new Ledger(7);
    const store = memoryStore();
    const report = await verifyEntriesAgainstCheckpoint(
      ledger.proved([0, 3, 6]),
      ledger.checkpoint(),
      { source: ledger.source(), store },
    );
    assert.deepEqual(report, {
      ok: true,
      treeSize: 7,
      checked: 3,
      pruned: 0,
      keyPinnedNow: true,
      origin: ORIGIN,
    });
    assert.equal(store.items.get(PINNED_KEY_ITEM), ledger.signer.verifierKey());
    assert.equal(JSON.parse(store.items.get(LAST_HEAD_ITEM) ?? '{}').size, 7);
    const again = await verifyEntriesAgainstCheckpoint(ledger.proved([1]), ledger.checkpoint(), {
      source: ledger.source(),
      store,
    });
    assert.equal(again.ok && again.keyPinnedNow, false);
  });

  it('checks a pruned entry (no content) by its leaf hash', async () => {
    const ledger = new Ledger(4);
    const [item] = ledger.proved([2]);
    const report = await verifyEntriesAgainstCheckpoint(
      [{ ...(item as ProvedEntry), entry: null }],
      ledger.checkpoint(),
      { source: ledger.source(), store: memoryStore() },
    );
    assert.equal(report.ok, true);
    assert.equal(report.ok && report.pruned, 1);
  });

  it('names a tampered entry, even with its leaf hash recomputed', async () => {
    const ledger = new Ledger(6);
    const items = ledger.proved([1, 4]);
    const tampered = items[1] as ProvedEntry;
    (tampered.entry as { action: string }).action = 'user.delete';
    const report = failed(
      await verifyEntriesAgainstCheckpoint(items, ledger.checkpoint(), {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.equal(report.seq, 4);
    assert.match(report.problem, /Entry 4 does not match/);

    tampered.leafHash = toHex(
      leafHash(new TextEncoder().encode(canonicalJsonString(tampered.entry))),
    );
    const rehashed = failed(
      await verifyEntriesAgainstCheckpoint(items, ledger.checkpoint(), {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.equal(rehashed.seq, 4);
    assert.match(rehashed.problem, /Entry 4 is not in the signed ledger/);
    assert.match(rehashed.problem, /report this to your security team/);
  });

  it('refuses an entry moved to another position', async () => {
    const ledger = new Ledger(4);
    const [item] = ledger.proved([2]);
    const moved = { ...(item as ProvedEntry), seq: 1, proof: ledger.proved([1])[0]?.proof };
    const report = failed(
      await verifyEntriesAgainstCheckpoint([moved as ProvedEntry], ledger.checkpoint(), {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.equal(report.seq, 1);
  });

  it('names an entry whose proof was tampered with', async () => {
    const ledger = new Ledger(9);
    const items = ledger.proved([0, 5, 8]);
    const path = (items[1] as ProvedEntry).proof.path;
    path[0] = `${(path[0] as string).slice(0, -1)}${(path[0] as string).endsWith('0') ? '1' : '0'}`;
    const report = failed(
      await verifyEntriesAgainstCheckpoint(items, ledger.checkpoint(), {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.equal(report.seq, 5);
    assert.match(report.problem, /Entry 5 is not in the signed ledger/);

    const short = ledger.proved([5]);
    (short[0] as ProvedEntry).proof.path.pop();
    assert.equal(
      failed(
        await verifyEntriesAgainstCheckpoint(short, ledger.checkpoint(), {
          source: ledger.source(),
          store: memoryStore(),
        }),
      ).seq,
      5,
    );
  });

  it('fails when the server presents another key than the pinned one', async () => {
    const ledger = new Ledger(3);
    const store = memoryStore();
    const other = new Ed25519NoteSigner(ORIGIN, randomBytes(32));
    store.setItem(PINNED_KEY_ITEM, other.verifierKey());
    const report = failed(
      await verifyEntriesAgainstCheckpoint(ledger.proved([0]), ledger.checkpoint(), {
        source: ledger.source(),
        store,
      }),
    );
    assert.match(report.problem, /different key than the one this browser pinned/);
    assert.equal(store.items.get(PINNED_KEY_ITEM), other.verifierKey(), 'the pin stays');
  });

  it('fails a checkpoint signed by a key other than the pinned one', async () => {
    const ledger = new Ledger(3);
    const impostor = new Ledger(3, new Ed25519NoteSigner(ORIGIN, randomBytes(32)));
    const report = failed(
      await verifyEntriesAgainstCheckpoint(ledger.proved([0]), impostor.checkpoint(), {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.match(report.problem, /not signed with the ledger key pinned/);
  });

  it('fails a bad signature (head changed after signing)', async () => {
    const ledger = new Ledger(5);
    const note = ledger.checkpoint();
    const forged = note.replace(/^(.*)\n5\n/, '$1\n4\n');
    assert.notEqual(forged, note);
    const report = failed(
      await verifyEntriesAgainstCheckpoint([], forged, {
        source: ledger.source(),
        store: memoryStore(),
      }),
    );
    assert.match(report.problem, /signature on the ledger's signed head .* is not valid/);

    const lines = note.split('\n');
    const sigLine = lines.at(-2) as string;
    const flipped = `${sigLine.slice(0, -3)}${sigLine.slice(-3, -2) === 'A' ? 'B' : 'A'}${sigLine.slice(-2)}`;
    const badSig = [...lines.slice(0, -2), flipped, ''].join('\n');
    const second = await verifyEntriesAgainstCheckpoint([], badSig, {
      source: ledger.source(),
      store: memoryStore(),
    });
    assert.equal(second.ok, false);
  });

  it('accepts a head that extends the last one seen, and reports one that does not', async () => {
    const ledger = new Ledger(5);
    const store = memoryStore();
    const first = await verifyEntriesAgainstCheckpoint([], ledger.checkpoint(), {
      source: ledger.source(),
      store,
    });
    assert.equal(first.ok, true);
    ledger.append();
    ledger.append();
    ledger.append();
    const source = ledger.source();
    const grown = await verifyEntriesAgainstCheckpoint(ledger.proved([6]), ledger.checkpoint(), {
      source,
      store,
    });
    assert.equal(grown.ok, true);
    assert.deepEqual(source.calls, ['consistency 5 8']);
    assert.equal(JSON.parse(store.items.get(LAST_HEAD_ITEM) ?? '{}').size, 8);

    // The server rewrote history: same key, entries 3.. replaced, then grown.
    const rewritten = new Ledger(0, ledger.signer);
    for (let i = 0; i < 10; i++) rewritten.append(i < 3 ? 'user.create' : 'user.other');
    const report = failed(
      await verifyEntriesAgainstCheckpoint(rewritten.proved([9]), rewritten.checkpoint(), {
        source: rewritten.source(),
        store,
      }),
    );
    assert.match(report.problem, /does not extend the head this browser verified before/);
    assert.equal(JSON.parse(store.items.get(LAST_HEAD_ITEM) ?? '{}').size, 8, 'kept');

    // Truncated below the last head seen, or the same size with another root.
    const truncated = new Ledger(0, ledger.signer);
    for (let i = 0; i < 8; i++) truncated.append(i < 3 ? 'user.create' : 'user.other');
    assert.equal(
      (
        await verifyEntriesAgainstCheckpoint([], truncated.checkpoint(8), {
          source: truncated.source(),
          store,
        })
      ).ok,
      false,
    );
    assert.equal(
      (
        await verifyEntriesAgainstCheckpoint([], truncated.checkpoint(6), {
          source: truncated.source(),
          store,
        })
      ).ok,
      false,
    );
    // An older head of the real ledger is fine.
    assert.equal(
      (
        await verifyEntriesAgainstCheckpoint(ledger.proved([1], 4), ledger.checkpoint(4), {
          source: ledger.source(),
          store,
        })
      ).ok,
      true,
    );
  });
});

describe('verifyAuditPage', () => {
  it('fetches the head and a proof per covered entry; newer entries wait for the next head', async () => {
    const ledger = new Ledger(6);
    const head = ledger.checkpoint();
    ledger.append();
    ledger.append();
    const source = ledger.source({ checkpoint: async () => head });
    const page = ledger.entries.map((entry, seq) => ({
      seq,
      entry,
      leafHash: toHex(ledger.leaves[seq] as Uint8Array),
    }));
    const report = await verifyAuditPage(page, { source, store: memoryStore() });
    assert.equal(report.ok, true);
    assert.equal(report.ok && report.checked, 6);
    assert.equal(report.ok && report.notYetSigned, 2);
    assert.equal(source.calls.filter((c) => c.startsWith('inclusion')).length, 6);
  });

  it('has the server sign the current head when asked (admins)', async () => {
    const ledger = new Ledger(6);
    const head = ledger.checkpoint();
    ledger.append();
    const source = ledger.source({
      checkpoint: async () => head,
      signCheckpoint: async () => ledger.checkpoint(),
    });
    const page = ledger.entries.map((entry, seq) => ({
      seq,
      entry,
      leafHash: toHex(ledger.leaves[seq] as Uint8Array),
    }));
    const report = await verifyAuditPage(page, { source, store: memoryStore(), signHead: true });
    assert.equal(report.ok && report.treeSize, 7);
    assert.equal(report.ok && report.notYetSigned, 0);
  });

  it('names the first bad entry of a page', async () => {
    const ledger = new Ledger(5);
    const page = ledger.entries.map((entry, seq) => ({
      seq,
      entry: seq === 2 ? { ...entry, issue: 'APOLLO-1' } : entry,
      leafHash: toHex(ledger.leaves[seq] as Uint8Array),
    }));
    const report = failed(
      await verifyAuditPage(page, { source: ledger.source(), store: memoryStore() }),
    );
    assert.equal(report.seq, 2);
  });
});
