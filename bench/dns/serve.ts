/**
 * Our resolver for bench/dns/run.ts, alone in a process (started by run.ts
 * as `taskset -c 0 node --expose-gc bench/dns/serve.ts <config.json>` with
 * an IPC channel), so its CPU and memory are its own: `startDnsServer` with
 * a UDP listener on a loopback port, the test authority as its only
 * upstream (DNS over TLS, certificate checked against the bench's CA), the
 * bench's block lists from files, no rate limit, metrics into a
 * prom-client registry (as a server exposing /metrics runs it), no query
 * log sink. Requests over IPC:
 *
 *   memory   process.memoryUsage() after gc() has settled, plus peak RSS
 *   refresh  re-reads one list (what its refresh timer does) and times it
 *   close    closes the server and exits (a --cpu-prof profile is written then)
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type DnsServerOptions,
  type FirewallPolicy,
  type ListSource,
  startDnsServer,
  type UpstreamConfig,
} from '@bulwark/dns';
import { Registry } from 'prom-client';

export interface ServeConfig {
  host: string;
  upstream: UpstreamConfig;
  lists: ListSource[];
  cacheEntries: number;
}

export type ServeCommand =
  | { type: 'memory' }
  | { type: 'refresh'; list: string }
  | { type: 'close' };
export type ServeRequest = ServeCommand & { id: number };

export interface ServeMemory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Peak RSS of the process so far (bytes). */
  maxRss: number;
}

export interface ServeReady {
  type: 'ready';
  port: number;
  /** startDnsServer, start to resolve (ms): the lists' read, parse and index are in it. */
  startMs: number;
  /** Each list's "loaded" log line, ms after startDnsServer was called. */
  listsLoaded: { list: string; rules: number; atMs: number }[];
}

const send = (m: object) => process.send?.(m);
if (!process.send)
  throw new Error('serve.ts runs as a child of bench/dns/run.ts, with an IPC channel');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('serve.ts needs --expose-gc');

const configFile = process.argv[2];
if (!configFile) throw new Error('usage: serve.ts <config.json>');
const config = JSON.parse(readFileSync(configFile, 'utf8')) as ServeConfig;

const policy: FirewallPolicy = {
  id: 'default',
  orgId: null,
  blockCategories: ['malware', 'phishing', 'trackers', 'ads'],
  rules: [],
  answer: 'nxdomain',
  sinkhole: { ipv4: null, ipv6: null },
  queryLog: 'off',
};

let t0 = performance.now();
const listsLoaded: ServeReady['listsLoaded'] = [];
const logger: NonNullable<DnsServerOptions['logger']> = {
  info(fields, msg) {
    const f = fields as { list?: string; rules?: number };
    if (msg === 'DNS block list loaded' && f.list !== undefined) {
      listsLoaded.push({ list: f.list, rules: f.rules ?? 0, atMs: performance.now() - t0 });
    }
  },
  warn(fields, msg) {
    console.error('serve.ts warn:', msg, fields);
  },
  error(fields, msg) {
    console.error('serve.ts error:', msg, fields);
  },
};

t0 = performance.now();
const server = await startDnsServer({
  host: config.host,
  udpPort: 0,
  tcpPort: null,
  dotPort: null,
  upstreams: [config.upstream],
  airGapped: false,
  lists: config.lists,
  defaults: { policy, allowedRanges: ['127.0.0.0/8'] },
  cacheEntries: config.cacheEntries,
  registry: new Registry(),
  logger,
});
const startMs = performance.now() - t0;
const ready: ServeReady = {
  type: 'ready',
  port: server.ports.udp ?? 0,
  startMs,
  listsLoaded: [...listsLoaded],
};
send(ready);

async function memory(): Promise<ServeMemory> {
  for (let i = 0; i < 3; i++) {
    gc?.();
    await sleep(100);
  }
  const m = process.memoryUsage();
  return {
    rss: m.rss,
    heapUsed: m.heapUsed,
    heapTotal: m.heapTotal,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
}

process.on('message', (raw: ServeRequest) => {
  void (async () => {
    try {
      switch (raw.type) {
        case 'memory':
          send({ id: raw.id, ok: true, value: await memory() });
          break;
        case 'refresh': {
          const started = performance.now();
          const status = await server.lists.refresh(raw.list);
          const ms = performance.now() - started;
          send({ id: raw.id, ok: true, value: { ms, rules: status.rules, error: status.error } });
          break;
        }
        case 'close':
          await server.close();
          send({ id: raw.id, ok: true, value: null });
          process.disconnect();
          process.exit(0);
      }
    } catch (err) {
      send({ id: raw.id, ok: false, error: String(err) });
    }
  })();
});
process.on('disconnect', () => {
  // The parent went away (it was killed or crashed): do not outlive it.
  void server.close().finally(() => process.exit(0));
});
