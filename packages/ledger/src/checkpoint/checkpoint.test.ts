import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  CheckpointError,
  formatCheckpoint,
  parseCheckpoint,
  signCheckpoint,
  verifyCheckpoint,
} from './checkpoint.ts';
import { addSignatures, Ed25519NoteSigner, parseNote } from './signed-note.ts';

function seed(label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', Buffer.alloc(32, 9), 'salt', label, 32));
}

const ORIGIN = 'bulwark.example/audit/7f3c';
const ROOT = new Uint8Array(createHash('sha256').update('root').digest());
const ROOT_B64 = Buffer.from(ROOT).toString('base64');

describe('checkpoint: C2SP example', () => {
  test('the tlog-checkpoint spec example parses', () => {
    const note =
      'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n' +
      '\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n';
    const parsed = parseNote(note);
    const cp = parseCheckpoint(parsed.text);
    assert.equal(cp.origin, 'example.com/behind-the-sofa');
    assert.equal(cp.size, 20852163);
    assert.equal(
      Buffer.from(cp.rootHash).toString('base64'),
      'CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=',
    );
    assert.deepEqual(cp.extensions, []);
    assert.equal(formatCheckpoint(cp), parsed.text);
  });
});

describe('checkpoint: format and parse', () => {
  test('round trip, with and without extensions', () => {
    const text = formatCheckpoint({ origin: ORIGIN, size: 42, rootHash: ROOT });
    assert.equal(text, `${ORIGIN}\n42\n${ROOT_B64}\n`);
    const cp = parseCheckpoint(text);
    assert.equal(cp.origin, ORIGIN);
    assert.equal(cp.size, 42);
    assert.deepEqual(cp.rootHash, ROOT);
    assert.deepEqual(cp.extensions, []);

    const withExt = formatCheckpoint({
      origin: ORIGIN,
      size: 0n,
      rootHash: ROOT,
      extensions: ['ext one', '\u2014 looks like a signature'],
    });
    assert.equal(withExt, `${ORIGIN}\n0\n${ROOT_B64}\next one\n\u2014 looks like a signature\n`);
    assert.deepEqual(parseCheckpoint(withExt).extensions, [
      'ext one',
      '\u2014 looks like a signature',
    ]);
    assert.equal(
      parseCheckpoint(`${ORIGIN}\n${Number.MAX_SAFE_INTEGER}\n${ROOT_B64}\n`).size,
      Number.MAX_SAFE_INTEGER,
    );
  });

  test('malformed checkpoint text is rejected', () => {
    const bad = [
      `${ORIGIN}\n42\n${ROOT_B64}`, // no final newline
      `${ORIGIN}\n42\n`, // no root
      `\n42\n${ROOT_B64}\n`, // empty origin
      `   \n42\n${ROOT_B64}\n`, // spaces-only origin
      `${ORIGIN}\n042\n${ROOT_B64}\n`, // leading zero
      `${ORIGIN}\n00\n${ROOT_B64}\n`,
      `${ORIGIN}\n-1\n${ROOT_B64}\n`,
      `${ORIGIN}\n+1\n${ROOT_B64}\n`,
      `${ORIGIN}\n1.0\n${ROOT_B64}\n`,
      `${ORIGIN}\n1e3\n${ROOT_B64}\n`,
      `${ORIGIN}\n 42\n${ROOT_B64}\n`,
      `${ORIGIN}\n\n${ROOT_B64}\n`,
      `${ORIGIN}\n99999999999999999999\n${ROOT_B64}\n`, // beyond 2^53
      `${ORIGIN}\n42\n${Buffer.alloc(31).toString('base64')}\n`, // 31-byte root
      `${ORIGIN}\n42\n${Buffer.alloc(33).toString('base64')}\n`, // 33-byte root
      `${ORIGIN}\n42\n${ROOT_B64.slice(0, -1)}\n`, // unpadded
      `${ORIGIN}\n42\n${'-'.repeat(43)}=\n`, // base64url alphabet
      `${ORIGIN}\n42\n${ROOT_B64.slice(0, 42)}B=\n`, // non-zero padding bits (43rd char carries 2 spare bits)
      `${ORIGIN}\n42\n${ROOT_B64} \n`, // trailing space
      `${ORIGIN}\n42\n${ROOT_B64}\n\n`, // empty extension line
      `${ORIGIN}\n42\n${ROOT_B64}\next\tension\n`, // control char
      `ori\rgin\n42\n${ROOT_B64}\n`,
    ];
    for (const text of bad) {
      assert.throws(() => parseCheckpoint(text), CheckpointError, JSON.stringify(text));
    }
  });

  test('formatCheckpoint refuses what parseCheckpoint would refuse', () => {
    assert.throws(() => formatCheckpoint({ origin: '', size: 1, rootHash: ROOT }), CheckpointError);
    assert.throws(
      () => formatCheckpoint({ origin: ' ', size: 1, rootHash: ROOT }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: 'a\nb', size: 1, rootHash: ROOT }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: -1, rootHash: ROOT }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: 1.5, rootHash: ROOT }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: 2 ** 53, rootHash: ROOT }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: new Uint8Array(31) }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT, extensions: [''] }),
      CheckpointError,
    );
    assert.throws(
      () => formatCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT, extensions: ['a\nb'] }),
      CheckpointError,
    );
  });
});

