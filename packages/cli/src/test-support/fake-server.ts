// @peculiar/x509 needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type ErrorCode,
  errorCatalogue,
  initRequestSchema,
  rekeyRequestSchema,
  type SysStatus,
  unsealRequestSchema,
} from '@bulwark/protocol';
import * as x509 from '@peculiar/x509';

/**
 * A small stand-in for the Bulwark server's /v1/sys API, over real TLS 1.3,
 * for the CLI's own tests only (the real server has its end-to-end tests).
 */
export interface FakeServer {
  url: string;
  /** The CA that signed the server's certificate (what `--ca` should be). */
  caFile: string;
  /** A CA that did not sign it (for the "wrong CA" test). */
  otherCaFile: string;
  /** Temporary directory: the operator token file is written here. */
  dir: string;
  operatorTokenFile: string;
  /** Every request, in order (bodies included: tests only). */
  requests: { method: string; path: string; authorization?: string; body: unknown }[];
  /** The shares dealt at init or the last rekey (or made for `sealedWith`). */
  shares: string[];
  status(): SysStatus;
  close(): Promise<void>;
}

export interface FakeServerOptions {
  /** Start initialised and sealed with these secrets, instead of uninitialised. */
  sealedWith?: { passphrase?: string; shares?: { count: number; threshold: number } };
  /**
   * Report the share threshold in the status while unsealed too (the real
   * server reports it only while sealed), for the CLI's fixed-count prompts.
   */
  thresholdWhileUnsealed?: boolean;
}

interface Installation {
  id: string;
  passphrase: string | null;
  shares: string[];
  threshold: number;
  token: string;
}

