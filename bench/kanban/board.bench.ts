/**
 * Kanban board benchmark (the Kanban issue's performance targets): a board
 * of 10,000 issues answers its first page of every column, and a filter,
 * in under 100 ms of server time at p95; a move reaches 200 watching
 * clients within 1 s at p99. Plus the rate of the operation path (issue
 * creation through `POST /v1/projects/:projectId/ops`).
 *
 *   node bench/kanban/board.bench.ts [issues=10000] [clients=200]
 *
 * Environment:
 *   BENCH_PARTS     sqlcipher,postgres (default both)
 *   BENCH_REQUESTS  requests per read endpoint (default 200)
 *   BENCH_MOVES     moves watched by the clients (default 100)
 *   BENCH_OP_BATCHES  batches of 100 issue.create ops into an empty board (default 10)
 *   BENCH_NATS_URL  run the live updates over NATS (e.g. nats://127.0.0.1:4222)
 *                   instead of the single-node in-process bus
 *   TEST_DATABASE_URL  PostgreSQL (default postgres://postgres@127.0.0.1:5432/test);
 *                   a fresh schema is created and dropped
 *
 * The real server runs in this process on a loopback port; requests go over
 * HTTPS (TLS 1.3, keep-alive, one request at a time) trusting the
 * installation's CA. The board is filled through IssueStore.insert in
 * batched transactions (the fast way in: no op log, history or ledger
 * entries); the op path is measured on its own. The watching clients run
 * in a worker thread (watchers.ts). One JSON line per measurement.
 *
 * Server time is taken two ways: from the Node HTTP server's `request`
 * event to the response's `finish` (a listener put in front of Fastify's,
 * the same span as Fastify's reply.elapsedTime plus routing), and from the
 * `bulwark_http_request_duration_seconds` histogram of /metrics (which is
 * reply.elapsedTime, bucketed; quantiles interpolated as Prometheus does).
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import pino from 'pino';
import { loadConfig } from '../../packages/server/src/config/index.ts';
import { OrgStore } from '../../packages/server/src/directory/orgs.ts';
import { MemberStore, ProjectStore } from '../../packages/server/src/directory/projects.ts';
import { ColumnStore } from '../../packages/server/src/kanban/columns.ts';
import { type Issue, IssueStore } from '../../packages/server/src/kanban/issues.ts';
import { ranksBetween } from '../../packages/server/src/kanban/model/rank.ts';
import { type ServerHandle, startServer } from '../../packages/server/src/server.ts';
import { Storage, schemaChangeLock } from '../../packages/server/src/storage/storage.ts';

const issueCount = Number(process.argv[2] ?? 10_000);
const clientCount = Number(process.argv[3] ?? 200);
const requests = Number(process.env.BENCH_REQUESTS ?? 200);
const moves = Number(process.env.BENCH_MOVES ?? 100);
const opBatches = Number(process.env.BENCH_OP_BATCHES ?? 10);
const natsUrl = process.env.BENCH_NATS_URL;
const databaseUrl = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const parts = new Set((process.env.BENCH_PARTS ?? 'sqlcipher,postgres').split(','));
/** Sockets per account (the hub allows 32 per account per node). */
const socketsPerUser = 20;

// --- small helpers -------------------------------------------------------------

function quantiles(values: number[]) {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
  const r = (x: number | undefined) => (x === undefined ? null : Number(x.toFixed(1)));
  return {
    n: s.length,
    min: r(s[0]),
    p50: r(at(0.5)),
    p95: r(at(0.95)),
    p99: r(at(0.99)),
    max: r(s.at(-1)),
    mean: r(s.reduce((a, b) => a + b, 0) / (s.length || 1)),
  };
}

interface Answer {
  status: number;
  body: string;
  ms: number;
}

function client(base: string, ca: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca, minVersion: 'TLSv1.3' });
  const call = (
    path: string,
    opts: { method?: string; body?: unknown; token?: string } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
      const t0 = performance.now();
      const req = request(
        `${base}${path}`,
        {
          agent,
          method: opts.method ?? 'GET',
          headers: {
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString('utf8'),
              ms: performance.now() - t0,
            }),
          );
        },
      );
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  return { call, close: () => agent.destroy() };
}

function ok(a: Answer, what: string, status = 200): Answer {
  if (a.status !== status) throw new Error(`${what}: ${a.status} ${a.body.slice(0, 500)}`);
  return a;
}

