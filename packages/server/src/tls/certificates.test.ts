import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { connect, createServer } from 'node:tls';
import {
  installLeafCertificate,
  issueLeafCertificate,
  prepareTls,
  readSealedCaKey,
  TlsError,
  type TlsMaterial,
  writeSealedCaKey,
} from './index.ts';

let root: string;
let dir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'bulwark-tls-'));
  dir = join(root, 'tls');
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

/** A test stand-in for the root-key-derived sealing: AES-256-GCM, iv ‖ tag ‖ ciphertext. */
function testSealer() {
  const key = randomBytes(32);
  const encrypt = (plaintext: Uint8Array): Uint8Array => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]);
  };
  const decrypt = (sealed: Uint8Array): Uint8Array => {
    const buf = Buffer.from(sealed);
    const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(0, 12));
    decipher.setAuthTag(buf.subarray(12, 28));
    return Buffer.concat([decipher.update(buf.subarray(28)), decipher.final()]);
  };
  return { encrypt, decrypt };
}

function leafOf(material: TlsMaterial): X509Certificate {
  return new X509Certificate(material.cert);
}

function caOf(material: TlsMaterial): X509Certificate {
  assert.ok(material.ca !== null);
  return new X509Certificate(material.ca);
}

/** Starts a TLS 1.3-only server with the material and connects trusting only `ca`. */
async function handshake(material: TlsMaterial, ca: string, servername: string) {
  const server = createServer(
    { cert: material.cert, key: material.key, minVersion: 'TLSv1.3' },
    (s) => s.end('hello'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise<{ authorized: boolean; protocol: string | null; data: string }>(
      (resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port, ca, servername }, () => {
          let data = '';
          socket.setEncoding('utf8');
          socket.on('data', (chunk: string) => {
            data += chunk;
          });
          socket.on('end', () =>
            resolve({ authorized: socket.authorized, protocol: socket.getProtocol(), data }),
          );
        });
        socket.on('error', reject);
      },
    );
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

describe('prepareTls: first start', () => {
  it('generates the CA and leaf with private files, and never writes the CA key in the clear', async () => {
    const { material, unsealedCaKeyPem } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    assert.equal(material.source, 'generated');
    assert.ok(unsealedCaKeyPem?.includes('BEGIN PRIVATE KEY'));
    assert.deepEqual(readdirSync(dir).sort(), ['ca.crt', 'server.crt', 'server.key']);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.equal(statSync(join(dir, 'server.key')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(dir, 'server.key'), 'utf8'), material.key);
    assert.equal(readFileSync(join(dir, 'server.crt'), 'utf8'), material.cert);
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), material.ca);
    for (const name of readdirSync(dir)) {
      if (name === 'server.key') continue;
      assert.ok(!readFileSync(join(dir, name), 'utf8').includes('PRIVATE KEY'), name);
    }
    // The chain in server.crt is leaf then CA.
    assert.equal(material.cert.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.ok(material.cert.trim().endsWith(material.ca?.trim() ?? '?'));
  });

  it('makes a CA and a leaf that verify against each other', async () => {
    const { material } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const ca = caOf(material);
    const leaf = leafOf(material);
    assert.ok(ca.ca);
    assert.ok(!leaf.ca);
    assert.match(ca.subject, /CN=Bulwark local CA [0-9a-f]{8}/);
    assert.match(ca.subject, /O=Bulwark/);
    assert.ok(ca.verify(ca.publicKey));
    assert.ok(leaf.verify(ca.publicKey));
    assert.ok(leaf.checkIssued(ca));
    assert.equal(leaf.subject, 'CN=localhost');
    assert.equal(leaf.checkHost('localhost'), 'localhost');
    assert.equal(leaf.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(leaf.checkIP('::1'), '::1');
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']); // node reports the EKU here: serverAuth
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const lifetimeDays = (leaf.validToDate.getTime() - leaf.validFromDate.getTime()) / 86_400_000;
    assert.equal(lifetimeDays, 397);
    assert.ok(leaf.validFromDate.getTime() < Date.now() - 59 * 60 * 1000);
    assert.equal(material.notAfter.getTime(), leaf.validToDate.getTime());
    assert.deepEqual(material.names, ['localhost', '127.0.0.1', '::1']);
    // Positive, 128-bit serial at most.
    assert.ok(Number.parseInt(ca.serialNumber.slice(0, 1), 16) < 8);
    assert.ok(ca.serialNumber.length <= 32);
  });

  it('puts every configured name in the SubjectAltName', async () => {
    const { material } = await prepareTls({
      dir,
      serverNames: ['bulwark.example.org', 'localhost', '192.0.2.10', '2001:db8::1'],
      regenerateUnsealed: true,
    });
    const leaf = leafOf(material);
    assert.equal(leaf.subject, 'CN=bulwark.example.org');
    assert.equal(leaf.checkHost('bulwark.example.org'), 'bulwark.example.org');
    assert.equal(leaf.checkIP('192.0.2.10'), '192.0.2.10');
    assert.equal(leaf.checkIP('2001:db8::1'), '2001:db8::1');
    assert.equal(leaf.checkHost('other.example.org'), undefined);
    assert.deepEqual(material.names, [
      'bulwark.example.org',
      'localhost',
      '192.0.2.10',
      '2001:db8::1',
      '127.0.0.1',
      '::1',
    ]);
  });

  it('leaves out the loopback names when localhost is not configured', async () => {
    const { material } = await prepareTls({
      dir,
      serverNames: ['bulwark.example.org'],
      regenerateUnsealed: true,
    });
    assert.deepEqual(material.names, ['bulwark.example.org']);
    assert.equal(leafOf(material).checkIP('127.0.0.1'), undefined);
  });

  it('serves a TLS 1.3 handshake that a client trusting only the CA accepts', async () => {
    const { material } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const result = await handshake(material, material.ca ?? '', 'localhost');
    assert.equal(result.authorized, true);
    assert.equal(result.protocol, 'TLSv1.3');
    assert.equal(result.data, 'hello');
  });

  it('fails the handshake for a client trusting another CA', async () => {
    const { material } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const other = await prepareTls({
      dir: join(root, 'other'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    await assert.rejects(handshake(material, other.material.ca ?? '', 'localhost'), /certificate/i);
  });
});

describe('prepareTls: later starts', () => {
  it('reloads the same material once the CA key is sealed', async () => {
    const sealer = testSealer();
    const first = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.ok(first.unsealedCaKeyPem !== null);
    await writeSealedCaKey(dir, first.unsealedCaKeyPem, sealer.encrypt);
    const second = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.equal(second.unsealedCaKeyPem, null);
    assert.equal(second.material.cert, first.material.cert);
    assert.equal(second.material.key, first.material.key);
    assert.equal(second.material.ca, first.material.ca);
    assert.deepEqual(second.material.names, first.material.names);
    assert.equal(second.material.notAfter.getTime(), first.material.notAfter.getTime());
  });

  it('regenerates an unsealed installation only when asked to', async () => {
    const first = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    const kept = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: false });
    assert.equal(kept.unsealedCaKeyPem, null);
    assert.equal(kept.material.cert, first.material.cert);
    const fresh = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.ok(fresh.unsealedCaKeyPem !== null);
    assert.notEqual(fresh.unsealedCaKeyPem, first.unsealedCaKeyPem);
    assert.notEqual(fresh.material.ca, first.material.ca);
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), fresh.material.ca);
    assert.equal(readFileSync(join(dir, 'server.key'), 'utf8'), fresh.material.key);
    assert.ok(leafOf(fresh.material).verify(caOf(fresh.material).publicKey));
  });

  it('reports configured names the leaf does not cover, for reissue at unseal', async () => {
    const first = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.ok(first.unsealedCaKeyPem !== null);
    assert.deepEqual(first.material.missingNames, []);
    await writeSealedCaKey(dir, first.unsealedCaKeyPem, testSealer().encrypt);
    const again = await prepareTls({
      dir,
      serverNames: ['localhost', 'bulwark.example.org'],
      regenerateUnsealed: false,
    });
    assert.deepEqual(again.material.missingNames, ['bulwark.example.org']);
    assert.equal(again.material.cert, first.material.cert, 'the old leaf serves until unseal');
  });

  it('refuses to make a new CA when the sealed CA key exists but the leaf is gone', async () => {
    const first = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.ok(first.unsealedCaKeyPem !== null);
    await writeSealedCaKey(dir, first.unsealedCaKeyPem, testSealer().encrypt);
    rmSync(join(dir, 'server.key'));
    await assert.rejects(
      prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true }),
      TlsError,
    );
    assert.equal(readFileSync(join(dir, 'ca.crt'), 'utf8'), first.material.ca);
  });
});

