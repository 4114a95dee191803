import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  addSignatures,
  Ed25519NoteSigner,
  Ed25519NoteVerifier,
  formatVerifierKey,
  NoteError,
  parseNote,
  parseVerifierKey,
  signNote,
  verifyNote,
} from './signed-note.ts';

// Known answers from golang.org/x/mod/sumdb/note (package docs and note_test.go).
const PETER_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PETER_SKEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const ENOCH_VKEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT =
  "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG =
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG =
  '\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/** The Ed25519 seed inside Go's "PRIVATE+KEY+<name>+<hash>+base64(0x01 ‖ seed)". */
function goSeed(skey: string): Uint8Array {
  const raw = Buffer.from(skey.split('+').slice(4).join('+'), 'base64');
  assert.equal(raw[0], 0x01);
  return new Uint8Array(raw.subarray(1));
}

const peter = () => Ed25519NoteVerifier.fromVerifierKey(PETER_VKEY);
const enoch = () => Ed25519NoteVerifier.fromVerifierKey(ENOCH_VKEY);

function seed(label: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', Buffer.alloc(32, 7), 'salt', label, 32));
}

describe('signed note: known answers from golang.org/x/mod/sumdb/note', () => {
  test('the published PeterNeumann note verifies', () => {
    const result = verifyNote(`${TEXT}\n${PETER_SIG}`, [peter()]);
    assert.equal(result.text, TEXT);
    assert.deepEqual(result.verified, ['PeterNeumann']);
    assert.deepEqual(result.unknown, []);
  });

  test('signing with the published seed reproduces the published note byte for byte', () => {
    const signer = new Ed25519NoteSigner('PeterNeumann', goSeed(PETER_SKEY));
    assert.equal(signer.keyHash, 0xc74f20a3);
    assert.equal(signer.verifierKey(), PETER_VKEY);
    assert.equal(formatVerifierKey('PeterNeumann', signer.publicKey), PETER_VKEY);
    assert.equal(signNote(TEXT, signer), `${TEXT}\n${PETER_SIG}`);
  });

  test('the published doubly-signed note verifies for both, and unknown keys are ignored', () => {
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    assert.deepEqual(verifyNote(both, [peter(), enoch()]).verified, ['PeterNeumann', 'EnochRoot']);
    const onlyPeter = verifyNote(both, [peter()]);
    assert.deepEqual(onlyPeter.verified, ['PeterNeumann']);
    assert.equal(onlyPeter.unknown.length, 1);
    assert.equal(onlyPeter.unknown[0]?.name, 'EnochRoot');
    assert.equal(onlyPeter.unknown[0]?.keyHash, 0xaf0cfe78);
    assert.throws(() => verifyNote(both, []), /no verifiable signatures/);
  });

  test('parseVerifierKey reads the published keys', () => {
    const k = parseVerifierKey(PETER_VKEY);
    assert.equal(k.name, 'PeterNeumann');
    assert.equal(k.keyHash, 0xc74f20a3);
    assert.equal(k.algorithm, 1);
    assert.equal(k.publicKey.byteLength, 32);
  });

  test('every mangling of a verifier key is rejected (as in note_test.go)', () => {
    const b = Buffer.from(PETER_VKEY);
    for (let i = 0; i <= b.length; i++) {
      for (let j = i + 1; j <= b.length; j++) {
        if (i === 0 && j === b.length) continue;
        const k = b.subarray(i, j).toString();
        assert.throws(() => parseVerifierKey(k), NoteError, k);
      }
    }
    for (let i = 0; i < b.length; i++) {
      const m = Buffer.from(b);
      m[i] = (m[i] ?? 0) + 1;
      assert.throws(() => parseVerifierKey(m.toString()), NoteError, m.toString());
    }
    // Wrong key length and unknown algorithm, each with a matching key hash (from note_test.go).
    assert.throws(
      () =>
        parseVerifierKey(
          'PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==',
        ),
      NoteError,
    );
    assert.throws(
      () => parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'),
      /unsupported verifier key algorithm/,
    );
  });
});

