/**
 * The operator's path, with real processes: `npm start` in one terminal,
 * `bulwark init`, `seal`, `status` and `unseal` in another — exit codes,
 * the words printed, and the files left behind.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import {
  type CliOptions,
  expectExit,
  runCli,
  type ServerProcess,
  startServerProcess,
} from '../support/bulwark-process.ts';
import { postgresSchema } from '../support/postgres.ts';
import { describeOutput, type Finished } from '../support/process.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'correct horse battery staple';

type Server = ServerProcess;

/**
 * One test's stage. Made first in a test, so that when the test ends its
 * servers stop before its temporary directories and schemas are removed.
 */
function stage(t: TestContext) {
  const servers: Server[] = [];
  t.after(async () => {
    for (const server of servers) await server.stop();
  });
  return {
    /** An empty directory: a data directory's parent, or an operator's desk. */
    dir: () => tempDir(t),
    /** `npm start` on `dataDir` (created by the server), listening on 127.0.0.1. */
    async startServer(
      dataDir: string,
      opts: { port?: number; env?: Record<string, string> } = {},
    ): Promise<Server> {
      const server = await startServerProcess(dataDir, opts);
      servers.push(server);
      return server;
    },
  };
}

/** `npx bulwark <args>` against `server`, trusting only its CA. */
function cli(server: Server, args: readonly string[], opts: CliOptions): Promise<Finished> {
  return runCli(server, args, opts);
}

/** `bulwark status`: its exit code and the state it prints. */
async function expectStatus(
  server: Server,
  desk: string,
  expected: { state: 'uninitialized' | 'sealed' | 'unsealed'; given?: number; storage?: string },
): Promise<Finished> {
  const status = await cli(server, ['status'], { cwd: desk });
  expectExit(status, expected.state === 'unsealed' ? 0 : 2, `status (${expected.state})`);
  assert.match(status.stdout, new RegExp(`^state:\\s+${expected.state}$`, 'm'), status.stdout);
  if (expected.given !== undefined) {
    assert.match(
      status.stdout,
      new RegExp(`^shares:\\s+${expected.given} of 2 given \\(of 3 made\\)$`, 'm'),
      status.stdout,
    );
  }
  if (expected.storage !== undefined) {
    assert.match(status.stdout, new RegExp(`^storage:\\s+${expected.storage}$`, 'm'));
  }
  return status;
}

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

/**
 * Scenario 1 on a fresh server: init with a passphrase and 3 shares, refuse a
 * second init, then seal and unseal with shares and with the passphrase.
 */
