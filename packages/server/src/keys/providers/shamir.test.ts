import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { BulwarkError } from '../../errors.ts';
import { RootKey } from '../root-key.ts';
import { decodeShare, encodeShare, ShamirProvider, type ShamirRecord } from './shamir.ts';

const INSTALLATION_A = 'bwk_aaaaaaaaaaaaaaaaaaaa';
const INSTALLATION_B = 'bwk_bbbbbbbbbbbbbbbbbbbb';

function isCode(code: string) {
  return (err: unknown) => err instanceof BulwarkError && err.code === code;
}

/** Every k-element subset of 0…n-1. */
function combinations(n: number, k: number): number[][] {
  if (k === 0) return [[]];
  const out: number[][] = [];
  for (let first = 0; first <= n - k; first++) {
    for (const rest of combinations(n - first - 1, k - 1)) {
      out.push([first, ...rest.map((r) => r + first + 1)]);
    }
  }
  return out;
}

function pick<T>(items: T[], indexes: number[]): T[] {
  return indexes.map((i) => {
    const item = items[i];
    assert.ok(item !== undefined);
    return item;
  });
}

interface Dealing {
  rootBytes: Buffer;
  record: ShamirRecord;
  texts: string[];
  shares: Uint8Array[];
}

async function deal(root: RootKey, total = 5, threshold = 3): Promise<Dealing> {
  const { record, output } = await new ShamirProvider(total, threshold).wrap(root);
  return {
    rootBytes: Buffer.from(root.exposeForWrapping()),
    record,
    texts: output,
    shares: output.map((t) => decodeShare(t, root.installationId).bytes),
  };
}

describe('ShamirProvider', () => {
  let root: RootKey;
  let a: Dealing;

  before(async () => {
    root = RootKey.generate(INSTALLATION_A);
    a = await deal(root);
  });

  it('deals `total` distinct shares and records the parameters', () => {
    assert.equal(a.texts.length, 5);
    assert.equal(new Set(a.texts).size, 5);
    const xs = a.texts.map((t) => decodeShare(t, INSTALLATION_A).x);
    assert.equal(new Set(xs).size, 5);
    assert.deepEqual(
      { provider: a.record.provider, threshold: a.record.threshold, total: a.record.total },
      { provider: 'shamir', threshold: 3, total: 5 },
    );
    const everything = JSON.stringify(a.record) + a.texts.join('\n');
    assert.ok(!everything.includes(a.rootBytes.toString('hex')));
    assert.ok(!everything.includes(a.rootBytes.toString('base64url')));
    assert.ok(!everything.includes(a.rootBytes.toString('base64')));
  });

  it('unwraps with any 3 of 5 shares (all 10 combinations)', async () => {
    const subsets = combinations(5, 3);
    assert.equal(subsets.length, 10);
    for (const subset of subsets) {
      const key = await new ShamirProvider().unwrap(
        a.record,
        pick(a.shares, subset),
        INSTALLATION_A,
      );
      assert.deepEqual(key.exposeForWrapping(), a.rootBytes, `shares ${subset.join(',')}`);
      assert.equal(key.installationId, INSTALLATION_A);
    }
  });

  it('unwraps with 4 and with 5 shares', async () => {
    for (const subset of [...combinations(5, 4), [0, 1, 2, 3, 4]]) {
      const key = await new ShamirProvider().unwrap(
        a.record,
        pick(a.shares, subset),
        INSTALLATION_A,
      );
      assert.deepEqual(key.exposeForWrapping(), a.rootBytes, `shares ${subset.join(',')}`);
    }
  });

  it('refuses fewer shares than the threshold with bad_request', async () => {
    for (const subset of [[], [0], [1, 4]]) {
      await assert.rejects(
        new ShamirProvider().unwrap(a.record, pick(a.shares, subset), INSTALLATION_A),
        isCode('bad_request'),
      );
    }
  });

  it('refuses the same share given three times (duplicates do not count)', async () => {
    await assert.rejects(
      new ShamirProvider().unwrap(a.record, pick(a.shares, [0, 0, 1]), INSTALLATION_A),
      isCode('shares_mismatch'),
    );
  });

  it('refuses shares mixed with one from another dealing of the same installation', async () => {
    const b = await deal(root);
    assert.equal(b.record.wrappedRootKey === a.record.wrappedRootKey, false);
    for (const replaced of [0, 1, 2]) {
      const mixed = pick(a.shares, [0, 1, 2]);
      mixed[replaced] = pick(b.shares, [replaced])[0] as Uint8Array;
      await assert.rejects(
        new ShamirProvider().unwrap(a.record, mixed, INSTALLATION_A),
        isCode('shares_mismatch'),
        `share ${replaced} replaced`,
      );
    }
    // The other dealing's shares do not open this dealing's record either.
    await assert.rejects(
      new ShamirProvider().unwrap(a.record, pick(b.shares, [0, 1, 2]), INSTALLATION_A),
      isCode('shares_mismatch'),
    );
  });

  it('binds the record to its installation (AAD): right shares, other installation id fail', async () => {
    await assert.rejects(
      new ShamirProvider().unwrap(a.record, pick(a.shares, [0, 1, 2]), INSTALLATION_B),
      isCode('shares_mismatch'),
    );
  });

  it('refuses a tampered wrappedRootKey', async () => {
    const bytes = Buffer.from(a.record.wrappedRootKey, 'base64');
    bytes[20] = (bytes[20] ?? 0) ^ 0x40;
    await assert.rejects(
      new ShamirProvider().unwrap(
        { ...a.record, wrappedRootKey: bytes.toString('base64') },
        pick(a.shares, [0, 1, 2]),
        INSTALLATION_A,
      ),
      isCode('shares_mismatch'),
    );
  });

  it('refuses impossible share counts in its constructor', () => {
    for (const [total, threshold] of [
      [5, 1],
      [5, 0],
      [2, 3],
      [256, 3],
      [5.5, 3],
      [5, 2.5],
    ] as const) {
      assert.throws(
        () => new ShamirProvider(total, threshold),
        RangeError,
        `${total}/${threshold}`,
      );
    }
    assert.doesNotThrow(() => new ShamirProvider(2, 2));
    assert.doesNotThrow(() => new ShamirProvider(255, 255));
  });
});