/** Server-side time per request path (the HTTP server's request event to the response's finish). */
function serverTimer(handle: ServerHandle) {
  const times = new Map<string, number[]>();
  handle.app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const t0 = performance.now();
    const key = `${req.method} ${(req.url ?? '').split('?')[0]}`;
    res.on('finish', () => {
      let list = times.get(key);
      if (!list) {
        list = [];
        times.set(key, list);
      }
      list.push(performance.now() - t0);
    });
  });
  return {
    take(key: string): number[] {
      const list = times.get(key) ?? [];
      times.delete(key);
      return list;
    },
    /** Every path starting with the prefix (ids in the path). */
    takePrefix(prefix: string): number[] {
      const out: number[] = [];
      for (const [key, list] of times) {
        if (!key.startsWith(prefix)) continue;
        out.push(...list);
        times.delete(key);
      }
      return out;
    },
    reset: () => times.clear(),
  };
}

/** Cumulative bucket counts of bulwark_http_request_duration_seconds for one route. */
async function histogram(
  call: ReturnType<typeof client>['call'],
  route: string,
  method: string,
): Promise<Map<number, number>> {
  const text = ok(await call('/metrics'), 'metrics').body;
  const buckets = new Map<number, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('bulwark_http_request_duration_seconds_bucket{')) continue;
    const labels = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]] as const),
    );
    if (labels.route !== route || labels.method !== method) continue;
    const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
    buckets.set(le, Number(line.slice(line.lastIndexOf(' ') + 1)));
  }
  return buckets;
}

/** Quantiles (ms) of the requests between two histogram readings, interpolated like histogram_quantile. */
function histogramQuantiles(before: Map<number, number>, after: Map<number, number>) {
  const les = [...after.keys()].sort((a, b) => a - b);
  const counts = les.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  const q = (p: number) => {
    const rank = p * total;
    let prevLe = 0;
    let prevCount = 0;
    for (let i = 0; i < les.length; i++) {
      const le = les[i] as number;
      const c = counts[i] as number;
      if (c >= rank) {
        if (!Number.isFinite(le)) return `>${prevLe * 1000}`;
        const v = prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1, c - prevCount);
        return Number((v * 1000).toFixed(1));
      }
      prevLe = le;
      prevCount = c;
    }
    return null;
  };
  return { n: total, p50: q(0.5), p95: q(0.95), p99: q(0.99) };
}

function emit(o: Record<string, unknown>) {
  console.log(JSON.stringify(o));
}

// --- the board -----------------------------------------------------------------

const verbs = ['Fix', 'Add', 'Refactor', 'Document', 'Test', 'Review', 'Deploy', 'Migrate'];
const nouns = ['login', 'board', 'search', 'export', 'ledger', 'socket', 'cache', 'policy'];
const labelSet = ['backend', 'frontend', 'ops', 'security', 'docs', 'bug', 'feature', 'ux'];
const priorityOf = [null, 'low', 'medium', 'high', 'urgent'] as const;
const filler =
  'As a member of the project I want this done so that the board reflects the work. ' +
  'Acceptance: the change is tested, documented, and reviewed; nothing regresses. ';

function issueFields(i: number, assignees: string[]) {
  return {
    title: `${verbs[i % verbs.length]} ${nouns[Math.floor(i / 8) % nouns.length]} (#${i})`,
    description: `${filler}${i % 3 === 0 ? filler : ''}`,
    labels: [labelSet[i % labelSet.length], labelSet[Math.floor(i / 3) % labelSet.length]].filter(
      (l, k, a): l is string => l !== undefined && a.indexOf(l) === k,
    ),
    priority: priorityOf[i % priorityOf.length] ?? null,
    assignees: i % 4 === 0 ? [assignees[i % assignees.length] as string] : [],
    dueDate: i % 5 === 0 ? `2027-0${(i % 9) + 1}-15` : null,
    estimate: i % 2 === 0 ? (i % 13) + 1 : null,
    checklist:
      i % 10 === 0
        ? [
            { id: 'c1', text: 'write it', done: true },
            { id: 'c2', text: 'test it', done: false },
          ]
        : [],
  };
}

