/**
 * DNS benchmark (the DNS firewall issue's figures): our resolver and
 * Unbound, side by side in one run, measured with dnsperf on loopback.
 *
 *   node bench/dns/run.ts [--seconds 10] [--names 1000000] [--rate 10000]
 *                         [--latency-seconds 5] [--hosts 1000] [--blocked 1000]
 *                         [--cpu-prof <dir>] [--keep]
 *
 * What runs where (2 cores): each server is pinned to core 0 (`taskset -c
 * 0`): ours as `node bench/dns/serve.ts` (startDnsServer with a UDP
 * listener), Unbound as `unbound -d` with `num-threads: 1`. dnsperf is
 * pinned to core 1. "The internet" is the test authority
 * (@bulwark/dns/testing) in this process, answering `host<i>.bench.example`
 * A over DNS over TLS; both servers forward everything to it over TLS and
 * check its certificate against a throwaway CA (made with openssl here).
 *
 * Two configurations, each server started fresh for each:
 *   base  a 1,000-name block list (`blocked<i>.bench-ads.example`)
 *   big   the same plus a list of --names (1,000,000) generated,
 *         deterministic names: a `domains` file for ours, a file of
 *         `local-zone: "<name>." always_nxdomain` lines for Unbound (both
 *         block the name and everything under it, answering NXDOMAIN).
 *
 * In each: time from spawn to the first answer from the list (load time),
 * resident memory, then the cache is primed (dnsperf once over the host
 * names, every answer checked) and four dnsperf runs:
 *   cached   the --hosts names, as fast as the server answers (-q 100
 *            outstanding): queries per second, mean latency
 *   blocked  names on the block list (base: the small list; big: 1,000
 *            names spread over the big list), the same way
 *   cached @ rate, blocked @ rate   a fixed --rate (-Q): latency
 *            percentiles from dnsperf -v's per-query lines
 * The authority's query count shows every measured answer came from the
 * cache or the list. Server and dnsperf CPU are sampled over each run's
 * middle, with core 0's busy share (anything above the server's own is
 * someone else's). For ours in `big`, one refresh of the big list (what its
 * refresh timer does) is timed too: the event loop is busy that long.
 *
 * Prints one JSON line per measurement and a Markdown summary, and writes
 * bench/dns/results.json. --cpu-prof writes V8 CPU profiles of our server
 * (one per configuration) to the directory given.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import type { ListSource } from '@bulwark/dns';
import { startTestAuthority, type TestAuthority } from '@bulwark/dns/testing';
import { makeTestPki } from '../../test/support/pki.ts';
import type { ServeCommand, ServeConfig, ServeMemory, ServeReady } from './serve.ts';
import {
  type DnsperfResult,
  dnsperf,
  firstAnswer,
  query,
  residentMemory,
  unboundConfig,
} from './tools.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    names: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '10000' },
    'latency-seconds': { type: 'string', default: '5' },
    hosts: { type: 'string', default: '1000' },
    blocked: { type: 'string', default: '1000' },
    'cpu-prof': { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const seconds = Number(flags.seconds);
const bigNames = Number(flags.names);
const rate = Number(flags.rate);
const latencySeconds = Number(flags['latency-seconds']);
const hostCount = Number(flags.hosts);
const blockedCount = Number(flags.blocked);
const cpuProfDir = flags['cpu-prof'] ? resolve(flags['cpu-prof']) : null;
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

type Kind = 'ours' | 'unbound';
type Config = 'base' | 'big';

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
const r1 = (x: number) => Number(x.toFixed(1));
const r3 = (x: number) => Number(x.toFixed(3));

function machine() {
  const version = (cmd: string, args: string[], re: RegExp) => {
    try {
      const text = execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return re.exec(text)?.[1] ?? null;
    } catch (err) {
      const text = String((err as { stdout?: string }).stdout ?? '');
      return re.exec(text)?.[1] ?? null;
    }
  };
  let os: string | null = null;
  try {
    os = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? null;
  } catch {}
  return {
    nproc: availableParallelism(),
    memGiB: Math.round(totalmem() / 2 ** 30),
    cpu: cpus()[0]?.model ?? null,
    os,
    node: process.version,
    dnsperf: version('dnsperf', ['-h'], /Version (\S+)/),
    unbound: version('unbound', ['-V'], /Version (\S+)/),
  };
}

// --- the names -------------------------------------------------------------

/** A small deterministic PRNG (mulberry32): the same million names every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/**
 * Names shaped like a public block list's: one to three labels of 3–14
 * letters and digits under a common TLD, unique by a base-36 counter in
 * the first label (`k3x9ads0.metrics-cdn.com`).
 */
