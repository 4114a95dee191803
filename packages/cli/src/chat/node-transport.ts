import { createRequire } from 'node:module';
import type { FetchLike, WsFactory, WsLike } from '@bulwark/chat';
import { httpsFetch } from './https-fetch.ts';

/**
 * The device socket over the `ws` package, trusting only `ca` when given,
 * TLS 1.3 only. Loaded lazily so commands that never open a socket need it not.
 */
export function nodeWsFactory(ca?: string): WsFactory {
  return (url, opts) => {
    const WebSocket = createRequire(import.meta.url)('ws') as new (
      url: string,
      opts: object,
    ) => WsLike;
    return new WebSocket(url, {
      ...opts,
      minVersion: 'TLSv1.3',
      ...(ca === undefined ? {} : { ca }),
      maxPayload: 16 * 1024 * 1024,
    });
  };
}

/** The CLI's seams for `@bulwark/chat`: HTTP and the socket, both trusting `ca` (or the system store). */
export function nodeTransport(ca?: string): {
  fetchImpl: FetchLike & { close(): void };
  wsFactory: WsFactory;
} {
  return { fetchImpl: httpsFetch(ca), wsFactory: nodeWsFactory(ca) };
}