async function run(label: string, backend: 'sqlcipher' | 'postgres') {
  const dataDir = mkdtempSync(join(tmpdir(), 'bulwark-kanban-bench-'));
  const schema = `bwk_bench_${randomBytes(5).toString('hex')}`;
  const env: Record<string, string> = {
    BULWARK_DATA_DIR: dataDir,
    BULWARK_HOST: '127.0.0.1',
    BULWARK_PORT: '0',
    BULWARK_LOG_LEVEL: 'silent',
    ...(backend === 'postgres' ? { DATABASE_URL: databaseUrl, BULWARK_DB_SCHEMA: schema } : {}),
    ...(natsUrl ? { BULWARK_NATS_URL: natsUrl } : {}),
  };
  const { config } = loadConfig({ cwd: dataDir, env });
  const handle = await startServer(config, {
    logger: pino({ level: 'silent' }),
    // Cheap Argon2id as in-process tests use: only init hashes a passphrase here.
    argon2id: { memory: 8192, passes: 1, parallelism: 1 },
  });
  const ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
  const http = client(handle.url, ca);
  const timer = serverTimer(handle);
  let worker: Worker | null = null;
  const tag = { backend: label, bus: natsUrl ? 'nats' : 'local', issues: issueCount };
  try {
    ok(
      await http.call('/v1/sys/init', { method: 'POST', body: { passphrase: 'bench passphrase' } }),
      'init',
    );

    // --- people, org, projects (as test/support/directory-world.ts builds them) ---
    const identity = handle.identity();
    const storage = identity.storage;
    const now = identity.clock.now();
    const orgs = new OrgStore(storage);
    await orgs.ensureDefault(now);
    const org = await orgs.create(
      { slug: `bench-${randomBytes(3).toString('hex')}`, name: 'Bench' },
      now,
    );
    const person = async (name: string, orgRole: 'owner' | 'member') => {
      const username = `${name}-${randomBytes(3).toString('hex')}`;
      const user = await identity.users.create(
        {
          displayName: name,
          username,
          email: `${username}@example.test`,
          orgId: org.id,
          orgRole,
          isAdmin: false,
        },
        now,
      );
      const { token } = await identity.sessions.create(user.id, {
        kind: 'bearer',
        methods: ['passkey'],
        stepUp: true,
      });
      return { id: user.id, token };
    };
    const owner = await person('owner', 'owner');
    const watchers: { id: string; token: string }[] = [];
    for (let i = 0; i < Math.max(1, Math.ceil(clientCount / socketsPerUser)); i++)
      watchers.push(await person(`watcher${i}`, 'member'));
    const projects = new ProjectStore(storage);
    const members = new MemberStore(storage);
    const makeProject = async (key: string) => {
      const p = await projects.create({ orgId: org.id, key, name: key, description: null }, now);
      await members.put(
        { projectId: p.id, userId: owner.id, role: 'owner', viaLinkId: null },
        owner.id,
        now,
      );
      for (const w of watchers)
        await members.put(
          { projectId: p.id, userId: w.id, role: 'member', viaLinkId: null },
          owner.id,
          now,
        );
      return p;
    };
    const board = await makeProject('BOARD');
    const columns = await new ColumnStore(storage).list(board.id, now);
    if (columns.length !== 4) throw new Error('expected the four default columns');
    const assignees = watchers.map((w) => w.id);

    // --- fill: IssueStore.insert, 500 per transaction -------------------------------
    const share = [0.4, 0.25, 0.1, 0.25];
    const perColumn = share.map((s) => Math.floor(s * issueCount));
    perColumn[0] = (perColumn[0] as number) + issueCount - perColumn.reduce((a, b) => a + b, 0);
    const slots: { status: string; rank: string }[] = [];
    columns.forEach((c, k) => {
      const n = perColumn[k] as number;
      for (const rank of n > 0 ? ranksBetween(null, null, n) : [])
        slots.push({ status: c.id, rank });
    });
    // Interleave the columns so numbers are not grouped by column (Fisher-Yates).
    for (let i = slots.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [slots[i], slots[j]] = [
        slots[j] as (typeof slots)[number],
        slots[i] as (typeof slots)[number],
      ];
    }
    const t0 = performance.now();
    for (let done = 0; done < issueCount; done += 500) {
      await storage.db.transaction().execute(async (trx) => {
        const tx = new IssueStore(new Storage(trx, storage.backend, storage.fields));
        for (let i = done; i < Math.min(issueCount, done + 500); i++) {
          const number = await tx.nextNumber(board.id);
          const at = now.toISOString();
          const slot = slots[i] as { status: string; rank: string };
          await tx.insert({
            id: randomUUID(),
            projectId: board.id,
            number,
            key: `BOARD-${number}`,
            ...issueFields(i, assignees),
            ...slot,
            clocks: {},
            createdBy: owner.id,
            createdAt: at,
            updatedAt: at,
          } satisfies Issue);
        }
      });
    }
    const ms = performance.now() - t0;
    emit({
      ...tag,
      measure: 'fill (IssueStore.insert, 500 per transaction)',
      seconds: Number((ms / 1000).toFixed(1)),
      issuesPerSecond: Math.round((issueCount / ms) * 1000),
    });

    // --- the op path: batches of 100 issue.create into an empty board ------------------
    const opsProject = await makeProject('OPS');
    await new ColumnStore(storage).list(opsProject.id, now);
    const opBatch = async (projectId: string, base: number) =>
      ok(
        await http.call(`/v1/projects/${projectId}/ops`, {
          method: 'POST',
          token: owner.token,
          body: {
            ops: Array.from({ length: 100 }, (_, k) => {
              const f = issueFields(base + k, assignees);
              return {
                kind: 'issue.create',
                opId: randomUUID(),
                issueId: randomUUID(),
                set: {
                  title: f.title,
                  description: f.description,
                  labels: f.labels,
                  priority: f.priority,
                },
              };
            }),
          },
        }),
        'ops',
      );
    const batchMs: number[] = [];
    for (let b = 0; b < opBatches; b++) {
      const a = await opBatch(opsProject.id, b * 100);
      const results = (JSON.parse(a.body) as { results: { status: string }[] }).results;
      if (results.some((r) => r.status !== 'applied'))
        throw new Error(`ops rejected: ${a.body.slice(0, 500)}`);
      batchMs.push(a.ms);
    }
    const opsTotal = batchMs.reduce((a, b) => a + b, 0);
    emit({
      ...tag,
      measure: 'op path: POST /ops, 100 issue.create per batch, empty board',
      ops: opBatches * 100,
      opsPerSecond: Math.round(((opBatches * 100) / opsTotal) * 1000),
      firstBatchOpsPerSecond: Math.round((100 / (batchMs[0] as number)) * 1000),
      lastBatchOpsPerSecond: Math.round((100 / (batchMs.at(-1) as number)) * 1000),
    });

    // --- reads over HTTPS ------------------------------------------------------------
    const reads = [
      {
        name: 'board',
        path: `/v1/projects/${board.id}/board?perColumn=50`,
        route: '/v1/projects/:projectId/board',
      },
      {
        name: 'filter',
        path: `/v1/projects/${board.id}/issues?q=deploy&label=backend`,
        route: '/v1/projects/:projectId/issues',
      },
    ];
    for (const r of reads) {
      for (let i = 0; i < 5; i++) ok(await http.call(r.path, { token: owner.token }), r.name); // warm-up
      const before = await histogram(http.call, r.route, 'GET');
      timer.reset();
      const clientMs: number[] = [];
      let bytes = 0;
      let total: number | undefined;
      for (let i = 0; i < requests; i++) {
        const a = ok(await http.call(r.path, { token: owner.token }), r.name);
        clientMs.push(a.ms);
        bytes = a.body.length;
        if (r.name === 'filter') total = (JSON.parse(a.body) as { total: number }).total;
      }
      const serverMs = timer.take(`GET ${r.path.split('?')[0]}`);
      const after = await histogram(http.call, r.route, 'GET');
      emit({
        ...tag,
        measure: `GET ${r.path.replace(board.id, ':projectId')}`,
        responseBytes: bytes,
        ...(total !== undefined ? { matches: total } : {}),
        clientMs: quantiles(clientMs),
        serverMs: quantiles(serverMs),
        elapsedTimeHistogramMs: histogramQuantiles(before, after),
        targetP95Ms: 100,
        met: (quantiles(serverMs).p95 ?? Infinity) < 100,
      });
    }

    // --- live updates: clients watching, moves one after another ------------------------
    const tokens = Array.from(
      { length: clientCount },
      (_, i) => watchers[Math.floor(i / socketsPerUser)]?.token as string,
    );
    worker = new Worker(new URL('./watchers.ts', import.meta.url), {
      workerData: { url: handle.url, ca, project: board.id, tokens },
    });
    const inbox: { type: string; [k: string]: unknown }[] = [];
    let wake: (() => void) | null = null;
    worker.on('message', (m) => {
      inbox.push(m);
      wake?.();
    });
    worker.on('error', (err) => {
      inbox.push({ type: 'error', message: err.message });
      wake?.();
    });
    const next = async () => {
      while (inbox.length === 0) await new Promise<void>((r) => (wake = r));
      wake = null;
      const m = inbox.shift() as { type: string; [k: string]: unknown };
      if (m.type === 'error') throw new Error(`watchers: ${String(m.message)}`);
      return m;
    };
    const ready = await next();
    emit({
      ...tag,
      measure: 'watchers subscribed',
      clients: clientCount,
      seconds: Number(((ready.ms as number) / 1000).toFixed(1)),
    });

    const boardNow = JSON.parse(
      ok(
        await http.call(`/v1/projects/${board.id}/board?perColumn=200`, { token: owner.token }),
        'board',
      ).body,
    ) as {
      columns: { id: string; issues: { id: string }[] }[];
    };
    const [todo, doing] = boardNow.columns as [
      { id: string; issues: { id: string }[] },
      { id: string; issues: { id: string }[] },
    ];
    const movable = todo.issues.map((i) => i.id);
    const landing = doing.issues.map((i) => i.id);
    const moveMs: number[] = [];
    const moveServerMs: number[] = [];
    const delivery: number[] = [];
    const afterResponse: number[] = [];
    let missing = 0;
    timer.reset();
    for (let m = 0; m < moves; m++) {
      const issueId = movable[m % movable.length] as string;
      // Half land on top of the column, half after a card in it.
      const after = m % 2 === 0 ? null : (landing[m % landing.length] ?? null);
      const start = performance.timeOrigin + performance.now();
      worker.postMessage({ type: 'expect', issueId, t0: start });
      const a = ok(
        await http.call(`/v1/issues/${issueId}/move`, {
          method: 'POST',
          token: owner.token,
          body: { status: doing.id, after },
        }),
        'move',
      );
      moveMs.push(a.ms);
      const got = await next();
      if (got.type !== 'delivered' || got.issueId !== issueId)
        throw new Error(`unexpected ${JSON.stringify(got)}`);
      for (const l of got.latencies as number[]) {
        delivery.push(l);
        afterResponse.push(l - a.ms);
      }
      missing += got.missing as number;
    }
    moveServerMs.push(...timer.takePrefix('POST /v1/issues/'));
    const deliveryQ = quantiles(delivery);
    emit({
      ...tag,
      measure: 'move → event frame at every watcher',
      clients: clientCount,
      moves,
      pairs: delivery.length,
      missing,
      moveRequestClientMs: quantiles(moveMs),
      moveRequestServerMs: quantiles(moveServerMs),
      deliveryMsFromRequestStart: deliveryQ,
      deliveryMsAfterMoveResponse: quantiles(afterResponse),
      targetP99Ms: 1000,
      met: missing === 0 && (deliveryQ.p99 ?? Infinity) < 1000,
    });
    worker.postMessage({ type: 'close' });
    await next();
    await worker.terminate();
    worker = null;

    // --- the op path on the full board (every create reads the board) ----------------------
    // One batch: at ~1 op/s on a 10,000-issue board more would only take time.
    const full = await opBatch(board.id, issueCount);
    emit({
      ...tag,
      measure: `op path: POST /ops, 100 issue.create per batch, board of ${issueCount}`,
      ops: 100,
      seconds: Number((full.ms / 1000).toFixed(1)),
      opsPerSecond: Number(((100 / full.ms) * 1000).toFixed(1)),
    });
  } finally {
    await worker?.terminate();
    http.close();
    await handle.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (backend === 'postgres') {
      const c = new pg.Client({ connectionString: databaseUrl });
      await c.connect();
      try {
        await c.query('select pg_advisory_lock($1)', [schemaChangeLock]);
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await c.end();
      }
    }
  }
}

emit({
  machine: {
    nproc: (await import('node:os')).availableParallelism(),
    memGiB: Math.round((await import('node:os')).totalmem() / 2 ** 30),
    cpu: (await import('node:os')).cpus()[0]?.model,
    node: process.version,
  },
  issues: issueCount,
  clients: clientCount,
  requests,
  moves,
});
if (parts.has('sqlcipher')) await run('sqlcipher', 'sqlcipher');
if (parts.has('postgres')) await run('postgres', 'postgres');