function bigListNames(n: number): string[] {
  const rand = prng(20261125);
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const words = ['ads', 'track', 'metrics', 'cdn', 'pixel', 'stat', 'click', 'tag', 'beacon', 'log'];
  const tlds = ['com', 'net', 'org', 'io', 'info', 'biz', 'xyz', 'ru', 'de', 'top'];
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)] as T;
  const label = (min: number, max: number) => {
    let s = '';
    const len = min + Math.floor(rand() * (max - min + 1));
    for (let i = 0; i < len; i++) s += alphabet[Math.floor(rand() * alphabet.length)];
    return s;
  };
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const depth = 1 + Math.floor(rand() * 3);
    const labels = [`${label(3, 8)}${pick(words)}${i.toString(36)}`];
    for (let d = 1; d < depth; d++) labels.push(rand() < 0.5 ? `${pick(words)}-${label(3, 6)}` : label(4, 10));
    labels.push(pick(tlds));
    out[i] = labels.join('.');
  }
  return out;
}

// --- processes ---------------------------------------------------------------

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

interface Running {
  kind: Kind;
  pid: number;
  port: number;
  /** Spawn to the first answer from the block list, ms. */
  firstAnswerMs: number;
  /** Ours only: startDnsServer's own time and each list's load. */
  ready?: ServeReady;
  alive(): boolean;
  memory(): Promise<{ rss: number; peak: number; node?: ServeMemory }>;
  refresh?(list: string): Promise<{ ms: number; rules: number; error: string | null }>;
  stop(): Promise<void>;
}

