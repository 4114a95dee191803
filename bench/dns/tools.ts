/**
 * Helpers of bench/dns/run.ts: dnsperf runs and their output, Unbound's
 * configuration, one-off UDP queries, and what /proc says about a process
 * (CPU time, resident memory) and about each core (busy time).
 */
import { execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import * as packet from 'dns-packet';

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** User + system CPU seconds a process (all its threads) has used; null once it is gone. */
export function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; the fields we want come after its ")".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** VmRSS and VmHWM (peak) of a process, bytes. */
export function residentMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
}

/** Busy and total jiffies of each core (from /proc/stat), to see who else used the cores. */
export function coreTimes(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = (m[2] ?? '').split(/\s+/).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    out[Number(m[1])] = { busy: total - idle, total };
  }
  return out;
}

/**
 * The command line that runs argv pinned to one core (taskset), at a nice
 * level when one is given (nice and taskset both exec, so the child's pid
 * is the program's own).
 */
export function pinned(core: number, nice: number, argv: string[]): [string, string[]] {
  const taskset = ['-c', String(core), ...argv];
  return nice === 0 ? ['taskset', taskset] : ['nice', ['-n', String(nice), 'taskset', ...taskset]];
}

export interface DnsperfResult {
  sent: number;
  completed: number;
  lost: number;
  rcodes: Record<string, number>;
  qps: number;
  runSeconds: number;
  /** Milliseconds, from dnsperf's summary. */
  latencyMs: { mean: number; min: number; max: number; stddev: number };
  /** Milliseconds, from dnsperf -v's per-query lines (fixed-rate runs only). */
  percentilesMs?: { p50: number; p90: number; p99: number; p999: number };
  responseBytes: number;
  /** Share of one core the server and dnsperf used during the run's middle. */
  serverCpu: number | null;
  dnsperfCpu: number | null;
  /** Busy share of the server's core during the run (anything above serverCpu is someone else). */
  serverCoreBusy: number | null;
  /** Busy share of dnsperf's core (anything above dnsperfCpu is someone else). */
  clientCoreBusy: number | null;
}

export interface DnsperfOptions {
  port: number;
  queryFile: string;
  seconds: number;
  /** Core dnsperf is pinned to. */
  core: number;
  /** Core the server is pinned to (for its busy share). */
  serverCore: number;
  serverPid: number;
  /** Queries per second cap (-Q): a fixed rate, for latency; with it, per-query latencies are read (-v). */
  rate?: number;
  /** Outstanding queries (-q), default 100. */
  outstanding?: number;
  /** Run through the file this many times at most (-n). */
  maxRuns?: number;
  /** Nice level of dnsperf (0: unchanged). */
  nice?: number;
}

/** Runs dnsperf pinned to a core and reads its summary; samples CPU over the run's middle. */
export async function dnsperf(opts: DnsperfOptions): Promise<DnsperfResult> {
  const args = ['dnsperf', '-s', '127.0.0.1', '-p', String(opts.port)];
  args.push(
    '-d',
    opts.queryFile,
    '-l',
    String(opts.seconds),
    '-q',
    String(opts.outstanding ?? 100),
  );
  if (opts.maxRuns !== undefined) args.push('-n', String(opts.maxRuns));
  if (opts.rate !== undefined) args.push('-Q', String(opts.rate), '-v');
  const [command, argv] = pinned(opts.core, opts.nice ?? 0, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => out.push(b));
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const exited = new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? -1));
  });
  const pid = child.pid ?? 0;
  let window: {
    server: number | null;
    client: number | null;
    core: number | null;
    clientCore: number | null;
  } = { server: null, client: null, core: null, clientCore: null };
  if (opts.maxRuns === undefined && opts.seconds >= 3) {
    // Sample from 1 s in to 1 s before the end: the steady part of the run.
    await sleep(1000);
    const s0 = cpuSeconds(opts.serverPid);
    const c0 = cpuSeconds(pid);
    const k0 = coreTimes();
    const t0 = performance.now();
    await sleep((opts.seconds - 2) * 1000);
    const s1 = cpuSeconds(opts.serverPid);
    const c1 = cpuSeconds(pid);
    const k1 = coreTimes();
    const dt = (performance.now() - t0) / 1000;
    window = {
      server: s0 !== null && s1 !== null ? (s1 - s0) / dt : null,
      client: c0 !== null && c1 !== null ? (c1 - c0) / dt : null,
      core: busyShare(k0[opts.serverCore], k1[opts.serverCore]),
      clientCore: busyShare(k0[opts.core], k1[opts.core]),
    };
  }
  const code = await exited;
  const text = Buffer.concat(out).toString('utf8');
  if (code !== 0) {
    throw new Error(
      `dnsperf exited with ${code}: ${Buffer.concat(err).toString('utf8')}\n${text.slice(-2000)}`,
    );
  }
  const parsed = parseDnsperf(text);
  return {
    ...parsed,
    serverCpu: window.server,
    dnsperfCpu: window.client,
    serverCoreBusy: window.core,
    clientCoreBusy: window.clientCore,
  };
}

function busyShare(
  a: { busy: number; total: number } | undefined,
  b: { busy: number; total: number } | undefined,
): number | null {
  return a && b && b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : null;
}

