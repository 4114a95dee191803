import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ObjectVersion, verifyVersionChain, versionHash } from './chain.ts';

function chain(length: number): ObjectVersion[] {
  const out: ObjectVersion[] = [];
  for (let i = 0; i < length; i++) {
    const body = {
      type: 'project',
      id: 'p1',
      version: i + 1,
      seq: 10 + i * 3,
      leafHash: String(i).repeat(64).slice(0, 64),
      afterSha256: i % 2 === 0 ? 'a'.repeat(64) : null,
      prevHash: out[i - 1]?.hash ?? null,
    };
    out.push({ ...body, hash: versionHash(body) });
  }
  return out;
}

describe('object version chains', () => {
  it('a complete chain verifies; an empty history is trivially whole', () => {
    assert.deepEqual(verifyVersionChain(chain(5)), { ok: true, versions: 5 });
    assert.deepEqual(verifyVersionChain([]), { ok: true, versions: 0 });
  });

  it('the hash covers every field', () => {
    const base = chain(1)[0] as ObjectVersion;
    const seen = new Set([base.hash]);
    for (const change of [
      { type: 'org' },
      { id: 'p2' },
      { seq: 11 },
      { leafHash: 'f'.repeat(64) },
      { afterSha256: null },
    ]) {
      const h = versionHash({ ...base, ...change });
      assert.ok(!seen.has(h), JSON.stringify(change));
      seen.add(h);
    }
  });

  it('names the first version that was altered, dropped, reordered or moved', () => {
    const altered = chain(4);
    altered[2] = { ...(altered[2] as ObjectVersion), afterSha256: 'b'.repeat(64) };
    assert.deepEqual(verifyVersionChain(altered), {
      ok: false,
      version: 3,
      reason: 'its hash does not match its contents',
    });

    const dropped = chain(4);
    dropped.splice(1, 1);
    assert.equal(verifyVersionChain(dropped).ok, false);

    const swapped = chain(3);
    [swapped[1], swapped[2]] = [swapped[2] as ObjectVersion, swapped[1] as ObjectVersion];
    assert.equal(verifyVersionChain(swapped).ok, false);

    // Re-hashed after an edit, it no longer links to its successor.
    const rehashed = chain(3);
    const edited = { ...(rehashed[1] as ObjectVersion), afterSha256: 'c'.repeat(64) };
    rehashed[1] = { ...edited, hash: versionHash(edited) };
    assert.deepEqual(verifyVersionChain(rehashed), {
      ok: false,
      version: 3,
      reason: 'it does not link to the version before it',
    });

    // A version of another object spliced in.
    const foreign = chain(2);
    const other = { ...(foreign[1] as ObjectVersion), id: 'p9' };
    foreign[1] = { ...other, hash: versionHash(other) };
    assert.equal(verifyVersionChain(foreign).ok, false);

    // Ledger positions must increase.
    const backwards = chain(2);
    const moved = { ...(backwards[1] as ObjectVersion), seq: 1 };
    backwards[1] = { ...moved, hash: versionHash(moved) };
    assert.deepEqual(verifyVersionChain(backwards), {
      ok: false,
      version: 2,
      reason: 'its ledger entry is not after the previous one',
    });
  });
});