describe('encodeShare / decodeShare', () => {
  const share = new Uint8Array(33).map((_, i) => (i * 37 + 11) % 256);
  share[32] = 7;

  it('round-trips', () => {
    const text = encodeShare(INSTALLATION_A, share);
    assert.match(text, /^bulwark-share-v1\.bwk_a{20}\.[A-Za-z0-9_-]+\.[0-9a-f]{8}$/);
    const decoded = decodeShare(text, INSTALLATION_A);
    assert.deepEqual(decoded, { installationId: INSTALLATION_A, bytes: share, x: 7 });
  });

  it('tolerates surrounding whitespace from copy and paste', () => {
    const text = encodeShare(INSTALLATION_A, share);
    assert.deepEqual(decodeShare(`  ${text}\n`, INSTALLATION_A).bytes, share);
  });

  it('refuses a wrong prefix or a wrong number of parts with invalid_share', () => {
    const text = encodeShare(INSTALLATION_A, share);
    for (const bad of [
      text.replace('bulwark-share-v1', 'bulwark-share-v2'),
      text.replace('bulwark-share-v1', 'other'),
      text.split('.').slice(1).join('.'),
      `${text}.extra`,
      '',
      'not a share',
    ]) {
      assert.throws(() => decodeShare(bad, INSTALLATION_A), isCode('invalid_share'), bad);
    }
  });

  it('refuses a share with any damaged character (checksum) with invalid_share', () => {
    const text = encodeShare(INSTALLATION_A, share);
    const dataStart = text.indexOf('.', 'bulwark-share-v1.'.length) + 1;
    for (let i = dataStart; i < text.length; i++) {
      const c = text[i];
      if (c === '.') continue;
      const replacement = c === 'A' ? 'B' : c === '0' ? '1' : c === 'f' ? 'e' : 'A';
      const damaged = `${text.slice(0, i)}${replacement}${text.slice(i + 1)}`;
      assert.throws(
        () => decodeShare(damaged, INSTALLATION_A),
        isCode('invalid_share'),
        `char ${i}`,
      );
    }
  });

  it('refuses a share whose data holds characters outside base64url', () => {
    const body = `bulwark-share-v1.${INSTALLATION_A}.abc+/=`;
    const check = createHash('sha256').update(body, 'utf8').digest('hex').slice(0, 8);
    assert.throws(() => decodeShare(`${body}.${check}`, INSTALLATION_A), isCode('invalid_share'));
  });

  it('refuses a share from another installation with foreign_share naming both ids', () => {
    const text = encodeShare(INSTALLATION_B, share);
    assert.throws(
      () => decodeShare(text, INSTALLATION_A),
      (err) =>
        err instanceof BulwarkError &&
        err.code === 'foreign_share' &&
        err.message.includes(INSTALLATION_A) &&
        err.message.includes(INSTALLATION_B),
    );
  });

  it('treats an edited installation id as damage, not as a foreign share', () => {
    const text = encodeShare(INSTALLATION_B, share).replace(INSTALLATION_B, INSTALLATION_A);
    assert.throws(() => decodeShare(text, INSTALLATION_A), isCode('invalid_share'));
  });

  it('refuses a well-formed share of the wrong length with invalid_share', () => {
    for (const length of [10, 1, 32, 34, 65]) {
      const bytes = new Uint8Array(length).fill(5);
      assert.throws(
        () => decodeShare(encodeShare(INSTALLATION_A, bytes), INSTALLATION_A),
        isCode('invalid_share'),
        `${length} bytes`,
      );
    }
  });

  it('refuses a share with x-coordinate 0 (it would be the secret itself)', () => {
    const bytes = Uint8Array.from(share);
    bytes[32] = 0;
    assert.throws(
      () => decodeShare(encodeShare(INSTALLATION_A, bytes), INSTALLATION_A),
      isCode('invalid_share'),
    );
  });
});
