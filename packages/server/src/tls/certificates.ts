// @peculiar/x509 resolves its algorithms through tsyringe, which needs the
// Reflect metadata API: this import must stay before the x509 import.
import 'reflect-metadata';
import {
  createPrivateKey,
  type KeyObject,
  randomBytes,
  sign,
  verify,
  type webcrypto,
  X509Certificate,
} from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

export class TlsError extends Error {
  override name = 'TlsError';
}

export interface TlsMaterial {
  /** PEM certificate chain, leaf first. */
  cert: string;
  /** PEM private key of the leaf. */
  key: string;
  /** PEM of the local CA clients should trust; null for an operator's certificate. */
  ca: string | null;
  source: 'generated' | 'operator';
  notAfter: Date;
  /** The names (DNS and IP) in the leaf's SubjectAltName. */
  names: string[];
  /** Configured names the leaf does not cover; the server reissues at unseal (the CA key is sealed until then). */
  missingNames: string[];
}

export interface PrepareTlsResult {
  material: TlsMaterial;
  /** the CA private key (PKCS#8 PEM) when it was just generated and is not yet sealed; null otherwise */
  unsealedCaKeyPem: string | null;
}

export interface PrepareTlsOptions {
  /** `<dataDir>/tls` */
  dir: string;
  serverNames: string[];
  certFile?: string;
  keyFile?: string;
  /**
   * True while the installation was never initialised: nothing trusts the
   * local CA yet, so leftover files without a sealed CA key may be replaced.
   */
  regenerateUnsealed: boolean;
  now?: Date;
}

export const tlsFiles = {
  caCert: 'ca.crt',
  serverCert: 'server.crt',
  serverKey: 'server.key',
  sealedCaKey: 'ca.key.sealed',
} as const;

const ecP256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const ecdsaSha256 = { name: 'ECDSA', hash: 'SHA-256' } as const;
const hourMs = 60 * 60 * 1000;
const dayMs = 24 * hourMs;
/** The CA/Browser Forum ceiling for a server certificate's lifetime. */
const leafValidityDays = 397;
const caValidityYears = 10;

function useWebCrypto(): void {
  // Idempotent; the library keeps one provider, and ours is always WebCrypto.
  x509.cryptoProvider.set(globalThis.crypto);
}

/**
 * Makes sure the leaf certificate and key exist (or checks the operator's),
 * generating a local CA and a leaf on first start. The CA key is returned,
 * never written: the caller seals it with `writeSealedCaKey` once the root
 * key exists. See PrepareTlsResult for when it is returned.
 */
export async function prepareTls(opts: PrepareTlsOptions): Promise<PrepareTlsResult> {
  if (opts.certFile !== undefined || opts.keyFile !== undefined) {
    return {
      material: await loadOperatorMaterial(opts.certFile, opts.keyFile),
      unsealedCaKeyPem: null,
    };
  }
  const { dir, serverNames } = opts;
  const now = opts.now ?? new Date();
  if (serverNames.length === 0) throw new TlsError('no server names to put in the certificate');
  await ensurePrivateDir(dir);

  const haveLeaf =
    (await exists(join(dir, tlsFiles.serverCert))) && (await exists(join(dir, tlsFiles.serverKey)));
  const sealed = await exists(join(dir, tlsFiles.sealedCaKey));

  if (haveLeaf && (sealed || !opts.regenerateUnsealed)) {
    return { material: await loadGeneratedMaterial(dir, serverNames), unsealedCaKeyPem: null };
  }
  if (sealed) {
    // Clients trust this CA already; a new one would cut them off.
    throw new TlsError(
      `${join(dir, tlsFiles.serverCert)} or ${tlsFiles.serverKey} is missing but the CA key is sealed: ` +
        'restore both from a backup (the leaf key must be readable before unseal)',
    );
  }
  return generateAll(dir, serverNames, now, opts.regenerateUnsealed);
}

