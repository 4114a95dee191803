import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BulwarkError } from '../../errors.ts';
import { RootKey } from '../root-key.ts';
import {
  type Argon2idParams,
  defaultArgon2idParams,
  PassphraseProvider,
  type PassphraseRecord,
} from './passphrase.ts';

const fast: Argon2idParams = { memory: 8192, passes: 1, parallelism: 1 };
const INSTALLATION_A = 'bwk_aaaaaaaaaaaaaaaaaaaa';
const INSTALLATION_B = 'bwk_bbbbbbbbbbbbbbbbbbbb';
const PASSPHRASE = 'correct horse battery staple';

function isCode(code: string) {
  return (err: unknown) => err instanceof BulwarkError && err.code === code;
}

async function wrapped(passphrase = PASSPHRASE, installationId = INSTALLATION_A) {
  const root = RootKey.generate(installationId);
  const rootBytes = Buffer.from(root.exposeForWrapping());
  const { record, output } = await new PassphraseProvider(passphrase, fast).wrap(root);
  return { root, rootBytes, record, output };
}

/** A copy of the record with one byte of its base64 wrappedRootKey flipped. */
function flipWrappedByte(record: PassphraseRecord, index: number): PassphraseRecord {
  const bytes = Buffer.from(record.wrappedRootKey, 'base64');
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return { ...record, wrappedRootKey: bytes.toString('base64') };
}

describe('PassphraseProvider', () => {
  it('round-trips: unwrap gives the same root bytes and installation', async () => {
    const { rootBytes, record, output } = await wrapped();
    assert.equal(output, null);
    assert.equal(record.provider, 'passphrase');
    assert.deepEqual(record.kdf, {
      algorithm: 'argon2id',
      salt: record.kdf.salt,
      ...fast,
    });
    assert.equal(Buffer.from(record.kdf.salt, 'base64').byteLength, 16);
    const root = await new PassphraseProvider(null).unwrap(record, PASSPHRASE, INSTALLATION_A);
    assert.deepEqual(root.exposeForWrapping(), rootBytes);
    assert.equal(root.installationId, INSTALLATION_A);
  });

  it('round-trips with the default (RFC 9106) parameters, stored in the record', async () => {
    const root = RootKey.generate(INSTALLATION_A);
    const rootBytes = Buffer.from(root.exposeForWrapping());
    const { record } = await new PassphraseProvider(PASSPHRASE).wrap(root);
    assert.equal(record.kdf.memory, defaultArgon2idParams.memory);
    assert.equal(record.kdf.passes, defaultArgon2idParams.passes);
    assert.equal(record.kdf.parallelism, defaultArgon2idParams.parallelism);
    const back = await new PassphraseProvider(null).unwrap(record, PASSPHRASE, INSTALLATION_A);
    assert.deepEqual(back.exposeForWrapping(), rootBytes);
  });

  it('uses a fresh salt per wrap, so two wraps of one root differ', async () => {
    const root = RootKey.generate(INSTALLATION_A);
    const provider = new PassphraseProvider(PASSPHRASE, fast);
    const a = (await provider.wrap(root)).record;
    const b = (await provider.wrap(root)).record;
    assert.notEqual(a.kdf.salt, b.kdf.salt);
    assert.notEqual(a.wrappedRootKey, b.wrappedRootKey);
  });

  it('refuses a wrong passphrase with unseal_failed', async () => {
    const { record } = await wrapped();
    const provider = new PassphraseProvider(null);
    for (const wrong of ['correct horse battery stapl', 'Correct horse battery staple', '', ' ']) {
      await assert.rejects(
        provider.unwrap(record, wrong, INSTALLATION_A),
        isCode('unseal_failed'),
        JSON.stringify(wrong),
      );
    }
    await assert.rejects(
      provider.unwrap(record, `${PASSPHRASE} `, INSTALLATION_A),
      isCode('unseal_failed'),
      'trailing space is significant',
    );
  });

  it('binds the record to its installation (AAD): another installation id fails', async () => {
    const { record } = await wrapped(PASSPHRASE, INSTALLATION_A);
    await assert.rejects(
      new PassphraseProvider(null).unwrap(record, PASSPHRASE, INSTALLATION_B),
      isCode('unseal_failed'),
    );
  });

  it('refuses a tampered wrappedRootKey anywhere (nonce, body, tag)', async () => {
    const { record } = await wrapped();
    const length = Buffer.from(record.wrappedRootKey, 'base64').byteLength;
    assert.equal(length, 12 + 32 + 16);
    const provider = new PassphraseProvider(null);
    for (const index of [0, 11, 12, 30, 43, 44, length - 1]) {
      await assert.rejects(
        provider.unwrap(flipWrappedByte(record, index), PASSPHRASE, INSTALLATION_A),
        isCode('unseal_failed'),
        `byte ${index}`,
      );
    }
  });

  it('refuses a record whose salt or KDF parameters were changed', async () => {
    const { record } = await wrapped();
    const salt = Buffer.from(record.kdf.salt, 'base64');
    salt[0] = (salt[0] ?? 0) ^ 1;
    const provider = new PassphraseProvider(null);
    await assert.rejects(
      provider.unwrap(
        { ...record, kdf: { ...record.kdf, salt: salt.toString('base64') } },
        PASSPHRASE,
        INSTALLATION_A,
      ),
      isCode('unseal_failed'),
    );
    await assert.rejects(
      provider.unwrap({ ...record, kdf: { ...record.kdf, passes: 2 } }, PASSPHRASE, INSTALLATION_A),
      isCode('unseal_failed'),
    );
  });

  it('never writes the passphrase or the root key into the record', async () => {
    const { rootBytes, record } = await wrapped();
    const json = JSON.stringify(record);
    for (const secret of [
      PASSPHRASE,
      rootBytes.toString('hex'),
      rootBytes.toString('hex').toUpperCase(),
      rootBytes.toString('base64'),
      rootBytes.toString('base64url'),
      rootBytes.toString('base64').slice(0, 16),
    ]) {
      assert.ok(!json.includes(secret), `record leaks ${secret.slice(0, 8)}…`);
    }
  });

  it('normalises the passphrase with NFKC: composed and decomposed é unlock the same record', async () => {
    const composed = 'mot de passe d\u00e9j\u00e0 vu';
    const decomposed = 'mot de passe de\u0301ja\u0300 vu';
    assert.notEqual(composed, decomposed);
    const { rootBytes, record } = await wrapped(decomposed);
    const root = await new PassphraseProvider(null).unwrap(record, composed, INSTALLATION_A);
    assert.deepEqual(root.exposeForWrapping(), rootBytes);
    const { record: other } = await wrapped(composed);
    const again = await new PassphraseProvider(null).unwrap(other, decomposed, INSTALLATION_A);
    assert.equal(again.installationId, INSTALLATION_A);
  });

  it('refuses to wrap without a passphrase', async () => {
    await assert.rejects(
      new PassphraseProvider(null, fast).wrap(RootKey.generate(INSTALLATION_A)),
      /no passphrase/,
    );
  });
});
