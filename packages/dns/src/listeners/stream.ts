import type { Socket } from 'node:net';
import type { QueryOrigin, Resolver } from '../resolver.ts';

/** Limits for one TCP or DoT connection (RFC 7766 §6). */
export interface StreamLimits {
  /** Idle seconds before we close (RFC 7766 §6.2.3 suggests seconds, not minutes). */
  idleSeconds: number;
  /** Queries in flight per connection; beyond it we stop reading (back-pressure). */
  maxInFlight: number;
  /** The largest query frame; a bigger length prefix ends the connection. */
  maxFrameBytes: number;
}

export const defaultStreamLimits: StreamLimits = {
  idleSeconds: 10,
  maxInFlight: 64,
  maxFrameBytes: 4096,
};

/**
 * Serves one TCP or TLS connection: 2-octet length-prefixed messages,
 * pipelined, answered as each completes (out of order is allowed, RFC 7766
 * §6.2.1.1). A frame announcing more than a query can be, or anything after
 * the peer stopped reading, ends only this connection.
 */
export function serveStream(
  socket: Socket,
  resolver: Resolver,
  origin: QueryOrigin,
  limits: StreamLimits,
  onError?: (err: unknown) => void,
): void {
  let buffered: Buffer = Buffer.alloc(0);
  let inFlight = 0;
  let closed = false;
  socket.setNoDelay(true);
  socket.setTimeout(limits.idleSeconds * 1000, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => {
    closed = true;
  });

  const write = (response: Uint8Array | null) => {
    if (closed || !response) return;
    const frame = Buffer.allocUnsafe(2 + response.length);
    frame.writeUInt16BE(response.length, 0);
    frame.set(response, 2);
    socket.write(frame);
  };
  const done = () => {
    inFlight -= 1;
    if (!closed && socket.isPaused() && inFlight < limits.maxInFlight) socket.resume();
  };
  const answer = (query: Buffer) => {
    inFlight += 1;
    if (inFlight >= limits.maxInFlight) socket.pause();
    let response: ReturnType<Resolver['handle']>;
    try {
      response = resolver.handle(query, origin);
    } catch (err) {
      onError?.(err);
      done();
      return;
    }
    if (response instanceof Promise) {
      response.then(write, (err: unknown) => onError?.(err)).finally(done);
    } else {
      write(response);
      done();
    }
  };

  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2) {
      const length = buffered.readUInt16BE(0);
      if (length < 12 || length > limits.maxFrameBytes) {
        socket.destroy();
        return;
      }
      if (buffered.length < 2 + length) break;
      answer(buffered.subarray(2, 2 + length));
      buffered = buffered.subarray(2 + length);
    }
    if (buffered.length === 0) buffered = Buffer.alloc(0);
  });
}