async function startOurs(
  dir: string,
  config: Config,
  serve: ServeConfig,
  probe: string,
): Promise<Running> {
  const configFile = join(dir, `ours-${config}.json`);
  writeFileSync(configFile, JSON.stringify(serve));
  const node = [process.execPath, '--expose-gc'];
  if (cpuProfDir) {
    mkdirSync(cpuProfDir, { recursive: true });
    node.push('--cpu-prof', '--cpu-prof-dir', cpuProfDir, '--cpu-prof-name', `ours-${config}.cpuprofile`);
  }
  const serveFile = new URL('./serve.ts', import.meta.url).pathname;
  const t0 = performance.now();
  const child = track(
    spawn('taskset', ['-c', String(SERVER_CORE), ...node, serveFile, configFile], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let ready: ServeReady | undefined;
  const readyP = new Promise<ServeReady>((res, rej) => {
    child.on('message', (m: { type?: string; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
      if (m.type === 'ready') {
        ready = m as ServeReady;
        res(ready);
        return;
      }
      const p = m.id !== undefined ? pending.get(m.id) : undefined;
      if (!p || m.id === undefined) return;
      pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    child.once('exit', (code) => {
      rej(new Error(`serve.ts exited with ${code}`));
      for (const p of pending.values()) p.reject(new Error(`serve.ts exited with ${code}`));
    });
  });
  const request = <T>(req: ServeCommand): Promise<T> => {
    const id = ++seq;
    return new Promise<T>((res, rej) => {
      pending.set(id, { resolve: (v) => res(v as T), reject: rej });
      child.send({ ...req, id });
    });
  };
  const alive = () => child.exitCode === null && child.signalCode === null;
  const r = await readyP;
  const firstAnswerMs = await firstAnswer(r.port, probe, 'NXDOMAIN', t0, 120_000, alive);
  const pid = child.pid ?? 0;
  return {
    kind: 'ours',
    pid,
    port: r.port,
    firstAnswerMs,
    ready: r,
    alive,
    async memory() {
      const nodeMem = await request<ServeMemory>({ type: 'memory' });
      return { ...residentMemory(pid), node: nodeMem };
    },
    refresh: (list) => request({ type: 'refresh', list }),
    async stop() {
      if (!alive()) return;
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      await request({ type: 'close' }).catch(() => {});
      await Promise.race([exited, sleep(10_000)]);
      await stopChild(child);
    },
  };
}

async function startUnbound(
  dir: string,
  config: Config,
  conf: string,
  port: number,
  probe: string,
): Promise<Running> {
  const confFile = join(dir, `unbound-${config}.conf`);
  writeFileSync(confFile, conf);
  const t0 = performance.now();
  const child = track(
    spawn('taskset', ['-c', String(SERVER_CORE), 'unbound', '-d', '-c', confFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let log = '';
  child.stdout?.on('data', (b: Buffer) => {
    log += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    log += b.toString();
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  let firstAnswerMs: number;
  try {
    firstAnswerMs = await firstAnswer(port, probe, 'NXDOMAIN', t0, 300_000, alive);
  } catch (err) {
    await stopChild(child);
    throw new Error(`${(err as Error).message}\nunbound said:\n${log.slice(-2000)}`);
  }
  const pid = child.pid ?? 0;
  return {
    kind: 'unbound',
    pid,
    port,
    firstAnswerMs,
    alive,
    memory: async () => residentMemory(pid),
    stop: () => stopChild(child),
  };
}

/** A free UDP and TCP port on loopback (Unbound needs both on one number). */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const { createSocket } = await import('node:dgram');
  for (;;) {
    const port = await new Promise<number>((res, rej) => {
      const s = createServer();
      s.once('error', rej);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => res(p));
      });
    });
    const ok = await new Promise<boolean>((res) => {
      const u = createSocket('udp4');
      u.once('error', () => res(false));
      u.bind(port, '127.0.0.1', () => u.close(() => res(true)));
    });
    if (ok) return port;
  }
}

// --- the run -----------------------------------------------------------------

interface ScenarioResult extends DnsperfResult {
  upstreamQueries: number;
}

interface ConfigResult {
  kind: Kind;
  config: Config;
  firstAnswerMs: number;
  startDnsServerMs?: number;
  listsLoaded?: ServeReady['listsLoaded'];
  memoryAtStart: { rss: number; peak: number; node?: ServeMemory };
  memoryAfter: { rss: number; peak: number; node?: ServeMemory };
  prime: { completed: number; noerror: number; upstreamQueries: number; seconds: number };
  scenarios: Record<string, ScenarioResult>;
  refresh?: { ms: number; rules: number; peakRss: number };
}

async function main(): Promise<void> {
  const info = machine();
  emit({ measure: 'machine', ...info, seconds, names: bigNames, rate, latencySeconds });
  const tmp = mkdtempSync(join(tmpdir(), 'bulwark-dns-bench-'));
  let authority: TestAuthority | null = null;
  const running = new Set<Running>();
  try {
    const pki = await makeTestPki(join(tmp, 'pki'), 'Bulwark DNS bench CA');
    const tls = {
      cert: readFileSync(pki.serverCertFile, 'utf8'),
      key: readFileSync(pki.serverKeyFile, 'utf8'),
    };

    const hosts = Array.from({ length: hostCount }, (_, i) => `host${i}.bench.example`);
    authority = await startTestAuthority({
      tls,
      records: hosts.map((name, i) => ({
        name,
        type: 'A',
        ttl: 86_400,
        data: `198.18.${(i >> 8) & 255}.${i & 255}`,
      })),
    });
    const dotPort = Number(new URL(authority.dotUrl.replace('tls:', 'https:')).port);

    // The files: query lists for dnsperf, block lists in each server's form.
    const t0 = performance.now();
    const file = (name: string, text: string) => {
      const path = join(tmp, name);
      writeFileSync(path, text);
      return path;
    };
    const localZones = (names: string[]) =>
      names.map((n) => `local-zone: "${n}." always_nxdomain\n`).join('');
    const smallNames = Array.from({ length: blockedCount }, (_, i) => `blocked${i}.bench-ads.example`);
    const big = bigListNames(bigNames);
    const step = Math.max(1, Math.floor(big.length / 1000));
    const bigSample = big.filter((_, i) => i % step === step >> 1).slice(0, 1000);
    const files = {
      cachedQueries: file('q-cached.txt', hosts.map((h) => `${h} A\n`).join('')),
      smallQueries: file('q-blocked.txt', smallNames.map((n) => `${n} A\n`).join('')),
      bigQueries: file('q-blocked-big.txt', bigSample.map((n) => `${n} A\n`).join('')),
      smallList: file('small.domains', `# ${blockedCount} names\n${smallNames.join('\n')}\n`),
      bigList: file('big.domains', `# ${bigNames} names\n${big.join('\n')}\n`),
      smallZones: file('small.conf', localZones(smallNames)),
      bigZones: file('big.conf', localZones(big)),
    };
    emit({
      measure: 'files',
      ms: Math.round(performance.now() - t0),
      bigListMiB: mib(Buffer.byteLength(readFileSync(files.bigList))),
      bigZonesMiB: mib(Buffer.byteLength(readFileSync(files.bigZones))),
    });

    const lists: Record<Config, ListSource[]> = {
      base: [
        { id: 'bench-small', source: files.smallList, format: 'domains', category: 'ads', refreshMinutes: 1440 },
      ],
      big: [
        { id: 'bench-small', source: files.smallList, format: 'domains', category: 'ads', refreshMinutes: 1440 },
        { id: 'bench-big', source: files.bigList, format: 'domains', category: 'trackers', refreshMinutes: 1440 },
      ],
    };
    const zones: Record<Config, string[]> = {
      base: [files.smallZones],
      big: [files.smallZones, files.bigZones],
    };
    const results: ConfigResult[] = [];

    for (const config of ['base', 'big'] as const) {
      for (const kind of ['ours', 'unbound'] as const) {
        const probe = config === 'big' ? (bigSample[0] as string) : (smallNames[0] as string);
        const unboundPort = kind === 'unbound' ? await freePort() : 0;
        const server =
          kind === 'ours'
            ? await startOurs(
                tmp,
                config,
                {
                  host: '127.0.0.1',
                  upstream: { url: authority.dotUrl, caFile: pki.caFile, serverName: '127.0.0.1' },
                  lists: lists[config],
                  cacheEntries: 100_000,
                },
                probe,
              )
            : await startUnbound(
                tmp,
                config,
                unboundConfig({
                  dir: tmp,
                  port: unboundPort,
                  upstreamDotPort: dotPort,
                  caFile: pki.caFile,
                  includes: zones[config],
                }),
                unboundPort,
                probe,
              );
        running.add(server);
        try {
          results.push(await measure(server, config, authority, files, hosts));
        } finally {
          await server.stop();
          running.delete(server);
        }
      }
    }
    report(info, results);
  } finally {
    for (const server of running) await server.stop().catch(() => {});
    killAll();
    await authority?.close();
    if (flags.keep) console.error(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

async function measure(
  server: Running,
  config: Config,
  authority: TestAuthority,
  files: { cachedQueries: string; smallQueries: string; bigQueries: string },
  hosts: string[],
): Promise<ConfigResult> {
  const tag = { kind: server.kind, config };
  const memoryAtStart = await server.memory();
  emit({
    measure: 'start',
    ...tag,
    firstAnswerMs: Math.round(server.firstAnswerMs),
    ...(server.ready ? { startDnsServerMs: Math.round(server.ready.startMs), lists: server.ready.listsLoaded } : {}),
    rssMiB: mib(memoryAtStart.rss),
    peakMiB: mib(memoryAtStart.peak),
    ...(memoryAtStart.node ? { heapMiB: mib(memoryAtStart.node.heapUsed) } : {}),
  });

  // Prime the cache: every host once, every answer checked.
  const before = authority.queries.length;
  const tp = performance.now();
  const prime = await dnsperf({
    port: server.port,
    queryFile: files.cachedQueries,
    seconds: 60,
    maxRuns: 1,
    outstanding: 20,
    core: CLIENT_CORE,
    serverCore: SERVER_CORE,
    serverPid: server.pid,
  });
  const primed = {
    completed: prime.completed,
    noerror: prime.rcodes.NOERROR ?? 0,
    upstreamQueries: authority.queries.length - before,
    seconds: r3((performance.now() - tp) / 1000),
  };
  if (primed.noerror !== hosts.length) {
    throw new Error(`${server.kind}: priming answered ${JSON.stringify(prime.rcodes)} of ${hosts.length}`);
  }
  const check = await query(server.port, hosts[hosts.length - 1] as string);
  const expected = `198.18.${((hosts.length - 1) >> 8) & 255}.${(hosts.length - 1) & 255}`;
  if (check?.rcode !== 'NOERROR' || check.answers[0] !== expected) {
    throw new Error(`${server.kind}: ${hosts.at(-1)} answered ${JSON.stringify(check)}`);
  }
  emit({ measure: 'prime', ...tag, ...primed });

  const blockedFile = config === 'big' ? files.bigQueries : files.smallQueries;
  const plan: { name: string; file: string; rate?: number; expect: string }[] = [
    { name: 'cached', file: files.cachedQueries, expect: 'NOERROR' },
    { name: 'blocked', file: blockedFile, expect: 'NXDOMAIN' },
    { name: 'cached@rate', file: files.cachedQueries, rate, expect: 'NOERROR' },
    { name: 'blocked@rate', file: blockedFile, rate, expect: 'NXDOMAIN' },
  ];
  const scenarios: Record<string, ScenarioResult> = {};
  for (const step of plan) {
    const before = authority.queries.length;
    const result = await dnsperf({
      port: server.port,
      queryFile: step.file,
      seconds: step.rate ? latencySeconds : seconds,
      ...(step.rate ? { rate: step.rate } : {}),
      core: CLIENT_CORE,
      serverCore: SERVER_CORE,
      serverPid: server.pid,
    });
    const scenario = { ...result, upstreamQueries: authority.queries.length - before };
    scenarios[step.name] = scenario;
    const wrong = Object.entries(result.rcodes).filter(([code]) => code !== step.expect);
    emit({
      measure: 'dnsperf',
      ...tag,
      scenario: step.name,
      qps: Math.round(result.qps),
      meanMs: r3(result.latencyMs.mean),
      maxMs: r3(result.latencyMs.max),
      ...(result.percentilesMs
        ? {
            p50Ms: r3(result.percentilesMs.p50),
            p90Ms: r3(result.percentilesMs.p90),
            p99Ms: r3(result.percentilesMs.p99),
            p999Ms: r3(result.percentilesMs.p999),
          }
        : {}),
      lost: result.lost,
      unexpectedRcodes: Object.fromEntries(wrong),
      responseBytes: result.responseBytes,
      serverCpu: result.serverCpu === null ? null : r3(result.serverCpu),
      serverCoreBusy: result.serverCoreBusy === null ? null : r3(result.serverCoreBusy),
      dnsperfCpu: result.dnsperfCpu === null ? null : r3(result.dnsperfCpu),
      clientCoreBusy: result.clientCoreBusy === null ? null : r3(result.clientCoreBusy),
      upstreamQueries: scenario.upstreamQueries,
    });
  }

  const memoryAfter = await server.memory();
  emit({
    measure: 'memory',
    ...tag,
    rssMiB: mib(memoryAfter.rss),
    peakMiB: mib(memoryAfter.peak),
    ...(memoryAfter.node
      ? { heapMiB: mib(memoryAfter.node.heapUsed), externalMiB: mib(memoryAfter.node.external) }
      : {}),
  });
  const result: ConfigResult = {
    kind: server.kind,
    config,
    firstAnswerMs: server.firstAnswerMs,
    ...(server.ready ? { startDnsServerMs: server.ready.startMs, listsLoaded: server.ready.listsLoaded } : {}),
    memoryAtStart,
    memoryAfter,
    prime: primed,
    scenarios,
  };
  if (server.refresh && config === 'big') {
    const refreshed = await server.refresh('bench-big');
    const peak = residentMemory(server.pid).peak;
    result.refresh = { ms: refreshed.ms, rules: refreshed.rules, peakRss: peak };
    emit({ measure: 'refresh', ...tag, ms: Math.round(refreshed.ms), rules: refreshed.rules, peakMiB: mib(peak) });
  }
  return result;
}

function report(info: ReturnType<typeof machine>, results: ConfigResult[]): void {
  const get = (kind: Kind, config: Config) => {
    const r = results.find((x) => x.kind === kind && x.config === config);
    if (!r) throw new Error(`no result for ${kind} ${config}`);
    return r;
  };
  const ratio = (a: number, b: number) => (b > 0 ? Number((a / b).toFixed(2)) : null);
  const rows: string[] = [];
  const row = (cells: (string | number)[]) => rows.push(`| ${cells.join(' | ')} |`);
  row(['measure', 'ours', 'Unbound', 'ours / Unbound']);
  row(['---', '---', '---', '---']);
  const fmtQps = (x: number) => Math.round(x).toLocaleString('en-US');
  for (const config of ['base', 'big'] as const) {
    const o = get('ours', config);
    const u = get('unbound', config);
    const label = config === 'base' ? '' : ` (${bigNames.toLocaleString('en-US')} blocked loaded)`;
    for (const s of ['cached', 'blocked'] as const) {
      const os = o.scenarios[s] as ScenarioResult;
      const us = u.scenarios[s] as ScenarioResult;
      row([
        `${s} QPS${label}`,
        `${fmtQps(os.qps)} (server CPU ${Math.round((os.serverCpu ?? 0) * 100)} %)`,
        `${fmtQps(us.qps)} (server CPU ${Math.round((us.serverCpu ?? 0) * 100)} %)`,
        String(ratio(os.qps, us.qps)),
      ]);
      row([
        `${s} mean latency, saturated${label}`,
        `${os.latencyMs.mean.toFixed(3)} ms`,
        `${us.latencyMs.mean.toFixed(3)} ms`,
        '',
      ]);
      const orate = o.scenarios[`${s}@rate`] as ScenarioResult;
      const urate = u.scenarios[`${s}@rate`] as ScenarioResult;
      const pct = (x: ScenarioResult) =>
        x.percentilesMs
          ? `${x.percentilesMs.p50.toFixed(3)} / ${x.percentilesMs.p99.toFixed(3)} / ${x.percentilesMs.p999.toFixed(3)} ms`
          : '—';
      row([`${s} p50 / p99 / p99.9 at ${rate.toLocaleString('en-US')} q/s${label}`, pct(orate), pct(urate), '']);
    }
  }
  for (const kind of ['ours', 'unbound'] as const) {
    const b = get(kind, 'base');
    const g = get(kind, 'big');
    emit({
      measure: 'big-list',
      kind,
      firstAnswerBaseMs: Math.round(b.firstAnswerMs),
      firstAnswerBigMs: Math.round(g.firstAnswerMs),
      loadMs: Math.round(g.firstAnswerMs - b.firstAnswerMs),
      extraRssMiB: mib(g.memoryAfter.rss - b.memoryAfter.rss),
      peakBigMiB: mib(g.memoryAfter.peak),
    });
  }
  const ob = get('ours', 'base');
  const og = get('ours', 'big');
  const ub = get('unbound', 'base');
  const ug = get('unbound', 'big');
  const bigLoad = og.listsLoaded?.find((l) => l.list === 'bench-big');
  row([
    `spawn → first answer, base / with ${bigNames.toLocaleString('en-US')}`,
    `${Math.round(ob.firstAnswerMs)} / ${Math.round(og.firstAnswerMs)} ms`,
    `${Math.round(ub.firstAnswerMs)} / ${Math.round(ug.firstAnswerMs)} ms`,
    '',
  ]);
  row([
    'list load inside the process (read, parse, index)',
    bigLoad ? `${Math.round(bigLoad.atMs)} ms (refresh: ${Math.round(og.refresh?.ms ?? 0)} ms)` : '—',
    '—',
    '',
  ]);
  row([
    'RSS after the runs, base / with the big list',
    `${mib(ob.memoryAfter.rss)} / ${mib(og.memoryAfter.rss)} MiB`,
    `${mib(ub.memoryAfter.rss)} / ${mib(ug.memoryAfter.rss)} MiB`,
    '',
  ]);
  row([
    'extra memory for the big list (RSS)',
    `${mib(og.memoryAfter.rss - ob.memoryAfter.rss)} MiB`,
    `${mib(ug.memoryAfter.rss - ub.memoryAfter.rss)} MiB`,
    '',
  ]);
  row([
    'peak RSS with the big list',
    `${mib(og.refresh?.peakRss ?? og.memoryAfter.peak)} MiB (after a refresh)`,
    `${mib(ug.memoryAfter.peak)} MiB`,
    '',
  ]);
  const summary = rows.join('\n');
  console.log(`\n${summary}\n`);
  const out = new URL('./results.json', import.meta.url).pathname;
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        machine: info,
        command: `node bench/dns/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
        settings: { seconds, names: bigNames, rate, latencySeconds, hosts: hostCount, blocked: blockedCount },
        results: results.map((r) => ({
          ...r,
          scenarios: Object.fromEntries(
            Object.entries(r.scenarios).map(([k, v]) => [
              k,
              { ...v, qps: r1(v.qps) },
            ]),
          ),
        })),
        summary,
      },
      null,
      2,
    )}\n`,
  );
  console.error(`wrote ${out}`);
}

await main();