async function initSealUnsealCycle(server: Server, desk: string, storage: string): Promise<void> {
  const outputs: Finished[] = [];
  const op = async (args: string[], opts: Omit<CliOptions, 'cwd'> = {}) => {
    const result = await cli(server, args, { cwd: desk, ...opts });
    outputs.push(result);
    return result;
  };

  await server.process.waitFor('stderr', /npx bulwark init/, 'the server to say how to init', 5000);
  assert.match(server.process.output().stderr, /not initialised yet/);

  const before = await expectStatus(server, desk, { state: 'uninitialized', storage });
  assert.match(before.stdout, /^next step:\s+bulwark init$/m);

  // Init, the passphrase piped twice (question and confirmation).
  const shareArgs = ['--shares', '3', '--threshold', '2'];
  const init = await op(
    ['init', ...shareArgs, '--share-file', 'a', '--share-file', 'b', '--share-file', 'c'],
    { input: `${passphrase}\n${passphrase}\n` },
  );
  expectExit(init, 0, 'init');
  const installationId = installationIdOf(init);
  assert.match(init.stderr, /any 2 of these 3 shares unseal the server/);
  const shares = ['a', 'b', 'c'].map((name) => {
    const path = join(desk, name);
    assert.equal(modeOf(path), 0o600, `${name} is readable by its owner only`);
    assert.match(init.stderr, new RegExp(`written to ${path}$`, 'm'));
    return readFileSync(path, 'utf8').trim();
  });
  assert.equal(new Set(shares).size, 3, 'three different shares');
  for (const share of shares) assert.ok(!init.stdout.includes(share), 'shares go to files only');
  const keyringPath = join(server.dataDir, 'keyring.json');
  const tokenPath = join(server.dataDir, 'operator.token');
  assert.equal(modeOf(tokenPath), 0o600);

  const unsealed = await expectStatus(server, desk, { state: 'unsealed', storage });
  assert.match(unsealed.stdout, new RegExp(`^installation:\\s+${installationId}$`, 'm'));
  assert.match(unsealed.stdout, /^unseal with:\s+passphrase, shamir$/m);

  // The same command again (new share file names): refused, nothing touched.
  const keyring = readFileSync(keyringPath);
  const token = readFileSync(tokenPath);
  const again = await op(
    ['init', ...shareArgs, '--share-file', 'a2', '--share-file', 'b2', '--share-file', 'c2'],
    { input: `${passphrase}\n${passphrase}\n` },
  );
  expectExit(again, 1, 'a second init');
  assert.match(again.stderr, /already initialised/);
  assert.deepEqual(readFileSync(keyringPath), keyring, 'keyring.json is unchanged');
  assert.deepEqual(readFileSync(tokenPath), token, 'operator.token is unchanged');
  assert.throws(() => statSync(join(desk, 'a2')), { code: 'ENOENT' });
  await expectStatus(server, desk, { state: 'unsealed' });

  // Seal (with <data-dir>/operator.token), then two operators give a share each.
  const seal = await op(['seal']);
  expectExit(seal, 0, 'seal');
  assert.match(seal.stderr, /^sealed$/m);
  const sealed = await expectStatus(server, desk, { state: 'sealed', given: 0 });
  assert.match(sealed.stdout, /^next step:\s+bulwark unseal$/m);

  const first = await op(['unseal', '--share-file', 'a']);
  expectExit(first, 0, 'unseal with the first share');
  assert.match(first.stderr, /share accepted: 1 of 2 given; 1 more needed/);
  await expectStatus(server, desk, { state: 'sealed', given: 1 });

  const second = await op(['unseal', '--share-file', 'b']);
  expectExit(second, 0, 'unseal with the second share');
  assert.match(second.stderr, /^unsealed$/m);
  await expectStatus(server, desk, { state: 'unsealed' });

  // Seal again; a wrong passphrase is refused and changes nothing, the right one unseals.
  expectExit(await op(['seal']), 0, 'second seal');
  const wrong = await op(['unseal'], { env: { BULWARK_PASSPHRASE: 'not the passphrase at all' } });
  expectExit(wrong, 2, 'unseal with a wrong passphrase');
  assert.match(wrong.stderr, /the passphrase is wrong/);
  await expectStatus(server, desk, { state: 'sealed', given: 0 });

  const right = await op(['unseal'], { env: { BULWARK_PASSPHRASE: passphrase } });
  expectExit(right, 0, 'unseal with the passphrase');
  assert.match(right.stderr, /^unsealed$/m);
  await expectStatus(server, desk, { state: 'unsealed', storage });

  // No secret is ever printed: not by the CLI, not in the server's logs.
  const secrets = {
    passphrase,
    'share a': shares[0],
    'share b': shares[1],
    'share c': shares[2],
    'operator token': token.toString('utf8').trim(),
  };
  const printed = [...outputs, server.process.output()];
  for (const [name, secret] of Object.entries(secrets)) {
    assert.ok(secret, name);
    printed.forEach((out, i) => {
      const where = i === outputs.length ? 'the server' : `CLI run ${i + 1}`;
      assert.ok(!`${out.stdout}${out.stderr}`.includes(secret), `${where} printed the ${name}`);
    });
  }
}

/** `bulwark init --no-passphrase`, 3 shares (any 2 unseal) written to `files`; the installation id. */
async function initWithShares(server: Server, desk: string, files: string[]): Promise<string> {
  const args = ['init', '--no-passphrase', '--shares', '3', '--threshold', '2'];
  const init = await cli(server, [...args, ...files.flatMap((f) => ['--share-file', f])], {
    cwd: desk,
  });
  expectExit(init, 0, 'init with shares only');
  return installationIdOf(init);
}

/** The installation id `bulwark init` reports. */
function installationIdOf(init: Finished): string {
  const installationId = /initialised installation (bwk_[0-9a-f]+)/.exec(init.stderr)?.[1];
  assert.ok(installationId, `init names the installation\n${describeOutput(init)}`);
  return installationId;
}

