import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Resolver } from '../resolver.ts';
import { defaultStreamLimits, type StreamLimits, serveStream } from './stream.ts';

export interface StreamListenerOptions {
  resolver: Resolver;
  host: string;
  port: number;
  limits?: Partial<StreamLimits>;
  /** Connections open at once, all clients together; more are closed at accept. */
  maxConnections?: number;
  onError?: (err: unknown) => void;
}

export interface StreamListener {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** DNS over TCP (RFC 7766). */
export async function listenTcp(opts: StreamListenerOptions): Promise<StreamListener> {
  const limits = { ...defaultStreamLimits, ...opts.limits };
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    track(sockets, socket);
    serveStream(
      socket,
      opts.resolver,
      { protocol: 'tcp', address: socket.remoteAddress ?? '' },
      limits,
      opts.onError,
    );
  });
  return await listen(server, opts, sockets);
}

/**
 * DNS over TLS (RFC 7858), TLS 1.3 only. A client certificate is asked for
 * but not required: when one is presented, the handshake has proven the
 * client holds its key, and its fingerprint is how a registered device is
 * recognised (the certificate need not chain to anything; it is pinned).
 */
export async function listenDot(
  opts: StreamListenerOptions & { tls: { key: string; cert: string } },
): Promise<StreamListener & { setSecureContext(tls: { key: string; cert: string }): void }> {
  const limits = { ...defaultStreamLimits, ...opts.limits };
  const sockets = new Set<Socket>();
  const server = createTlsServer(
    {
      key: opts.tls.key,
      cert: opts.tls.cert,
      minVersion: 'TLSv1.3',
      maxVersion: 'TLSv1.3',
      ALPNProtocols: ['dot'],
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: 5000,
    },
    (socket: TLSSocket) => {
      track(sockets, socket);
      const peer = socket.getPeerCertificate();
      const fingerprint =
        peer && 'raw' in peer && peer.raw
          ? createHash('sha256').update(peer.raw).digest('hex')
          : undefined;
      serveStream(
        socket,
        opts.resolver,
        {
          protocol: 'dot',
          address: socket.remoteAddress ?? '',
          ...(fingerprint ? { certFingerprint: fingerprint } : {}),
        },
        limits,
        opts.onError,
      );
    },
  );
  server.on('tlsClientError', () => {});
  const listener = await listen(server, opts, sockets);
  return {
    ...listener,
    setSecureContext: (tls) =>
      server.setSecureContext({
        key: tls.key,
        cert: tls.cert,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
      }),
  };
}

function track(sockets: Set<Socket>, socket: Socket): void {
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
}

async function listen(
  server: Server,
  opts: StreamListenerOptions,
  sockets: Set<Socket>,
): Promise<StreamListener> {
  server.maxConnections = opts.maxConnections ?? 10_000;
  server.on('error', (err) => opts.onError?.(err));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    server,
    port: typeof address === 'object' && address ? address.port : opts.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
