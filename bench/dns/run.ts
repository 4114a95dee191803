/**
 * DNS benchmark (the DNS firewall issue's figures): our resolver and
 * Unbound, side by side in one run, measured with dnsperf on loopback.
 *
 *   node bench/dns/run.ts [--seconds 10] [--rounds 3] [--names 1000000]
 *                         [--rate 5000] [--latency-seconds 5] [--hosts 1000]
 *                         [--blocked 1000] [--nice=-10] [--cpu-prof <dir>] [--keep]
 *
 * What runs where (2 cores): each server is pinned to core 0 (`taskset -c
 * 0`): ours as `node bench/dns/serve.ts` (startDnsServer with a UDP
 * listener), Unbound as `unbound -d` with `num-threads: 1`. dnsperf is
 * pinned to core 1. "The internet" is the test authority
 * (@bulwark/dns/testing) in this process, answering `host<i>.bench.example`
 * A over DNS over TLS; both servers forward everything to it over TLS and
 * check its certificate against a throwaway CA (made with openssl here).
 * --nice runs the servers and dnsperf at that nice level (root only for a
 * negative one): on a shared machine it keeps other work off the two cores
 * mostly, not entirely.
 *
 * Two configurations; both servers are started for each (one after the
 * other, so neither start competes with the other) and stay up together:
 *   base  a 1,000-name block list (`blocked<i>.bench-ads.example`)
 *   big   the same plus a list of --names (1,000,000) generated,
 *         deterministic names: a `domains` file for ours, a file of
 *         `local-zone: "<name>." always_nxdomain` lines for Unbound (both
 *         block the name and everything under it, answering NXDOMAIN).
 *
 * In each: time from spawn to the first answer from the list (load time),
 * resident memory, then the cache is primed (dnsperf once over the host
 * names, every answer checked) and, --rounds times, four dnsperf runs
 * against each server in turn (who goes first alternates by round, so a
 * change in the machine's load hits both alike):
 *   cached   the --hosts names, as fast as the server answers (-q 100
 *            outstanding): queries per second, mean latency
 *   blocked  names on the block list (base: the small list; big: 1,000
 *            names spread over the big list), the same way
 *   cached @ rate, blocked @ rate   a fixed --rate (-Q): latency
 *            percentiles from dnsperf -v's per-query lines
 * The summary takes each measure's median over the rounds. The
 * authority's query count shows every measured answer came from the cache
 * or the list. Server and dnsperf CPU are sampled over each run's middle
 * (/proc), with each core's busy share (what is above the process's own
 * is someone else's, or interrupts): "QPS per server CPU-second" is the
 * server's capacity on a whole core, the measure that still compares when
 * dnsperf's one core, not the server, is the limit (as it is for Unbound).
 * In `base` a third server runs too, the floor (echo.ts): Node's UDP
 * socket answering without any DNS work, on the cached runs. For ours in
 * `big`, one refresh of the big list (what its refresh timer does) is
 * timed too, with a cached name asked every 10 ms meanwhile: the slowest
 * of those answers is how long the refresh kept the resolver from answering.
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
  pinned,
  query,
  residentMemory,
  unboundConfig,
} from './tools.ts';

const { values: flags } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    names: { type: 'string', default: '1000000' },
    rate: { type: 'string', default: '5000' },
    'latency-seconds': { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    nice: { type: 'string', default: '0' },
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
const rounds = Number(flags.rounds);
const nice = Number(flags.nice);
const hostCount = Number(flags.hosts);
const blockedCount = Number(flags.blocked);
const cpuProfDir = flags['cpu-prof'] ? resolve(flags['cpu-prof']) : null;
const SERVER_CORE = 0;
const CLIENT_CORE = 1;

type Kind = 'ours' | 'unbound' | 'echo';
type Config = 'base' | 'big';

const emit = (o: Record<string, unknown>) => console.log(JSON.stringify(o));
const mib = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));
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
  // The resolver under test changes often: say which one ran (and whether it had local edits).
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, {
        cwd: new URL('../..', import.meta.url).pathname,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return null;
    }
  };
  const dirty = git(['status', '--porcelain', '--', 'packages/dns']);
  return {
    commit: git(['rev-parse', '--short', 'HEAD']),
    dnsPackageEdited: dirty === null ? null : dirty !== '',
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
  const words = [
    'ads',
    'track',
    'metrics',
    'cdn',
    'pixel',
    'stat',
    'click',
    'tag',
    'beacon',
    'log',
  ];
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
    for (let d = 1; d < depth; d++)
      labels.push(rand() < 0.5 ? `${pick(words)}-${label(3, 6)}` : label(4, 10));
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
    node.push(
      '--cpu-prof',
      '--cpu-prof-dir',
      cpuProfDir,
      '--cpu-prof-name',
      `ours-${config}.cpuprofile`,
    );
  }
  const serveFile = new URL('./serve.ts', import.meta.url).pathname;
  const t0 = performance.now();
  const child = track(
    spawn(...pinned(SERVER_CORE, nice, [...node, serveFile, configFile]), {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  let seq = 0;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let ready: ServeReady | undefined;
  const readyP = new Promise<ServeReady>((res, rej) => {
    child.on(
      'message',
      (m: { type?: string; id?: number; ok?: boolean; value?: unknown; error?: string }) => {
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
      },
    );
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
    spawn(...pinned(SERVER_CORE, nice, ['unbound', '-d', '-c', confFile]), {
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

/** The floor: a Node UDP server doing no DNS work (echo.ts). */
async function startEcho(port: number): Promise<Running> {
  const echoFile = new URL('./echo.ts', import.meta.url).pathname;
  const t0 = performance.now();
  const child = track(
    spawn(...pinned(SERVER_CORE, nice, [process.execPath, echoFile, String(port)]), {
      stdio: ['ignore', 'inherit', 'inherit'],
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const firstAnswerMs = await firstAnswer(port, 'echo.bench.example', 'NOERROR', t0, 30_000, alive);
  const pid = child.pid ?? 0;
  return {
    kind: 'echo',
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

interface Round extends DnsperfResult {
  round: number;
  /** Queries the authority saw meanwhile: 0 means every answer came from the cache or a list. */
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
  scenarios: Record<string, Round[]>;
  /** Ours in `big`: one refresh of the big list, and the slowest answer to a probe meanwhile. */
  refresh?: { ms: number; rules: number; peakRss: number; slowestAnswerMs: number };
}

interface Step {
  name: 'cached' | 'blocked' | 'cached@rate' | 'blocked@rate';
  file: string;
  rate?: number;
  expect: string;
}

async function main(): Promise<void> {
  const info = machine();
  emit({
    measure: 'machine',
    ...info,
    seconds,
    names: bigNames,
    rate,
    latencySeconds,
    rounds,
    nice,
  });
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
        data: hostAddress(i),
      })),
    });
    const dotPort = Number(new URL(authority.dotUrl.replace('tls:', 'https:')).port);

    // The files: query lists for dnsperf, block lists in each server's form.
    const t0 = performance.now();
    const file = (name: string, text: string) => {
      const path = join(tmp, name);
      writeFileSync(path, text);
      return { path, bytes: Buffer.byteLength(text) };
    };
    const localZones = (names: string[]) =>
      names.map((n) => `local-zone: "${n}." always_nxdomain\n`).join('');
    const smallNames = Array.from(
      { length: blockedCount },
      (_, i) => `blocked${i}.bench-ads.example`,
    );
    const big = bigListNames(bigNames);
    const stride = Math.max(1, Math.floor(big.length / 1000));
    const bigSample = big.filter((_, i) => i % stride === stride >> 1).slice(0, 1000);
    const cachedQueries = file('q-cached.txt', hosts.map((h) => `${h} A\n`).join(''));
    const smallQueries = file('q-blocked.txt', smallNames.map((n) => `${n} A\n`).join(''));
    const bigQueries = file('q-blocked-big.txt', bigSample.map((n) => `${n} A\n`).join(''));
    const smallList = file('small.domains', `# ${blockedCount} names\n${smallNames.join('\n')}\n`);
    const bigList = file('big.domains', `# ${bigNames} names\n${big.join('\n')}\n`);
    const smallZones = file('small.conf', localZones(smallNames));
    const bigZones = file('big.conf', localZones(big));
    emit({
      measure: 'files',
      ms: Math.round(performance.now() - t0),
      bigListMiB: mib(bigList.bytes),
      bigZonesMiB: mib(bigZones.bytes),
      sample: big.slice(0, 3),
    });

    const small: ListSource = {
      id: 'bench-small',
      source: smallList.path,
      format: 'domains',
      category: 'ads',
      refreshMinutes: 1440,
    };
    const setups: Record<
      Config,
      { lists: ListSource[]; zones: string[]; probe: string; blocked: string }
    > = {
      base: {
        lists: [small],
        zones: [smallZones.path],
        probe: smallNames[0] as string,
        blocked: smallQueries.path,
      },
      big: {
        lists: [
          small,
          {
            id: 'bench-big',
            source: bigList.path,
            format: 'domains',
            category: 'trackers',
            refreshMinutes: 1440,
          },
        ],
        zones: [smallZones.path, bigZones.path],
        // The last name of the big list: answered only once all of it is in.
        probe: big.at(-1) as string,
        blocked: bigQueries.path,
      },
    };
    const results: ConfigResult[] = [];

    for (const config of ['base', 'big'] as const) {
      const setup = setups[config];
      const servers: Running[] = [];
      try {
        // One at a time, so neither start competes with the other for core 0.
        const ours = await startOurs(
          tmp,
          config,
          {
            host: '127.0.0.1',
            upstream: { url: authority.dotUrl, caFile: pki.caFile, serverName: '127.0.0.1' },
            lists: setup.lists,
            cacheEntries: 100_000,
          },
          setup.probe,
        );
        servers.push(ours);
        running.add(ours);
        const unboundPort = await freePort();
        const unbound = await startUnbound(
          tmp,
          config,
          unboundConfig({
            dir: tmp,
            port: unboundPort,
            upstreamDotPort: dotPort,
            caFile: pki.caFile,
            includes: setup.zones,
          }),
          unboundPort,
          setup.probe,
        );
        servers.push(unbound);
        running.add(unbound);
        if (config === 'base') {
          const echo = await startEcho(await freePort());
          servers.push(echo);
          running.add(echo);
        }

        const partial = new Map<Running, ConfigResult>();
        for (const server of servers) {
          const memoryAtStart = await server.memory();
          emit({
            measure: 'start',
            kind: server.kind,
            config,
            firstAnswerMs: Math.round(server.firstAnswerMs),
            ...(server.ready
              ? {
                  startDnsServerMs: Math.round(server.ready.startMs),
                  lists: server.ready.listsLoaded,
                }
              : {}),
            rssMiB: mib(memoryAtStart.rss),
            peakMiB: mib(memoryAtStart.peak),
            ...(memoryAtStart.node ? { heapMiB: mib(memoryAtStart.node.heapUsed) } : {}),
          });
          const prime =
            server.kind === 'echo'
              ? { completed: 0, noerror: 0, upstreamQueries: 0, seconds: 0 }
              : await primeCache(server, config, authority, cachedQueries.path, hosts);
          partial.set(server, {
            kind: server.kind,
            config,
            firstAnswerMs: server.firstAnswerMs,
            ...(server.ready
              ? { startDnsServerMs: server.ready.startMs, listsLoaded: server.ready.listsLoaded }
              : {}),
            memoryAtStart,
            memoryAfter: memoryAtStart,
            prime,
            scenarios: {},
          });
        }

        const plan: Step[] = [
          { name: 'cached', file: cachedQueries.path, expect: 'NOERROR' },
          { name: 'blocked', file: setup.blocked, expect: 'NXDOMAIN' },
          { name: 'cached@rate', file: cachedQueries.path, rate, expect: 'NOERROR' },
          { name: 'blocked@rate', file: setup.blocked, rate, expect: 'NXDOMAIN' },
        ];
        for (let round = 1; round <= rounds; round++) {
          for (const step of plan) {
            // Alternate who goes first, so a drift in the machine's load hits both alike.
            const order = round % 2 === 1 ? servers : [...servers].reverse();
            for (const server of order) {
              // The echo floor answers no names: only the cached runs' shape applies to it.
              if (server.kind === 'echo' && !step.name.startsWith('cached')) continue;
              const result = partial.get(server) as ConfigResult;
              const r = await runStep(server, config, authority, step, round);
              result.scenarios[step.name] = [...(result.scenarios[step.name] ?? []), r];
            }
          }
        }

        for (const server of servers) {
          const result = partial.get(server) as ConfigResult;
          result.memoryAfter = await server.memory();
          emit({
            measure: 'memory',
            kind: server.kind,
            config,
            rssMiB: mib(result.memoryAfter.rss),
            peakMiB: mib(result.memoryAfter.peak),
            ...(result.memoryAfter.node
              ? {
                  heapMiB: mib(result.memoryAfter.node.heapUsed),
                  heapTotalMiB: mib(result.memoryAfter.node.heapTotal),
                  externalMiB: mib(result.memoryAfter.node.external),
                }
              : {}),
          });
          if (server.refresh && config === 'big') {
            // Meanwhile a cached name is asked every 10 ms: the slowest answer is the stall.
            let refreshing = true;
            let slowestMs = 0;
            let probes = 0;
            const prober = (async () => {
              while (refreshing) {
                const t0 = performance.now();
                const got = await query(server.port, hosts[0] as string, 'A', 30_000);
                if (got !== null) {
                  probes += 1;
                  slowestMs = Math.max(slowestMs, performance.now() - t0);
                }
                await sleep(10);
              }
            })();
            const refreshed = await server.refresh('bench-big');
            refreshing = false;
            await prober;
            const peak = residentMemory(server.pid).peak;
            result.refresh = {
              ms: refreshed.ms,
              rules: refreshed.rules,
              peakRss: peak,
              slowestAnswerMs: slowestMs,
            };
            emit({
              measure: 'refresh',
              kind: server.kind,
              config,
              ms: Math.round(refreshed.ms),
              rules: refreshed.rules,
              peakMiB: mib(peak),
              probes,
              slowestAnswerMs: Math.round(slowestMs),
            });
          }
          results.push(result);
        }
      } finally {
        for (const server of servers) {
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

function hostAddress(i: number): string {
  return `198.18.${(i >> 8) & 255}.${i & 255}`;
}

/** Every host once (dnsperf -n 1), every answer checked: the cache is then warm. */
async function primeCache(
  server: Running,
  config: Config,
  authority: TestAuthority,
  queryFile: string,
  hosts: string[],
): Promise<ConfigResult['prime']> {
  const before = authority.queries.length;
  const t0 = performance.now();
  const prime = await dnsperf({
    port: server.port,
    queryFile,
    seconds: 60,
    maxRuns: 1,
    outstanding: 20,
    core: CLIENT_CORE,
    nice,
    serverCore: SERVER_CORE,
    serverPid: server.pid,
  });
  const primed = {
    completed: prime.completed,
    noerror: prime.rcodes.NOERROR ?? 0,
    upstreamQueries: authority.queries.length - before,
    seconds: r3((performance.now() - t0) / 1000),
  };
  if (primed.noerror !== hosts.length) {
    throw new Error(
      `${server.kind}: priming answered ${JSON.stringify(prime.rcodes)} of ${hosts.length}`,
    );
  }
  const last = hosts.length - 1;
  const check = await query(server.port, hosts[last] as string);
  if (check?.rcode !== 'NOERROR' || check.answers[0] !== hostAddress(last)) {
    throw new Error(`${server.kind}: ${hosts[last]} answered ${JSON.stringify(check)}`);
  }
  emit({ measure: 'prime', kind: server.kind, config, ...primed });
  return primed;
}

async function runStep(
  server: Running,
  config: Config,
  authority: TestAuthority,
  step: Step,
  round: number,
): Promise<Round> {
  const before = authority.queries.length;
  const result = await dnsperf({
    port: server.port,
    queryFile: step.file,
    seconds: step.rate ? latencySeconds : seconds,
    ...(step.rate ? { rate: step.rate } : {}),
    core: CLIENT_CORE,
    nice,
    serverCore: SERVER_CORE,
    serverPid: server.pid,
  });
  const r: Round = { ...result, round, upstreamQueries: authority.queries.length - before };
  const wrong = Object.entries(result.rcodes).filter(([code]) => code !== step.expect);
  const share = (x: number | null) => (x === null ? null : r3(x));
  emit({
    measure: 'dnsperf',
    kind: server.kind,
    config,
    scenario: step.name,
    round,
    qps: Math.round(result.qps),
    qpsPerServerCpu: result.serverCpu ? Math.round(result.qps / result.serverCpu) : null,
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
    serverCpu: share(result.serverCpu),
    serverCoreBusy: share(result.serverCoreBusy),
    dnsperfCpu: share(result.dnsperfCpu),
    clientCoreBusy: share(result.clientCoreBusy),
    upstreamQueries: r.upstreamQueries,
  });
  if (wrong.length > 0 || result.lost > 0) {
    console.error(
      `warning: ${server.kind} ${config} ${step.name}: lost ${result.lost}, rcodes ${JSON.stringify(result.rcodes)}`,
    );
  }
  return r;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1
    ? (s[mid] as number)
    : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** One scenario's rounds, summarised: medians, plus what else ran on the cores meanwhile. */
function summarise(rs: Round[]) {
  const num = (f: (r: Round) => number | null | undefined) =>
    rs.map(f).filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
  const med = (f: (r: Round) => number | null | undefined) => {
    const v = num(f);
    return v.length > 0 ? median(v) : null;
  };
  return {
    rounds: rs.length,
    qps: med((r) => r.qps),
    /** Other work only ever slows a round down: the best round is the closest to the capacity. */
    qpsBest: rs.length > 0 ? Math.max(...rs.map((r) => r.qps)) : null,
    qpsAll: rs.map((r) => Math.round(r.qps)),
    qpsPerServerCpu: med((r) => (r.serverCpu ? r.qps / r.serverCpu : null)),
    meanMs: med((r) => r.latencyMs.mean),
    p50Ms: med((r) => r.percentilesMs?.p50),
    p90Ms: med((r) => r.percentilesMs?.p90),
    p99Ms: med((r) => r.percentilesMs?.p99),
    p999Ms: med((r) => r.percentilesMs?.p999),
    serverCpu: med((r) => r.serverCpu),
    dnsperfCpu: med((r) => r.dnsperfCpu),
    /** Busy share of the server's core not used by the server (others, interrupts). */
    othersOnServerCore: med((r) =>
      r.serverCoreBusy !== null && r.serverCpu !== null ? r.serverCoreBusy - r.serverCpu : null,
    ),
    othersOnClientCore: med((r) =>
      r.clientCoreBusy !== null && r.dnsperfCpu !== null ? r.clientCoreBusy - r.dnsperfCpu : null,
    ),
    lost: rs.reduce((a, r) => a + r.lost, 0),
    upstreamQueries: rs.reduce((a, r) => a + r.upstreamQueries, 0),
    responseBytes: rs[0]?.responseBytes ?? null,
  };
}

function report(info: ReturnType<typeof machine>, results: ConfigResult[]): void {
  const get = (kind: Kind, config: Config) => {
    const r = results.find((x) => x.kind === kind && x.config === config);
    if (!r) throw new Error(`no result for ${kind} ${config}`);
    return r;
  };
  const ratio = (a: number | null, b: number | null) =>
    a !== null && b !== null && b > 0 ? (a / b).toFixed(2) : '—';
  const n0 = (x: number | null) => (x === null ? '—' : Math.round(x).toLocaleString('en-US'));
  const ms = (x: number | null) => (x === null ? '—' : x.toFixed(3));
  const pc = (x: number | null) => (x === null ? '—' : `${Math.round(x * 100)} %`);
  const summaries: Record<string, Record<string, ReturnType<typeof summarise>>> = {};
  const rows: string[] = [];
  const row = (cells: string[]) => rows.push(`| ${cells.join(' | ')} |`);
  row(['measure (median of rounds)', 'ours', 'Unbound', 'ours / Unbound']);
  row(['---', '---', '---', '---']);
  for (const config of ['base', 'big'] as const) {
    const o = get('ours', config);
    const u = get('unbound', config);
    const label = config === 'base' ? '' : `, ${bigNames.toLocaleString('en-US')} blocked loaded`;
    for (const s of ['cached', 'blocked'] as const) {
      const os = summarise(o.scenarios[s] ?? []);
      const us = summarise(u.scenarios[s] ?? []);
      const orate = summarise(o.scenarios[`${s}@rate`] ?? []);
      const urate = summarise(u.scenarios[`${s}@rate`] ?? []);
      summaries[`${config}/${s}`] = { ours: os, unbound: us };
      summaries[`${config}/${s}@rate`] = { ours: orate, unbound: urate };
      row([
        `${s}: QPS${label}`,
        `${n0(os.qps)} (server ${pc(os.serverCpu)} of a core)`,
        `${n0(us.qps)} (server ${pc(us.serverCpu)}, dnsperf ${pc(us.dnsperfCpu)})`,
        ratio(os.qps, us.qps),
      ]);
      row([
        `${s}: best round's QPS${label}`,
        n0(os.qpsBest),
        n0(us.qpsBest),
        ratio(os.qpsBest, us.qpsBest),
      ]);
      row([
        `${s}: QPS per server CPU-second${label}`,
        n0(os.qpsPerServerCpu),
        n0(us.qpsPerServerCpu),
        ratio(os.qpsPerServerCpu, us.qpsPerServerCpu),
      ]);
      row([`${s}: mean latency at saturation, ms${label}`, ms(os.meanMs), ms(us.meanMs), '']);
      row([
        `${s}: p50 / p99 / p99.9 at ${rate.toLocaleString('en-US')} q/s, ms${label}`,
        `${ms(orate.p50Ms)} / ${ms(orate.p99Ms)} / ${ms(orate.p999Ms)}`,
        `${ms(urate.p50Ms)} / ${ms(urate.p99Ms)} / ${ms(urate.p999Ms)}`,
        '',
      ]);
    }
  }
  const echo = results.find((x) => x.kind === 'echo');
  if (echo) {
    const es = summarise(echo.scenarios.cached ?? []);
    const er = summarise(echo.scenarios['cached@rate'] ?? []);
    summaries['base/echo'] = { cached: es, 'cached@rate': er };
    const os = summaries['base/cached']?.ours ?? null;
    const us = summaries['base/cached']?.unbound ?? null;
    row([
      'floor: a Node UDP echo (no DNS work), QPS (best) / per server CPU-second',
      `echo: ${n0(es.qps)} (${n0(es.qpsBest)}) / ${n0(es.qpsPerServerCpu)}`,
      `echo / Unbound: ${ratio(es.qps, us?.qps ?? null)} (${ratio(es.qpsBest, us?.qpsBest ?? null)}) / ${ratio(es.qpsPerServerCpu, us?.qpsPerServerCpu ?? null)}`,
      `ours / echo: ${ratio(os?.qps ?? null, es.qps)} (${ratio(os?.qpsBest ?? null, es.qpsBest)}) / ${ratio(os?.qpsPerServerCpu ?? null, es.qpsPerServerCpu)}`,
    ]);
    row([
      `floor: echo p50 / p99 / p99.9 at ${rate.toLocaleString('en-US')} q/s, ms`,
      `echo: ${ms(er.p50Ms)} / ${ms(er.p99Ms)} / ${ms(er.p999Ms)}`,
      '',
      '',
    ]);
  }
  const ob = get('ours', 'base');
  const og = get('ours', 'big');
  const ub = get('unbound', 'base');
  const ug = get('unbound', 'big');
  const bigLoad = og.listsLoaded?.find((l) => l.list === 'bench-big');
  row([
    `spawn → first answer, base / with ${bigNames.toLocaleString('en-US')}, ms`,
    `${n0(ob.firstAnswerMs)} / ${n0(og.firstAnswerMs)}`,
    `${n0(ub.firstAnswerMs)} / ${n0(ug.firstAnswerMs)}`,
    '',
  ]);
  row([
    'big list load in the process (read, parse, index), ms',
    bigLoad
      ? `${n0(bigLoad.atMs)} at start, ${n0(og.refresh?.ms ?? null)} on refresh (slowest answer meanwhile: ${n0(og.refresh?.slowestAnswerMs ?? null)})`
      : '—',
    '—',
    '',
  ]);
  row([
    'RSS after the runs, base / with the big list, MiB',
    `${mib(ob.memoryAfter.rss)} / ${mib(og.memoryAfter.rss)}`,
    `${mib(ub.memoryAfter.rss)} / ${mib(ug.memoryAfter.rss)}`,
    '',
  ]);
  row([
    'extra RSS for the big list, MiB',
    `${mib(og.memoryAfter.rss - ob.memoryAfter.rss)}`,
    `${mib(ug.memoryAfter.rss - ub.memoryAfter.rss)}`,
    '',
  ]);
  row([
    'peak RSS with the big list, MiB',
    `${mib(og.memoryAfter.peak)} (${mib(og.refresh?.peakRss ?? og.memoryAfter.peak)} after a refresh)`,
    `${mib(ug.memoryAfter.peak)}`,
    '',
  ]);
  const table = rows.join('\n');
  console.log(`\n${table}\n`);
  const out = new URL('./results.json', import.meta.url).pathname;
  writeFileSync(
    out,
    `${formatJson(
      {
        at: new Date().toISOString(),
        machine: info,
        command: `node bench/dns/run.ts ${process.argv.slice(2).join(' ')}`.trim(),
        settings: {
          seconds,
          latencySeconds,
          rounds,
          nice,
          rate,
          names: bigNames,
          hosts: hostCount,
          blocked: blockedCount,
        },
        summaries,
        results,
        table,
      },
      '',
    )}\n`,
  );
  console.error(`wrote ${out}`);
}

/**
 * JSON as the repository's formatter (Biome) writes it, so a fresh
 * results.json passes `npm run check`: two-space indent, and an array of
 * plain values on one line when it fits the 100-column line.
 */
function formatJson(value: unknown, indent: string): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const plain = value.every((v) => v === null || typeof v !== 'object');
    const items = value.map((v) => formatJson(v, inner));
    const oneLine = `[${items.join(', ')}]`;
    // The key and indentation before it take some of the line; 60 leaves room for both here.
    if (plain && oneLine.length <= 60) return oneLine;
    return `[\n${items.map((i) => `${inner}${i}`).join(',\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`);
  return `{\n${lines.join(',\n')}\n${indent}}`;
}

await main();