describe('bulwark CLI against a real server process', () => {
  it('init, refused re-init, seal, unseal with shares and passphrase (SQLite)', async (t) => {
    const { dir, startServer } = stage(t);
    const server = await startServer(join(dir(), 'data'));
    await initSealUnsealCycle(server, dir(), 'sqlite');
  });

  it('init, refused re-init, seal, unseal with shares and passphrase (PostgreSQL)', async (t) => {
    const { dir, startServer } = stage(t);
    const pg = await postgresSchema(t);
    if (!pg) return;
    const server = await startServer(join(dir(), 'data'), {
      env: { DATABASE_URL: pg.url, BULWARK_DB_SCHEMA: pg.schema },
    });
    await initSealUnsealCycle(server, dir(), 'postgres');
  });

  it('after a restart the server is sealed and says how to unseal; a passphrase file unseals', async (t) => {
    const { dir, startServer } = stage(t);
    const desk = dir();
    const dataDir = join(dir(), 'data');
    const passphraseFile = join(desk, 'passphrase.txt');
    writeFileSync(passphraseFile, `${passphrase}\n`, { mode: 0o600 });

    const first = await startServer(dataDir);
    const init = await cli(first, ['init', '--passphrase-file', passphraseFile], { cwd: desk });
    expectExit(init, 0, 'init');
    const installationId = installationIdOf(init);
    const stopped = await first.stop();
    assert.equal(stopped.code, 0, `a clean shutdown on SIGTERM\n${describeOutput(stopped)}`);

    const second = await startServer(dataDir, { port: first.port });
    await second.process.waitFor(
      'stderr',
      /npx bulwark unseal/,
      'the server to say how to unseal',
      5000,
    );
    const guidance = second.process.output().stderr;
    assert.match(guidance, /The server is SEALED/);
    assert.doesNotMatch(guidance, /bulwark init/);
    const sealed = await expectStatus(second, desk, { state: 'sealed' });
    assert.match(sealed.stdout, new RegExp(`^installation:\\s+${installationId}$`, 'm'));

    const unseal = await cli(second, ['unseal', '--passphrase-file', passphraseFile], {
      cwd: desk,
    });
    expectExit(unseal, 0, 'unseal with --passphrase-file');
    assert.match(unseal.stderr, /^unsealed$/m);
    assert.doesNotMatch(unseal.stderr, /warning/);
    await expectStatus(second, desk, { state: 'unsealed' });
  });

  it("refuses another installation's share, keeping the shares given so far", async (t) => {
    const { dir, startServer } = stage(t);
    const desk = dir();
    const ours = await startServer(join(dir(), 'data'));
    const theirs = await startServer(join(dir(), 'data'));
    const oursId = await initWithShares(ours, desk, ['a', 'b', 'c']);
    const theirsId = await initWithShares(theirs, desk, ['other', 'other2', 'other3']);
    expectExit(await cli(ours, ['seal'], { cwd: desk }), 0, 'seal');
    // The server names both installations: the share's and its own.
    const foreignMessage = new RegExp(
      `That share belongs to installation ${theirsId}, not to this one \\(${oursId}\\)`,
    );

    const foreign = await cli(ours, ['unseal', '--share-file', 'other'], { cwd: desk });
    expectExit(foreign, 2, 'unseal with a share of another installation');
    assert.match(foreign.stderr, foreignMessage);
    await expectStatus(ours, desk, { state: 'sealed', given: 0 });

    // In the middle of a collection, too: the share given so far stays.
    expectExit(await cli(ours, ['unseal', '--share-file', 'a'], { cwd: desk }), 0, 'first share');
    const again = await cli(ours, ['unseal', '--share-file', 'other'], { cwd: desk });
    expectExit(again, 2, 'a foreign share after a good one');
    assert.match(again.stderr, foreignMessage);
    await expectStatus(ours, desk, { state: 'sealed', given: 1 });
    const last = await cli(ours, ['unseal', '--share-file', 'b'], { cwd: desk });
    expectExit(last, 0, 'second share');
    assert.match(last.stderr, /^unsealed$/m);
    await expectStatus(ours, desk, { state: 'unsealed' });
  });
});