describe('signed note: C2SP examples', () => {
  test('the signed-note spec example parses', () => {
    const note =
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n\n' +
      '\u2014 quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddnGITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n';
    const parsed = parseNote(note);
    // The text keeps its own blank line: the split is at the last blank line.
    assert.equal(
      parsed.text,
      'Ognuno sta solo sul cuor della terra\ntrafitto da un raggio di sole:\n\ned è subito sera.\n',
    );
    assert.equal(parsed.signatures.length, 1);
    assert.equal(parsed.signatures[0]?.name, 'quasimodo.example/salvatore');
    assert.equal(parsed.signatures[0]?.sig.byteLength, 64);
  });
});

describe('signed note: round trip and co-signing', () => {
  const log = new Ed25519NoteSigner('bulwark.example/audit', seed('log'));
  const witness = new Ed25519NoteSigner('witness.example/w1', seed('witness'));
  const text = 'bulwark.example/audit\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';

  test('sign then verify; the verifier key round-trips', () => {
    const note = signNote(text, log);
    const v = Ed25519NoteVerifier.fromVerifierKey(log.verifierKey());
    assert.deepEqual(v.publicKey, log.publicKey);
    assert.deepEqual(verifyNote(note, [v]).verified, ['bulwark.example/audit']);
    assert.deepEqual(verifyNote(Buffer.from(note), [v]).verified, ['bulwark.example/audit']);
  });

  test('a witness co-signature appended still verifies for both', () => {
    const note = signNote(text, log);
    const cosigned = addSignatures(note, witness);
    assert.ok(cosigned.startsWith(note));
    assert.deepEqual(verifyNote(cosigned, [log.verifier(), witness.verifier()]).verified, [
      'bulwark.example/audit',
      'witness.example/w1',
    ]);
    // The log's own verifiers, not knowing the witness, ignore it.
    const r = verifyNote(cosigned, [log.verifier()]);
    assert.deepEqual(r.verified, ['bulwark.example/audit']);
    assert.equal(r.unknown[0]?.name, 'witness.example/w1');
    // Re-signing by the same key replaces, never duplicates.
    assert.equal(addSignatures(cosigned, witness), cosigned);
  });

  test('a signature with the right name but another key ID is unknown, not an error', () => {
    const impostor = new Ed25519NoteSigner('bulwark.example/audit', seed('impostor'));
    const note = addSignatures(signNote(text, log), impostor);
    const r = verifyNote(note, [log.verifier()]);
    assert.deepEqual(r.verified, ['bulwark.example/audit']);
    assert.equal(r.unknown.length, 1);
    assert.throws(() => verifyNote(signNote(text, impostor), [log.verifier()]), /no verifiable/);
  });

  test('two verifiers with the same name and key ID are ambiguous', () => {
    assert.throws(
      () => verifyNote(signNote(text, log), [log.verifier(), log.verifier()]),
      /ambiguous/,
    );
  });

  test('signNote refuses text without a final newline or with control characters', () => {
    assert.throws(() => signNote('abc', log), /newline/);
    assert.throws(() => signNote('a\tb\n', log), /control/);
    assert.throws(() => signNote('a\rb\n', log), /control/);
    assert.throws(() => signNote(text, []), /at least one signer/);
  });

  test('bad key names and seeds are refused', () => {
    for (const name of ['', 'a b', 'a+b', 'a\u00a0b', 'a\u2003b', 'a\nb']) {
      assert.throws(() => new Ed25519NoteSigner(name, seed('x')), NoteError, JSON.stringify(name));
    }
    assert.throws(() => new Ed25519NoteSigner('ok', new Uint8Array(31)), /32 bytes/);
  });
});