export async function startFakeServer(opts: FakeServerOptions = {}): Promise<FakeServer> {
  const pki = await testPki();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-cli-test-'));
  const caFile = join(dir, 'ca.crt');
  const otherCaFile = join(dir, 'other-ca.crt');
  const operatorTokenFile = join(dir, 'operator.token');
  await writeFile(caFile, pki.caPem);
  await writeFile(otherCaFile, pki.otherCaPem);

  let inst: Installation | null = null;
  let unsealed = false;
  let given: string[] = [];
  const requests: FakeServer['requests'] = [];

  const deal = (id: string, count: number) => {
    // Each deal differs (like real shares), so old shares never match new ones.
    const round = randomBytes(4).toString('hex');
    return Array.from({ length: count }, (_, i) => `bulwark-share-v1.${id}.${round}s${i + 1}.fake`);
  };
  const install = async (passphrase: string | null, count: number, threshold: number) => {
    const id = `bwk_${randomBytes(10).toString('hex')}`;
    const shares = deal(id, count);
    inst = { id, passphrase, shares, threshold, token: randomBytes(32).toString('base64url') };
    await writeFile(operatorTokenFile, `${inst.token}\n`, { mode: 0o600 });
    return inst;
  };
  if (opts.sealedWith) {
    const s = opts.sealedWith.shares;
    await install(opts.sealedWith.passphrase ?? null, s?.count ?? 0, s?.threshold ?? 0);
  }

  const status = (): SysStatus => {
    const state = !inst ? 'uninitialized' : unsealed ? 'unsealed' : 'sealed';
    const providers: SysStatus['providers'] = [];
    if (inst?.passphrase) providers.push('passphrase');
    if (inst && inst.shares.length > 0) providers.push('shamir');
    return {
      state,
      initialized: inst !== null,
      sealed: state !== 'unsealed',
      installationId: inst?.id ?? null,
      providers,
      shares:
        inst && inst.shares.length > 0 && (state === 'sealed' || opts.thresholdWhileUnsealed)
          ? { given: given.length, threshold: inst.threshold, total: inst.shares.length }
          : null,
      storage: 'sqlite',
      version: '0.1.0-fake',
    };
  };

  async function handle(method: string, path: string, body: unknown, auth: string | undefined) {
    if (method === 'GET' && path === '/v1/sys/status') return ok(status());
    if (method !== 'POST') return fail('not_found');
    if (path === '/v1/sys/init') {
      const req = initRequestSchema.safeParse(body);
      if (!req.success) return fail('bad_request');
      if (inst) return fail('already_initialized');
      const s = req.data.shares;
      const made = await install(req.data.passphrase ?? null, s?.count ?? 0, s?.threshold ?? 0);
      unsealed = true;
      return ok({
        installationId: made.id,
        shares: made.shares,
        threshold: s?.threshold ?? null,
        operatorTokenFile,
        status: status(),
      });
    }
    if (path === '/v1/sys/unseal') {
      const req = unsealRequestSchema.safeParse(body);
      if (!req.success) return fail('bad_request');
      if (!inst) return fail('not_initialized');
      if ('reset' in req.data) {
        given = [];
        return ok(status());
      }
      if (unsealed) return fail('already_unsealed');
      if ('passphrase' in req.data) {
        if (!inst.passphrase) return fail('provider_not_configured');
        if (req.data.passphrase !== inst.passphrase) return fail('unseal_failed');
        unsealed = true;
        return ok(status());
      }
      const share = req.data.share;
      if (inst.shares.length === 0) return fail('provider_not_configured');
      if (!share.startsWith('bulwark-share-v1.')) return fail('invalid_share');
      if (!share.startsWith(`bulwark-share-v1.${inst.id}.`)) return fail('foreign_share');
      if (!inst.shares.includes(share)) return fail('invalid_share');
      if (given.includes(share)) return fail('duplicate_share');
      given.push(share);
      if (given.length >= inst.threshold) {
        given = [];
        unsealed = true;
      }
      return ok(status());
    }
    if (path === '/v1/sys/rekey') {
      // The real server's order: token, seal state, body, then the current material.
      if (!inst) return fail('not_initialized');
      if (auth !== `Bearer ${inst.token}`) return fail('unauthenticated');
      if (!unsealed) return fail('sealed');
      const req = rekeyRequestSchema.safeParse(body);
      if (!req.success) return fail('bad_request');
      const { current, next } = req.data;
      if ('passphrase' in current) {
        if (!inst.passphrase) return fail('provider_not_configured');
        if (current.passphrase !== inst.passphrase) return fail('unseal_failed');
      } else {
        if (inst.shares.length === 0) return fail('provider_not_configured');
        const seen = new Set<string>();
        for (const share of current.shares) {
          if (!share.startsWith('bulwark-share-v1.')) return fail('invalid_share');
          if (!share.startsWith(`bulwark-share-v1.${inst.id}.`)) return fail('foreign_share');
          if (seen.has(share)) return fail('duplicate_share');
          seen.add(share);
        }
        if (seen.size < inst.threshold) return fail('bad_request');
        if (![...seen].every((s) => inst?.shares.includes(s))) return fail('shares_mismatch');
      }
      // Same installation (same root key), new wrappings; the operator token stays.
      inst.passphrase = next.passphrase ?? null;
      inst.shares = deal(inst.id, next.shares?.count ?? 0);
      inst.threshold = next.shares?.threshold ?? 0;
      return ok({
        installationId: inst.id,
        shares: inst.shares,
        threshold: next.shares?.threshold ?? null,
        providers: status().providers,
      });
    }
    if (path === '/v1/sys/seal') {
      if (!inst) return fail('not_initialized');
      if (auth !== `Bearer ${inst.token}`) return fail('unauthenticated');
      unsealed = false;
      given = [];
      return ok(status());
    }
    return fail('not_found');
  }

  const server = createServer(
    { key: pki.keyPem, cert: pki.certPem, minVersion: 'TLSv1.3' },
    (req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = text === '' ? undefined : JSON.parse(text);
        } catch {
          body = text;
        }
        const method = req.method ?? '';
        const path = req.url ?? '';
        const auth = req.headers.authorization;
        requests.push({
          method,
          path,
          body,
          ...(auth === undefined ? {} : { authorization: auth }),
        });
        handle(method, path, body, auth).then(
          ([code, answer]) => {
            res.writeHead(code, { 'content-type': 'application/json' });
            res.end(JSON.stringify(answer));
          },
          (err: unknown) => {
            res.writeHead(500).end(String(err));
          },
        );
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    caFile,
    otherCaFile,
    dir,
    operatorTokenFile,
    requests,
    get shares() {
      return inst?.shares ?? [];
    },
    status,
    close: async () => {
      await closeServer(server);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

type Answer = [number, unknown];

function ok(body: unknown): Answer {
  return [200, body];
}

function fail(code: ErrorCode): Answer {
  const { httpStatus, message } = errorCatalogue[code];
  return [httpStatus, { error: { code, message } }];
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

interface TestPki {
  caPem: string;
  otherCaPem: string;
  certPem: string;
  keyPem: string;
}

let pkiOnce: Promise<TestPki> | undefined;

/** A throwaway ECDSA P-256 CA and a leaf for 127.0.0.1, made once per test process. */
function testPki(): Promise<TestPki> {
  pkiOnce ??= makePki();
  return pkiOnce;
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function makePki(): Promise<TestPki> {
  x509.cryptoProvider.set(globalThis.crypto);
  const ca = await makeCa('CN=Bulwark CLI test CA');
  const other = await makeCa('CN=Some other CA');
  const leafKeys = await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    subject: 'CN=127.0.0.1',
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    signingAlgorithm: ecdsa,
    publicKey: leafKeys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
  return {
    caPem: ca.cert.toString('pem'),
    otherCaPem: other.cert.toString('pem'),
    certPem: leaf.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}

async function makeCa(name: string) {
  const keys = await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name,
    keys,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 24 * 3600_000),
    signingAlgorithm: ecdsa,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { keys, cert };
}