async function generateAll(
  dir: string,
  serverNames: string[],
  now: Date,
  overwrite: boolean,
): Promise<PrepareTlsResult> {
  const ca = await createCa(now);
  const leaf = await issueLeaf(ca, serverNames, now);
  const chain = pemChain(leaf.certPem, ca.certPem);
  // ca.crt, then server.key, then server.crt: server.crt present means the
  // other two are too, should we stop half-way.
  await writeFileAtomic(dir, tlsFiles.caCert, ca.certPem, 0o644, overwrite);
  await writeFileAtomic(dir, tlsFiles.serverKey, leaf.keyPem, 0o600, overwrite);
  await writeFileAtomic(dir, tlsFiles.serverCert, chain, 0o644, overwrite);
  return {
    material: {
      cert: chain,
      key: leaf.keyPem,
      ca: ca.certPem,
      source: 'generated',
      notAfter: leaf.notAfter,
      names: leaf.names,
      missingNames: [],
    },
    unsealedCaKeyPem: ca.keyPem,
  };
}

/** Writes `ca.key.sealed` (0600) with `encrypt(caKeyPem)`; refuses to replace one. */
export async function writeSealedCaKey(
  dir: string,
  caKeyPem: string,
  encrypt: (plaintext: Uint8Array) => Uint8Array,
): Promise<void> {
  const caCertPem = await readText(join(dir, tlsFiles.caCert));
  assertKeyMatches(caCertPem, caKeyPem, join(dir, tlsFiles.caCert), 'the CA key to seal');
  const plaintext = Buffer.from(caKeyPem, 'utf8');
  let ciphertext: Uint8Array;
  try {
    ciphertext = encrypt(plaintext);
  } finally {
    plaintext.fill(0);
  }
  await writeFileAtomic(dir, tlsFiles.sealedCaKey, ciphertext, 0o600, false, true);
}

/** Reads `ca.key.sealed` and returns the CA key (PKCS#8 PEM); `decrypt` throws on a bad tag. */
export async function readSealedCaKey(
  dir: string,
  decrypt: (ciphertext: Uint8Array) => Uint8Array,
): Promise<string> {
  const path = join(dir, tlsFiles.sealedCaKey);
  let ciphertext: Buffer;
  try {
    ciphertext = await readFile(path);
  } catch (err) {
    throw new TlsError(`cannot read ${path}: ${errCode(err)}`);
  }
  const plaintext = decrypt(new Uint8Array(ciphertext));
  try {
    const pem = Buffer.from(plaintext).toString('utf8');
    createPrivateKey(pem);
    return pem;
  } catch {
    throw new TlsError(`${path} did not decrypt to a private key`);
  } finally {
    plaintext.fill(0);
  }
}

/** Issues a new leaf from the CA (renewal or reissue after unseal). */
export async function issueLeafCertificate(opts: {
  caCertPem: string;
  caKeyPem: string;
  serverNames: string[];
  now?: Date;
}): Promise<{ certPem: string; keyPem: string; notAfter: Date }> {
  useWebCrypto();
  assertKeyMatches(opts.caCertPem, opts.caKeyPem, 'the CA certificate', 'the CA key');
  const der = createPrivateKey(opts.caKeyPem).export({ type: 'pkcs8', format: 'der' });
  const privateKey = await crypto.subtle.importKey('pkcs8', der, ecP256, false, ['sign']);
  const cert = new x509.X509Certificate(new X509Certificate(opts.caCertPem).raw);
  const leaf = await issueLeaf({ cert, privateKey }, opts.serverNames, opts.now ?? new Date());
  return { certPem: leaf.certPem, keyPem: leaf.keyPem, notAfter: leaf.notAfter };
}

/** Replaces server.crt and server.key (renewal: overwriting is the point). */
export async function installLeafCertificate(
  dir: string,
  leaf: { certPem: string; keyPem: string },
  caCertPem: string,
): Promise<void> {
  assertKeyMatches(leaf.certPem, leaf.keyPem, 'the new leaf certificate', 'its key');
  if (!new X509Certificate(leaf.certPem).verify(new X509Certificate(caCertPem).publicKey)) {
    throw new TlsError('the new leaf certificate is not signed by the given CA');
  }
  await ensurePrivateDir(dir);
  // Both temp files are complete and synced before either rename, so the
  // window with a mismatched pair is two renames long.
  const keyTmp = await writeTemp(dir, tlsFiles.serverKey, leaf.keyPem, 0o600);
  const certTmp = await writeTemp(
    dir,
    tlsFiles.serverCert,
    pemChain(leaf.certPem, caCertPem),
    0o644,
  );
  await rename(keyTmp, join(dir, tlsFiles.serverKey));
  await rename(certTmp, join(dir, tlsFiles.serverCert));
  await syncDir(dir);
}

