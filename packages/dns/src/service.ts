import type { Registry } from 'prom-client';
import { ResponseCache } from './cache/cache.ts';
import type { ClientDefaults } from './clients.ts';
import {
  type ListFetcher,
  ListRegistry,
  type ListSource,
  type ListStatus,
} from './firewall/lists.ts';
import { ClientRateLimiter } from './limits/rate-limit.ts';
import {
  type DohRequest,
  dohContentType,
  hashClientToken,
  readDohRequest,
} from './listeners/doh.ts';
import { listenDot, listenTcp, type StreamListener } from './listeners/tcp.ts';
import { listenUdp } from './listeners/udp.ts';
import { createDnsMetrics } from './observe/metrics.ts';
import { QueryLogBuffer, type QueryLogEntry, toLogEntry } from './observe/query-log.ts';
import { DnsStats } from './observe/stats.ts';
import { Resolver } from './resolver.ts';
import type { DnsSnapshot, QueryEvent } from './types.ts';
import { UpstreamPool, type UpstreamStatus } from './upstream/pool.ts';
import { createUpstream, type UpstreamConfig } from './upstream/upstream.ts';

export interface DnsLogger {
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

export interface DnsServerOptions {
  host: string;
  /** null: that listener is off. 0: any free port (tests). */
  udpPort: number | null;
  tcpPort: number | null;
  dotPort: number | null;
  /** The certificate DoT presents (the server's own). */
  tls?: { key: string; cert: string };
  /** tls:// or https:// only; empty with airGapped. */
  upstreams: UpstreamConfig[];
  airGapped: boolean;
  lists: ListSource[];
  defaults: ClientDefaults;
  rebindingAllowed?: string[];
  rateLimit?: { queriesPerSecond: number; exemptCidrs?: string[] };
  cacheEntries?: number;
  upstreamTimeoutMs?: number;
  healthIntervalMs?: number;
  /** Where query-log entries go (the server's database); none: nothing is kept. */
  queryLogSink?: (entries: QueryLogEntry[]) => Promise<void>;
  registry?: Registry;
  logger?: DnsLogger;
  fetchList?: ListFetcher;
}

export interface DohAnswer {
  status: number;
  contentType: string;
  body: Uint8Array | string;
}

export interface DnsServer {
  readonly resolver: Resolver;
  readonly ports: { udp: number | null; tcp: number | null; dot: number | null };
  /** Serves one DNS-over-HTTPS request (the server's `/dns-query` routes call this). */
  handleDoh(request: {
    method: string;
    contentType: string | undefined;
    dnsParam: string | undefined;
    body: unknown;
    address: string;
    token?: string;
  }): Promise<DohAnswer>;
  setSnapshot(snapshot: DnsSnapshot): void;
  clearSnapshot(): void;
  setTls(tls: { key: string; cert: string }): void;
  stats(orgId: string | null): ReturnType<DnsStats['snapshot']>;
  status(): {
    lists: ListStatus[];
    upstreams: UpstreamStatus[];
    cacheEntries: number;
    airGapped: boolean;
  };
  lists: ListRegistry;
  close(): Promise<void>;
}

/**
 * Builds and starts the resolver and its listeners: what `bulwark start`
 * runs when `dns.enabled` is set, and what the benchmark runs alone.
 */
export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  if (!opts.airGapped && opts.upstreams.length === 0) {
    throw new Error('dns: give at least one upstream (tls:// or https://), or set airGapped');
  }
  const logger = opts.logger;
  const upstreams = opts.airGapped
    ? null
    : new UpstreamPool({
        upstreams: opts.upstreams.map((u) => createUpstream(u)),
        ...(opts.upstreamTimeoutMs !== undefined ? { timeoutMs: opts.upstreamTimeoutMs } : {}),
        ...(opts.healthIntervalMs !== undefined ? { healthIntervalMs: opts.healthIntervalMs } : {}),
        ...(logger ? { logger } : {}),
      });
  const lists = new ListRegistry({
    sources: opts.lists,
    ...(opts.fetchList ? { fetch: opts.fetchList } : {}),
    log: (fields, msg) => logger?.info(fields, msg),
  });
  const stats = new DnsStats();
  const metrics = opts.registry ? createDnsMetrics(opts.registry) : null;
  const sink = opts.queryLogSink;
  const queryLog = sink
    ? new QueryLogBuffer({
        flush: sink,
        onError: (err: unknown) =>
          logger?.warn({ err }, 'DNS query log entries could not be stored'),
      })
    : null;
  const rateLimiter = opts.rateLimit
    ? new ClientRateLimiter({ queriesPerSecond: opts.rateLimit.queriesPerSecond })
    : null;
  if (rateLimiter && opts.rateLimit?.exemptCidrs) rateLimiter.exempt(opts.rateLimit.exemptCidrs);
  const cache = new ResponseCache({ maxEntries: opts.cacheEntries ?? 100_000 });
  const onQuery = (event: QueryEvent) => {
    stats.record(event);
    metrics?.observe(event);
    if (queryLog) {
      const entry = toLogEntry(event);
      if (entry) queryLog.push(entry);
    }
  };
  const resolver = new Resolver({
    lists,
    upstreams,
    cache,
    ...(rateLimiter ? { rateLimiter } : {}),
    defaults: opts.defaults,
    ...(opts.rebindingAllowed ? { rebindingAllowed: opts.rebindingAllowed } : {}),
    onQuery,
    onMalformed: (protocol) => metrics?.malformed(protocol),
    onRateLimited: (action) => metrics?.rateLimited(action),
  });
  metrics?.setCollectors({
    cacheEntries: () => cache.size,
    upstreams: () => upstreams?.status() ?? [],
  });

