// @peculiar/x509 needs the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createRequire } from 'node:module';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeDeliveryService } from '@bulwark/chat/testing';
import * as x509 from '@peculiar/x509';

/** The server side of a `ws` socket (the package ships no types). */
interface ServerWs {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: 'message', listener: (data: Buffer) => void): void;
  on(event: 'close', listener: () => void): void;
}
interface WsServer {
  handleUpgrade(
    req: IncomingMessage,
    socket: Socket,
    head: Buffer,
    done: (ws: ServerWs) => void,
  ): void;
  close(): void;
}
const { WebSocketServer } = createRequire(import.meta.url)('ws') as {
  WebSocketServer: new (opts: { noServer: true }) => WsServer;
};

export interface Bridge {
  url: string;
  caFile: string;
  dir: string;
  close(): Promise<void>;
}

/**
 * Serves a FakeDeliveryService over real TLS 1.3 and a real WebSocket, so
 * the `bulwark chat` commands can run as a child process against it.
 */
export async function serveOverHttps(ds: FakeDeliveryService): Promise<Bridge> {
  const pki = await makePki();
  const dir = await mkdtemp(join(tmpdir(), 'bulwark-chat-cli-'));
  const caFile = join(dir, 'ca.crt');
  await writeFile(caFile, pki.caPem);
  const wss = new WebSocketServer({ noServer: true });
  const server: Server = createServer(
    { cert: pki.certPem, key: pki.keyPem, minVersion: 'TLSv1.3' },
    (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
        const answer = await ds.fetch(new URL(req.url ?? '/', ds.baseUrl).toString(), {
          method: req.method ?? 'GET',
          headers,
          ...(body.length > 0 ? { body: new Uint8Array(body) } : {}),
        });
        res.writeHead(answer.status, { 'content-type': 'application/json' });
        res.end(Buffer.from(await answer.arrayBuffer()));
      });
    },
  );
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    wss.handleUpgrade(req, socket, head, (ws) => {
      // The fake's in-process socket, driven from the real one.
      const inner = ds.wsFactory(`${ds.baseUrl}v1/messaging/ws`, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      inner.on('message', (data) => ws.send(typeof data === 'string' ? data : utf8(data)));
      inner.on('close', (code, reason) =>
        ws.close(code, typeof reason === 'string' ? reason : utf8(reason)),
      );
      ws.on('message', (data) => inner.send(data.toString('utf8')));
      ws.on('close', () => inner.close());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    caFile,
    dir,
    close: async () => {
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

async function makePki() {
  x509.cryptoProvider.set(globalThis.crypto);
  const caKeys = await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    name: 'CN=Bulwark chat test CA',
    keys: caKeys,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingAlgorithm: ecdsa,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const leafKeys = await crypto.subtle.generateKey(ecdsa, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: `01${randomBytes(8).toString('hex')}`,
    subject: 'CN=127.0.0.1',
    issuer: ca.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3600_000),
    signingAlgorithm: ecdsa,
    publicKey: leafKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'ip', value: '127.0.0.1' }]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', leafKeys.privateKey);
  return {
    caPem: ca.toString('pem'),
    certPem: leaf.toString('pem'),
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