// ---------------------------------------------------------------------------
// Certificate generation

interface CaMaterial {
  cert: x509.X509Certificate;
  privateKey: webcrypto.CryptoKey;
}

async function createCa(now: Date): Promise<CaMaterial & { certPem: string; keyPem: string }> {
  useWebCrypto();
  const keys = (await crypto.subtle.generateKey(ecP256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const notAfter = new Date(now);
  notAfter.setUTCFullYear(notAfter.getUTCFullYear() + caValidityYears);
  const shortId = randomBytes(4).toString('hex');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=Bulwark local CA ${shortId}, O=Bulwark`,
    notBefore: new Date(now.getTime() - hourMs),
    notAfter,
    keys,
    signingAlgorithm: ecdsaSha256,
    extensions: [
      // pathLen 0: this CA signs leaves only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    cert,
    privateKey: keys.privateKey,
    certPem: pemOf(cert),
    keyPem: await exportPkcs8Pem(keys.privateKey),
  };
}

async function issueLeaf(
  ca: CaMaterial,
  serverNames: string[],
  now: Date,
): Promise<{ certPem: string; keyPem: string; notAfter: Date; names: string[] }> {
  useWebCrypto();
  const first = serverNames[0];
  if (first === undefined) throw new TlsError('no server names to put in the certificate');
  const names = subjectAltNames(serverNames);
  const keys = (await crypto.subtle.generateKey(ecP256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  // One hour back for clients whose clock runs slow; whole seconds, as
  // X.509 times hold them, so `notAfter` equals what the certificate says.
  const notBefore = new Date(Math.floor(now.getTime() / 1000) * 1000 - hourMs);
  let notAfter = new Date(notBefore.getTime() + leafValidityDays * dayMs);
  // A leaf outliving its CA would fail verification anyway; say so in the dates.
  if (notAfter > ca.cert.notAfter) notAfter = ca.cert.notAfter;
  const caSki = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    // X.520 caps a common name at 64 characters; the SAN carries the names anyway.
    subject: `CN=${first.length <= 64 ? first : 'Bulwark server'}`,
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ecdsaSha256,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((value) => ({ type: isIP(value) !== 0 ? 'ip' : 'dns', value })),
      ),
      caSki !== null
        ? new x509.AuthorityKeyIdentifierExtension(caSki.keyId)
        : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
      // RFC 5280 4.2.1.2: end-entity certificates SHOULD carry one too.
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certPem: pemOf(cert), keyPem: await exportPkcs8Pem(keys.privateKey), notAfter, names };
}

/** The configured names, plus the loopback forms of `localhost` when it is one of them. */
function subjectAltNames(serverNames: string[]): string[] {
  const names = [...serverNames];
  if (serverNames.includes('localhost')) names.push('localhost', '127.0.0.1', '::1');
  return [...new Set(names)];
}

/** 128 random bits with the top bit clear: a positive DER INTEGER (RFC 5280 4.1.2.2). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f || 0x01;
  return bytes.toString('hex');
}

function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trim()}\n`;
}

async function exportPkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = await crypto.subtle.exportKey('pkcs8', key);
  return `${x509.PemConverter.encode(der, 'PRIVATE KEY').trim()}\n`;
}

function pemChain(leafPem: string, caPem: string): string {
  return `${leafPem.trim()}\n${caPem.trim()}\n`;
}

// ---------------------------------------------------------------------------
// Loading and checking

async function loadGeneratedMaterial(dir: string, serverNames: string[]): Promise<TlsMaterial> {
  const certPath = join(dir, tlsFiles.serverCert);
  const keyPath = join(dir, tlsFiles.serverKey);
  const caPath = join(dir, tlsFiles.caCert);
  const cert = await readText(certPath);
  const key = await readText(keyPath);
  const ca = (await exists(caPath)) ? await readText(caPath) : null;
  const leaf = assertKeyMatches(cert, key, certPath, keyPath);
  if (ca !== null && !leaf.verify(parseCert(ca, caPath).publicKey)) {
    throw new TlsError(`${certPath} is not signed by the CA in ${caPath}`);
  }
  const missing = serverNames.filter((name) =>
    isIP(name) !== 0 ? leaf.checkIP(name) === undefined : leaf.checkHost(name) === undefined,
  );
  return {
    cert,
    key,
    ca,
    source: 'generated',
    notAfter: leaf.validToDate,
    names: sanNames(leaf),
    missingNames: missing,
  };
}

async function loadOperatorMaterial(
  certFile: string | undefined,
  keyFile: string | undefined,
): Promise<TlsMaterial> {
  if (certFile === undefined || keyFile === undefined) {
    throw new TlsError('give both a certificate file and a key file, or neither');
  }
  const cert = await readText(certFile);
  const key = await readText(keyFile);
  const leaf = assertKeyMatches(cert, key, certFile, keyFile);
  return {
    cert,
    key,
    ca: null,
    source: 'operator',
    notAfter: leaf.validToDate,
    names: sanNames(leaf),
    missingNames: [],
  };
}

function parseCert(pem: string, label: string): X509Certificate {
  try {
    // With a chain, node parses the first certificate: the leaf.
    return new X509Certificate(pem);
  } catch {
    throw new TlsError(`${label} does not hold a PEM certificate`);
  }
}

function parseKey(pem: string, label: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch {
    throw new TlsError(`${label} does not hold an unencrypted PEM private key`);
  }
}

/**
 * Signs a random challenge with the key and verifies it with the
 * certificate's public key: a key from another pair fails here rather than
 * in the first client's handshake. Returns the parsed certificate.
 */
function assertKeyMatches(
  certPem: string,
  keyPem: string,
  certLabel: string,
  keyLabel: string,
): X509Certificate {
  const cert = parseCert(certPem, certLabel);
  const key = parseKey(keyPem, keyLabel);
  const challenge = randomBytes(32);
  // Ed25519/Ed448 take no separate digest.
  const digest =
    key.asymmetricKeyType === 'ed25519' || key.asymmetricKeyType === 'ed448' ? null : 'sha256';
  let matches = false;
  try {
    const signature = sign(digest, challenge, key);
    matches = verify(digest, challenge, cert.publicKey, signature);
  } catch {
    matches = false;
  }
  if (!matches) {
    throw new TlsError(
      `the private key in ${keyLabel} does not match the certificate in ${certLabel}`,
    );
  }
  return cert;
}

function sanNames(cert: X509Certificate): string[] {
  useWebCrypto();
  const san = new x509.X509Certificate(cert.raw).getExtension(x509.SubjectAlternativeNameExtension);
  return san === null ? [] : san.names.items.map((item) => item.value);
}

// ---------------------------------------------------------------------------
// Files

async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await stat(dir);
  if (!info.isDirectory()) throw new TlsError(`${dir} is not a directory`);
  // The directory is ours; tighten it if it was made by hand with a looser mode.
  if ((info.mode & 0o077) !== 0) await chmod(dir, 0o700);
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new TlsError(`cannot read ${path}: ${errCode(err)}`);
  }
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

