/**
 * What an operator meets when something is wrong at start: each fault gives a
 * clear message and a non-zero exit, and no data is overwritten.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { httpsRequest } from '../support/https.ts';
import { startTestServer } from '../support/server.ts';
import { freePort, runServerProcess } from '../support/server-process.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'startup failure passphrase';

function digest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** An initialised data directory holding one page's worth of data. */
async function initialisedDataDir(t: TestContext): Promise<string> {
  const dataDir = tempDir(t);
  const server = await startTestServer(t, { dataDir });
  const init = await server.request('/v1/sys/init', { method: 'POST', body: { passphrase } });
  assert.equal(init.status, 200, init.body);
  await server.close();
  return dataDir;
}

function envFor(dataDir: string, port: number): Record<string, string> {
  return { BULWARK_DATA_DIR: dataDir, BULWARK_HOST: '127.0.0.1', BULWARK_PORT: String(port) };
}

describe('start-up faults', () => {
  it('bad config: exit 2 naming the key and what is allowed; nothing created', async (t) => {
    const dir = tempDir(t);
    writeFileSync(join(dir, 'bulwark.config.json'), JSON.stringify({ listen: { prot: 8443 } }));
    const { exited } = await runServerProcess(t, {}, { cwd: dir });
    assert.equal(exited?.code, 2, exited?.stderr);
    assert.match(exited?.stderr ?? '', /listen\.prot/);
    assert.match(exited?.stderr ?? '', /allowed keys here: host, port/);
    assert.deepEqual(readdirSync(dir), ['bulwark.config.json']);

    const badEnv = await runServerProcess(t, {
      BULWARK_DATA_DIR: join(dir, 'data'),
      BULWARK_PROT: '1',
    });
    assert.equal(badEnv.exited?.code, 2);
    assert.match(badEnv.exited?.stderr ?? '', /BULWARK_PROT/);
  });

  it('port in use: exit 1 with a message naming the port', async (t) => {
    const port = await freePort();
    const squatter = createServer().listen(port, '127.0.0.1');
    t.after(() => squatter.close());
    await new Promise((r) => squatter.once('listening', r));
    const { exited } = await runServerProcess(t, envFor(tempDir(t), port));
    assert.equal(exited?.code, 1, exited?.stderr);
    assert.match(exited?.stderr ?? '', new RegExp(`Port ${port} .* already in use`));
  });

  it('unwritable data directory: exit 1 with a message naming it', async (t) => {
    const parent = tempDir(t);
    const dataDir = join(parent, 'data');
    mkdirSync(dataDir, { mode: 0o700 });
    // Permission bits do not stop root, so as root make the directory immutable.
    const asRoot = process.getuid?.() === 0;
    execFileSync(asRoot ? 'chattr' : 'chmod', asRoot ? ['+i', dataDir] : ['0500', dataDir]);
    let exited: Awaited<ReturnType<typeof runServerProcess>>['exited'];
    try {
      ({ exited } = await runServerProcess(t, envFor(dataDir, await freePort())));
    } finally {
      execFileSync(asRoot ? 'chattr' : 'chmod', asRoot ? ['-i', dataDir] : ['0700', dataDir]);
    }
    assert.equal(exited?.code, 1, exited?.stderr);
    assert.match(exited?.stderr ?? '', new RegExp(`data directory ${dataDir} is not usable`));

    // A data directory path that runs through a file.
    writeFileSync(join(parent, 'a-file'), 'x');
    const through = await runServerProcess(
      t,
      envFor(join(parent, 'a-file', 'data'), await freePort()),
    );
    assert.equal(through.exited?.code, 1);
    assert.match(through.exited?.stderr ?? '', /ENOTDIR|not usable/);
  });

  it('truncated database file: exit 1 before unseal, file untouched', async (t) => {
    const dataDir = await initialisedDataDir(t);
    const db = join(dataDir, 'bulwark.db');
    const size = readFileSync(db).length;
    truncateSync(db, size - 1000);
    const before = digest(db);
    const { exited } = await runServerProcess(t, envFor(dataDir, await freePort()));
    assert.equal(exited?.code, 1, exited?.stderr);
    assert.match(exited?.stderr ?? '', /truncated or damaged/);
    assert.match(exited?.stderr ?? '', /Restore it from a backup/);
    assert.equal(digest(db), before, 'the database file was not written');
  });

  it('corrupt database page: unseal refuses with storage_corrupt, server stays sealed, file untouched', async (t) => {
    const dataDir = await initialisedDataDir(t);
    const db = join(dataDir, 'bulwark.db');
    const bytes = readFileSync(db);
    bytes[4096 + 2000] = (bytes[4096 + 2000] ?? 0) ^ 0xff;
    writeFileSync(db, bytes);
    const before = digest(db);

    const port = await freePort();
    const server = await runServerProcess(t, envFor(dataDir, port));
    assert.equal(server.exited, null, server.stderr());
    const ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
    const url = `https://127.0.0.1:${port}`;
    const answer = await httpsRequest(`${url}/v1/sys/unseal`, {
      ca,
      method: 'POST',
      body: { passphrase },
    });
    assert.equal(answer.status, 500, answer.body);
    assert.equal((answer.json as { error: { code: string } }).error.code, 'storage_corrupt');
    assert.match(
      (answer.json as { error: { message: string } }).error.message,
      /corrupt|integrity/,
    );
    const status = await httpsRequest(`${url}/v1/sys/status`, { ca });
    assert.equal((status.json as { state: string }).state, 'sealed');
    const stopped = await server.stop();
    assert.equal(stopped.code, 0);
    assert.equal(digest(db), before, 'the database file was not written');
  });

  it('damaged keyring: exit 1 naming the file', async (t) => {
    const dataDir = await initialisedDataDir(t);
    writeFileSync(join(dataDir, 'keyring.json'), '{"format":"bulwark-keyring"');
    const { exited } = await runServerProcess(t, envFor(dataDir, await freePort()));
    assert.equal(exited?.code, 1, exited?.stderr);
    assert.match(exited?.stderr ?? '', /keyring\.json is not valid JSON/);
  });

  it('first start says how to initialise, later starts say how to unseal', async (t) => {
    const dataDir = tempDir(t);
    const first = await runServerProcess(t, envFor(dataDir, await freePort()));
    assert.match(first.stderr(), /not initialised yet[\s\S]*npx bulwark init/);
    await first.stop();
    const initialised = await initialisedDataDir(t);
    const later = await runServerProcess(t, envFor(initialised, await freePort()));
    assert.match(later.stderr(), /SEALED[\s\S]*npx bulwark unseal/);
    assert.equal((await later.stop()).code, 0);
  });
});