describe('signed note: tampering and malformed input are rejected', () => {
  const good = `${TEXT}\n${PETER_SIG}`;
  const rejects = (note: string | Uint8Array, pattern: RegExp) =>
    assert.throws(() => verifyNote(note, [peter()]), pattern);

  test('changed text', () => {
    rejects(good.replace('cryptography', 'Cryptography'), /invalid signature/);
    rejects(`extra\n${good}`, /invalid signature/);
  });

  test('any single signature bit flipped', () => {
    const b64 = PETER_SIG.slice(PETER_SIG.indexOf(' ', 2) + 1, -1);
    const raw = Buffer.from(b64, 'base64');
    for (let bit = 32; bit < raw.length * 8; bit += 7) {
      const flipped = Buffer.from(raw);
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7));
      rejects(`${TEXT}\n\u2014 PeterNeumann ${flipped.toString('base64')}\n`, /invalid signature/);
    }
  });

  test('wrong key hash makes the signature unknown, so nothing verifies', () => {
    const raw = Buffer.from(PETER_SIG.slice(PETER_SIG.indexOf(' ', 2) + 1, -1), 'base64');
    raw[0] = (raw[0] ?? 0) ^ 1;
    rejects(`${TEXT}\n\u2014 PeterNeumann ${raw.toString('base64')}\n`, /no verifiable/);
  });

  test('extra whitespace anywhere in the framing', () => {
    rejects(`${TEXT}\n${PETER_SIG.replace('PeterNeumann ', 'PeterNeumann  ')}`, /malformed/);
    rejects(`${TEXT}\n${PETER_SIG.replace('\u2014 ', '\u2014  ')}`, /malformed/);
    rejects(`${TEXT}\n ${PETER_SIG}`, /malformed/);
    rejects(`${TEXT}\n${PETER_SIG.slice(0, -1)} \n`, /malformed/);
    rejects(`${TEXT}\n${PETER_SIG}\n`, /no signatures/); // trailing blank line
    rejects(`${TEXT}\n\n${PETER_SIG}`, /invalid signature/); // blank line moves into the text
    rejects(`${TEXT}\n${PETER_SIG.replace('\u2014', '-')}`, /malformed/); // hyphen, not em dash
  });

  test('missing final newline, missing blank line, missing signatures', () => {
    rejects(`${TEXT}\n${PETER_SIG.slice(0, -1)}`, /end with a newline/);
    rejects(`${TEXT}${PETER_SIG}`, /no signature block|malformed/);
    rejects(TEXT, /no signature block/);
    rejects(`${TEXT}\n`, /no signatures/);
    rejects(`${TEXT}\n${PETER_SIG}Unexpected line.\n`, /malformed signature line/);
  });

  test('bad base64 and short signatures', () => {
    rejects(`${TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG\n`, /base64/);
    rejects(`${TEXT}\n\u2014 PeterNeumann x08go/ZJ!uBS9UG/SffcvIAQ=\n`, /base64/);
    rejects(`${TEXT}\n\u2014 PeterNeumann \n`, /base64/);
    rejects(`${TEXT}\n\u2014 PeterNeumann x08go/Z=\n`, /base64/); // non-zero padding bits
    rejects(`${TEXT}\n\u2014 PeterNeumann x08gow==\n`, /too short/);
    rejects(
      `${TEXT}\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      /malformed/,
    );
  });

  test('control characters and invalid UTF-8', () => {
    rejects(`\x01${good}`, /control/);
    rejects(good.replace('problem,', 'problem,\r'), /control/);
    rejects(good.replace('problem,', 'problem,\t'), /control/);
    rejects(`\ud800${good}`, /well-formed/);
    rejects(Buffer.concat([Buffer.from([0xff]), Buffer.from(good)]), /UTF-8/);
  });

  test('size and signature-count bounds', () => {
    const many = `${TEXT}\n${PETER_SIG.repeat(101)}`;
    rejects(many, /too many signatures/);
    assert.deepEqual(verifyNote(`${TEXT}\n${PETER_SIG.repeat(16)}`, [peter()]).verified, [
      'PeterNeumann',
    ]);
    assert.throws(() => verifyNote(good, [peter()], { maxBytes: 100 }), /too large/);
    assert.throws(
      () => parseNote(`${TEXT}\n${PETER_SIG.repeat(3)}`, { maxSignatures: 2 }),
      /too many/,
    );
  });

  test('one valid and one invalid signature from known keys rejects the whole note', () => {
    const log = new Ed25519NoteSigner('PeterNeumann2', seed('p2'));
    const forged = `${TEXT}\n${PETER_SIG}\u2014 PeterNeumann2 ${Buffer.concat([
      Buffer.from(log.keyHash.toString(16).padStart(8, '0'), 'hex'),
      Buffer.alloc(64, 1),
    ]).toString('base64')}\n`;
    assert.throws(
      () => verifyNote(forged, [peter(), log.verifier()]),
      /invalid signature for key PeterNeumann2/,
    );
  });
});