/** dnsperf 2.x's "Statistics:" block (and, with -v, its per-query lines). */
export function parseDnsperf(
  text: string,
): Omit<DnsperfResult, 'serverCpu' | 'dnsperfCpu' | 'serverCoreBusy' | 'clientCoreBusy'> {
  const num = (re: RegExp) => {
    const m = re.exec(text);
    if (!m) throw new Error(`dnsperf output lacks ${re}:\n${text.slice(-2000)}`);
    return Number(m[1]);
  };
  const rcodes: Record<string, number> = {};
  const codes = /Response codes:\s+(.*)$/m.exec(text)?.[1] ?? '';
  for (const m of codes.matchAll(/([A-Z]+) (\d+) \(/g)) rcodes[m[1] as string] = Number(m[2]);
  const mean = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(text);
  if (!mean) throw new Error(`dnsperf output lacks latency:\n${text.slice(-2000)}`);
  const result: Omit<
    DnsperfResult,
    'serverCpu' | 'dnsperfCpu' | 'serverCoreBusy' | 'clientCoreBusy'
  > = {
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    rcodes,
    qps: num(/Queries per second:\s+([\d.]+)/),
    runSeconds: num(/Run time \(s\):\s+([\d.]+)/),
    latencyMs: {
      mean: Number(mean[1]) * 1000,
      min: Number(mean[2]) * 1000,
      max: Number(mean[3]) * 1000,
      stddev: num(/Latency StdDev \(s\):\s+([\d.]+)/) * 1000,
    },
    responseBytes: num(/Average packet size:\s+request \d+, response (\d+)/),
  };
  const each: number[] = [];
  for (const m of text.matchAll(/^> \S+ \S+ \S+ ([\d.]+)$/gm)) each.push(Number(m[1]) * 1000);
  if (each.length > 0) {
    const s = Float64Array.from(each).sort();
    const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? Number.NaN;
    result.percentilesMs = { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999) };
  }
  return result;
}

const rcodeNames = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** One UDP query; resolves with the rcode and the answers' data, or null after the timeout. */
export async function query(
  port: number,
  name: string,
  type: 'A' | 'AAAA' = 'A',
  timeoutMs = 500,
): Promise<{ rcode: string; answers: string[] } | null> {
  const socket = createSocket('udp4');
  try {
    const id = Math.floor(Math.random() * 65_536);
    const message = packet.encode({
      id,
      type: 'query',
      flags: packet.RECURSION_DESIRED,
      questions: [{ name, type, class: 'IN' }],
    });
    const reply = new Promise<Buffer>((resolve) => {
      socket.on('message', (m: Buffer) => {
        if (m.length >= 2 && m.readUInt16BE(0) === id) resolve(m);
      });
    });
    socket.on('error', () => {});
    socket.send(message, port, '127.0.0.1');
    const got = await Promise.race([reply, sleep(timeoutMs).then(() => null)]);
    if (got === null) return null;
    const decoded = packet.decode(got);
    return {
      rcode: rcodeNames[(decoded.flags ?? 0) & 0xf] ?? 'OTHER',
      answers: (decoded.answers ?? []).map((a) => String((a as { data?: unknown }).data)),
    };
  } finally {
    socket.close();
  }
}

/** Polls with a query until an answer with the wanted rcode comes back; ms from `since`. */
export async function firstAnswer(
  port: number,
  name: string,
  rcode: string,
  since: number,
  deadlineMs: number,
  alive: () => boolean,
): Promise<number> {
  while (performance.now() - since < deadlineMs) {
    if (!alive()) throw new Error(`the server on port ${port} exited before answering`);
    const got = await query(port, name, 'A', 50);
    if (got?.rcode === rcode) return performance.now() - since;
    if (got === null) continue;
    await sleep(20);
  }
  throw new Error(`no ${rcode} for ${name} from port ${port} within ${deadlineMs} ms`);
}

export interface UnboundConfigOptions {
  dir: string;
  port: number;
  /** The test authority's DoT port on 127.0.0.1. */
  upstreamDotPort: number;
  caFile: string;
  /** Files of `local-zone:` lines to include. */
  includes: string[];
}

/**
 * Unbound as the equivalent of our resolver: one thread, UDP on loopback,
 * everything forwarded over TLS to the test authority (certificate checked
 * against the bench CA, name `localhost` as in its certificate), no DNSSEC
 * validation (we do none), caches large enough for every answer, block
 * lists as `local-zone: "<name>." always_nxdomain` (the name and all below
 * it, as our `domains` lists block). The upstream is on loopback, which
 * Unbound refuses to query unless told (`do-not-query-localhost: no`).
 */
export function unboundConfig(o: UnboundConfigOptions): string {
  const lines = [
    'server:',
    `  directory: "${o.dir}"`,
    '  username: ""',
    '  chroot: ""',
    '  pidfile: ""',
    '  use-syslog: no',
    '  logfile: ""',
    '  verbosity: 0',
    '  num-threads: 1',
    '  interface: 127.0.0.1',
    `  port: ${o.port}`,
    '  do-ip6: no',
    '  do-tcp: yes',
    '  access-control: 127.0.0.0/8 allow',
    '  do-not-query-localhost: no',
    '  module-config: "iterator"',
    `  tls-cert-bundle: "${o.caFile}"`,
    '  msg-cache-size: 64m',
    '  rrset-cache-size: 128m',
    `  key-cache-size: 4m`,
    ...o.includes.map((f) => `  include: "${f}"`),
    '',
    'forward-zone:',
    '  name: "."',
    '  forward-tls-upstream: yes',
    `  forward-addr: 127.0.0.1@${o.upstreamDotPort}#localhost`,
    '',
  ];
  return lines.join('\n');
}
