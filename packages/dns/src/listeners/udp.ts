import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { Resolver } from '../resolver.ts';

/**
 * DNS over UDP (RFC 1035 §4.2.1). Each datagram is one query; answers go
 * back to the source it came from. A failure answering one query is never
 * allowed to reach the socket's error path (which would stop everyone's).
 */
export async function listenUdp(opts: {
  resolver: Resolver;
  host: string;
  port: number;
  onError?: (err: unknown) => void;
}): Promise<{ socket: Socket; port: number; close(): Promise<void> }> {
  const socket = createSocket({ type: isIPv6(opts.host) ? 'udp6' : 'udp4', reuseAddr: false });
  socket.on('message', (message, remote) => {
    const send = (answer: Uint8Array | null) => {
      // No callback: a failed send surfaces as the socket's 'error' (logged, not fatal), and
      // a callback per datagram cost a quarter of a bare socket's throughput.
      if (answer) socket.send(answer, remote.port, remote.address);
    };
    try {
      const answer = opts.resolver.handle(message, { protocol: 'udp', address: remote.address });
      if (answer instanceof Promise) answer.then(send, (err: unknown) => opts.onError?.(err));
      else send(answer);
    } catch (err) {
      opts.onError?.(err);
    }
  });
  socket.on('error', (err) => opts.onError?.(err));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return {
    socket,
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