describe('operator certificate', () => {
  it('is used as given when the key matches', async () => {
    const made = await prepareTls({
      dir: join(root, 'made'),
      serverNames: ['bulwark.example.org'],
      regenerateUnsealed: true,
    });
    const certFile = join(root, 'op.crt');
    const keyFile = join(root, 'op.key');
    writeFileSync(certFile, made.material.cert);
    writeFileSync(keyFile, made.material.key);
    const { material, unsealedCaKeyPem } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      certFile,
      keyFile,
      regenerateUnsealed: true,
    });
    assert.equal(unsealedCaKeyPem, null);
    assert.equal(material.source, 'operator');
    assert.equal(material.ca, null);
    assert.equal(material.cert, made.material.cert);
    assert.deepEqual(material.names, ['bulwark.example.org']);
    assert.throws(() => statSync(dir)); // nothing generated
  });

  it('is refused, naming the file, when the key belongs to another certificate', async () => {
    const a = await prepareTls({
      dir: join(root, 'a'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const b = await prepareTls({
      dir: join(root, 'b'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const certFile = join(root, 'op.crt');
    const keyFile = join(root, 'op.key');
    writeFileSync(certFile, a.material.cert);
    writeFileSync(keyFile, b.material.key);
    await assert.rejects(
      prepareTls({ dir, serverNames: ['localhost'], certFile, keyFile, regenerateUnsealed: false }),
      (err: unknown) =>
        err instanceof TlsError && err.message.includes(keyFile) && err.message.includes(certFile),
    );
  });

  it('is refused, naming the file, when it is not PEM', async () => {
    const certFile = join(root, 'op.crt');
    const keyFile = join(root, 'op.key');
    writeFileSync(certFile, 'not a certificate');
    writeFileSync(keyFile, 'not a key');
    await assert.rejects(
      prepareTls({ dir, serverNames: ['localhost'], certFile, keyFile, regenerateUnsealed: false }),
      (err: unknown) => err instanceof TlsError && err.message.includes(certFile),
    );
    await assert.rejects(
      prepareTls({
        dir,
        serverNames: ['localhost'],
        certFile: join(root, 'missing.crt'),
        keyFile,
        regenerateUnsealed: false,
      }),
      (err: unknown) => err instanceof TlsError && err.message.includes('missing.crt'),
    );
  });
});

describe('sealed CA key', () => {
  it('round-trips, is written 0600 and is not plaintext', async () => {
    const sealer = testSealer();
    const { unsealedCaKeyPem } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    assert.ok(unsealedCaKeyPem !== null);
    await writeSealedCaKey(dir, unsealedCaKeyPem, sealer.encrypt);
    const path = join(dir, 'ca.key.sealed');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.ok(!readFileSync(path).includes('PRIVATE KEY'));
    assert.equal(await readSealedCaKey(dir, sealer.decrypt), unsealedCaKeyPem);
    await assert.rejects(readSealedCaKey(dir, testSealer().decrypt)); // wrong key: the tag fails
    await assert.rejects(
      writeSealedCaKey(dir, unsealedCaKeyPem, sealer.encrypt),
      /refusing to overwrite/,
    );
    assert.deepEqual(readdirSync(dir).sort(), [
      'ca.crt',
      'ca.key.sealed',
      'server.crt',
      'server.key',
    ]);
  });

  it('refuses to seal a key that is not the CA key', async () => {
    const { unsealedCaKeyPem } = await prepareTls({
      dir,
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    assert.ok(unsealedCaKeyPem !== null);
    const other = await prepareTls({
      dir: join(root, 'other'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    await assert.rejects(writeSealedCaKey(dir, other.material.key, testSealer().encrypt), TlsError);
  });
});

describe('renewal', () => {
  it('issues a new leaf from the unsealed CA key and installs it', async () => {
    const sealer = testSealer();
    const first = await prepareTls({ dir, serverNames: ['localhost'], regenerateUnsealed: true });
    assert.ok(first.unsealedCaKeyPem !== null && first.material.ca !== null);
    await writeSealedCaKey(dir, first.unsealedCaKeyPem, sealer.encrypt);

    // Renewal a few minutes on: the new leaf outlives the old one and is valid now.
    const later = new Date(Date.now() + 5 * 60_000);
    const caKeyPem = await readSealedCaKey(dir, sealer.decrypt);
    const leaf = await issueLeafCertificate({
      caCertPem: first.material.ca,
      caKeyPem,
      serverNames: ['localhost', 'bulwark.example.org'],
      now: later,
    });
    const cert = new X509Certificate(leaf.certPem);
    assert.ok(cert.verify(caOf(first.material).publicKey));
    assert.equal(cert.checkHost('bulwark.example.org'), 'bulwark.example.org');
    assert.ok(leaf.notAfter > first.material.notAfter);
    assert.notEqual(leaf.keyPem, first.material.key);

    await installLeafCertificate(dir, leaf, first.material.ca);
    assert.equal(statSync(join(dir, 'server.key')).mode & 0o777, 0o600);
    assert.deepEqual(readdirSync(dir).sort(), [
      'ca.crt',
      'ca.key.sealed',
      'server.crt',
      'server.key',
    ]);
    const reloaded = await prepareTls({
      dir,
      serverNames: ['localhost', 'bulwark.example.org'],
      regenerateUnsealed: false,
    });
    assert.equal(reloaded.unsealedCaKeyPem, null);
    assert.equal(reloaded.material.key, leaf.keyPem);
    assert.equal(reloaded.material.notAfter.getTime(), leaf.notAfter.getTime());
    const result = await handshake(reloaded.material, first.material.ca, 'bulwark.example.org');
    assert.equal(result.authorized, true);
  });

  it('refuses a CA key that does not match the CA certificate', async () => {
    const a = await prepareTls({
      dir: join(root, 'a'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    const b = await prepareTls({
      dir: join(root, 'b'),
      serverNames: ['localhost'],
      regenerateUnsealed: true,
    });
    assert.ok(a.material.ca !== null && b.unsealedCaKeyPem !== null);
    await assert.rejects(
      issueLeafCertificate({
        caCertPem: a.material.ca,
        caKeyPem: b.unsealedCaKeyPem,
        serverNames: ['localhost'],
      }),
      TlsError,
    );
  });
});