  await lists.start();
  upstreams?.start();
  const onError = (err: unknown) => logger?.error({ err }, 'DNS listener error');
  const closers: (() => Promise<void>)[] = [];
  const ports = {
    udp: null as number | null,
    tcp: null as number | null,
    dot: null as number | null,
  };
  let dot:
    | (StreamListener & { setSecureContext(tls: { key: string; cert: string }): void })
    | null = null;
  try {
    if (opts.udpPort !== null) {
      const udp = await listenUdp({ resolver, host: opts.host, port: opts.udpPort, onError });
      ports.udp = udp.port;
      closers.push(udp.close);
    }
    if (opts.tcpPort !== null) {
      // Same number as UDP by default; 0 means "whatever UDP got" so dig finds both on one port.
      const port = opts.tcpPort === 0 && ports.udp !== null ? ports.udp : opts.tcpPort;
      const tcp = await listenTcp({ resolver, host: opts.host, port, onError });
      ports.tcp = tcp.port;
      closers.push(tcp.close);
    }
    if (opts.dotPort !== null) {
      if (!opts.tls) throw new Error('dns: DNS over TLS needs the server certificate');
      dot = await listenDot({
        resolver,
        host: opts.host,
        port: opts.dotPort,
        tls: opts.tls,
        onError,
      });
      ports.dot = dot.port;
      closers.push(dot.close);
    }
  } catch (err) {
    for (const close of closers.reverse()) await close();
    lists.stop();
    await upstreams?.close();
    throw err;
  }

  return {
    resolver,
    ports,
    lists,
    async handleDoh(request) {
      let tokenHash: string | undefined;
      if (request.token !== undefined) {
        tokenHash = hashClientToken(request.token);
        if (!resolver.knowsToken(tokenHash)) {
          return {
            status: 403,
            contentType: 'text/plain',
            body: 'unknown or revoked DNS client token',
          };
        }
      }
      const read: DohRequest = readDohRequest(request);
      if (!read.ok) return { status: read.status, contentType: 'text/plain', body: read.message };
      const answer = await resolver.handle(read.query, {
        protocol: 'doh',
        address: request.address,
        ...(tokenHash ? { tokenHash } : {}),
      });
      if (!answer) {
        return {
          status: 400,
          contentType: 'text/plain',
          body: 'not a DNS query (RFC 1035 message)',
        };
      }
      return { status: 200, contentType: dohContentType, body: answer };
    },
    setSnapshot: (snapshot) => resolver.setSnapshot(snapshot),
    clearSnapshot: () => resolver.clearSnapshot(),
    setTls: (tls) => dot?.setSecureContext(tls),
    stats: (orgId) => stats.snapshot({ orgId, nowMs: Date.now() }),
    status: () => ({
      lists: lists.status(),
      upstreams: upstreams?.status() ?? [],
      cacheEntries: cache.size,
      airGapped: opts.airGapped,
    }),
    async close() {
      for (const close of closers.reverse()) await close();
      lists.stop();
      await upstreams?.close();
      await queryLog?.close();
    },
  };
}