/** A complete, synced file under a temporary name next to `name`. */
async function writeTemp(
  dir: string,
  name: string,
  data: string | Uint8Array,
  mode: number,
): Promise<string> {
  const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    await handle.chmod(mode); // the umask may have taken bits off `mode`
    await handle.sync();
  } finally {
    await handle.close();
  }
  return tmp;
}

/**
 * Atomic write: temp file, fsync, then rename (overwrite) or link (create
 * only; link fails if the name exists, so two writers cannot both win).
 * Without `overwrite`, an existing file with the same content is accepted
 * and one with different content is an error, unless `refuseAny`.
 */
async function writeFileAtomic(
  dir: string,
  name: string,
  data: string | Uint8Array,
  mode: number,
  overwrite: boolean,
  refuseAny = false,
): Promise<void> {
  const target = join(dir, name);
  const tmp = await writeTemp(dir, name, data, mode);
  try {
    if (overwrite) {
      await rename(tmp, target);
    } else {
      try {
        await link(tmp, target);
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
        const current = await readFile(target);
        if (refuseAny || !current.equals(Buffer.from(data))) {
          throw new TlsError(`refusing to overwrite ${target}`);
        }
      }
      await unlink(tmp);
    }
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await syncDir(dir);
}

/** Makes the rename or link itself durable. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