describe('checkpoint: sign and verify', () => {
  const log = new Ed25519NoteSigner(ORIGIN, seed('ledger'));
  const witness = new Ed25519NoteSigner('witness.example/w1', seed('witness'));

  test('signed by the log key, verified by its verifier key', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, rootHash: ROOT }, log);
    assert.ok(note.startsWith(`${ORIGIN}\n7\n${ROOT_B64}\n\n\u2014 ${ORIGIN} `));
    const r = verifyCheckpoint(note, [log.verifier()], ORIGIN);
    assert.equal(r.checkpoint.size, 7);
    assert.deepEqual(r.checkpoint.rootHash, ROOT);
    assert.deepEqual(r.verified, [ORIGIN]);
  });

  test('witness co-signed checkpoint verifies for both; the witness alone is not enough', () => {
    const note = addSignatures(
      signCheckpoint({ origin: ORIGIN, size: 7, rootHash: ROOT }, log),
      witness,
    );
    assert.deepEqual(
      verifyCheckpoint(note, [log.verifier(), witness.verifier()], ORIGIN).verified,
      [ORIGIN, 'witness.example/w1'],
    );
    assert.deepEqual(
      verifyCheckpoint(note, [log.verifier()], ORIGIN).unknown.map((s) => s.name),
      ['witness.example/w1'],
    );
    assert.throws(
      () => verifyCheckpoint(note, [witness.verifier()], ORIGIN),
      /not signed by the log key/,
    );
  });

  test('tampered size or root, wrong origin, wrong key are rejected', () => {
    const note = signCheckpoint({ origin: ORIGIN, size: 7, rootHash: ROOT }, log);
    assert.throws(
      () => verifyCheckpoint(note.replace('\n7\n', '\n8\n'), [log.verifier()], ORIGIN),
      /invalid signature/,
    );
    const otherRoot = Buffer.alloc(32, 1).toString('base64');
    assert.throws(
      () => verifyCheckpoint(note.replace(ROOT_B64, otherRoot), [log.verifier()], ORIGIN),
      /invalid signature/,
    );
    assert.throws(
      () => verifyCheckpoint(note, [log.verifier()], 'bulwark.example/other'),
      /origin/,
    );
    const stranger = new Ed25519NoteSigner(ORIGIN, seed('stranger'));
    assert.throws(() => verifyCheckpoint(note, [stranger.verifier()], ORIGIN), /no verifiable/);
  });

  test('a validly signed note that is not a checkpoint is rejected', () => {
    const note = addSignatures(`hello\n\n\u2014 ${ORIGIN} AAAAAAAA\n`, log);
    assert.throws(() => verifyCheckpoint(note, [log.verifier()], ORIGIN), CheckpointError);
  });

  test('signCheckpoint needs the log key to be named after the origin', () => {
    assert.throws(
      () => signCheckpoint({ origin: ORIGIN, size: 1, rootHash: ROOT }, witness),
      /origin/,
    );
  });
});
