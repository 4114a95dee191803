import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  type FakeServer,
  type FakeServerOptions,
  startFakeServer,
} from './test-support/fake-server.ts';
import { runAgainst } from './test-support/run-cli.ts';

const passphrase = 'correct horse battery staple';
const newPassphrase = 'a brand new passphrase, never used';

describe('bulwark rekey', () => {
  let server: FakeServer;
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'bulwark-rekey-'));
  });
  afterEach(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fake server initialised (and so unsealed) through the CLI itself. */
  async function initialised(initArgs: string[], opts: FakeServerOptions = {}): Promise<void> {
    server = await startFakeServer(opts);
    const init = await runAgainst(server, ['init', ...initArgs], {
      env: { BULWARK_PASSPHRASE: passphrase },
    });
    assert.equal(init.code, 0, init.stderr);
  }
  const shareFiles = () => ['a.share', 'b.share', 'c.share'].map((f) => join(dir, f));
  const toShares = () => [
    '--no-passphrase',
    '--shares',
    '3',
    '--threshold',
    '2',
    ...shareFiles().flatMap((f) => ['--share-file', f]),
  ];
  const rekeyCalls = () => server.requests.filter((r) => r.path === '/v1/sys/rekey');

  it('rotates a passphrase into new shares written to 0600 files', async () => {
    await initialised([]);
    const token = (await readFile(server.operatorTokenFile, 'utf8')).trim();
    const run = await runAgainst(
      server,
      ['rekey', ...toShares(), '--token-file', server.operatorTokenFile],
      { env: { BULWARK_PASSPHRASE: passphrase } },
    );
    assert.equal(run.code, 0, run.stderr);

    const [call] = rekeyCalls();
    assert.equal(call?.authorization, `Bearer ${token}`);
    assert.deepEqual(call?.body, {
      current: { passphrase },
      next: { shares: { count: 3, threshold: 2 } },
    });
    assert.equal(server.shares.length, 3);
    for (const [i, file] of shareFiles().entries()) {
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal(await readFile(file, 'utf8'), `${server.shares[i]}\n`);
    }
    assert.equal(run.stdout, '', 'shares written to files are not printed');
    assert.match(run.stderr, /It now unseals with any 2 of the 3 new shares\./);
    assert.match(run.stderr, /The OLD passphrase NO LONGER unlocks this server/);
    assert.match(run.stderr, /NOT re-encrypted: the root key is the same/);
    assert.match(run.stderr, /Backups made before this rekey hold the OLD keyring/);
    assert.match(run.stderr, /share 3 of 3 written to/);
    assert.ok(!run.stderr.includes(passphrase), 'the passphrase is never echoed');
    assert.ok(!server.shares.some((s) => run.stderr.includes(s)));

    // The old passphrase is void; two of the new shares unseal.
    await runAgainst(server, ['seal', '--token-file', server.operatorTokenFile]);
    const old = await runAgainst(server, ['unseal'], { env: { BULWARK_PASSPHRASE: passphrase } });
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /not configured/);
    assert.equal(server.status().state, 'sealed');
    for (const file of shareFiles().slice(0, 2)) {
      const share = await runAgainst(server, ['unseal', '--share-file', file]);
      assert.equal(share.code, 0, share.stderr);
    }
    assert.equal(server.status().state, 'unsealed');
  });

  it('asks for the current shares one after another, then the new passphrase twice', async () => {
    await initialised(['--no-passphrase', '--shares', '3', '--threshold', '2']);
    const [one, two] = server.shares;
    assert.ok(one && two);
    const run = await runAgainst(server, ['rekey', '--json'], {
      // The server does not say the threshold while unsealed: an empty line ends the shares.
      input: `${one}\n${two}\n\n${newPassphrase}\n${newPassphrase}\n`,
      env: { BULWARK_OPERATOR_TOKEN_FILE: server.operatorTokenFile },
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(rekeyCalls()[0]?.body, {
      current: { shares: [one, two] },
      next: { passphrase: newPassphrase },
    });
    assert.match(run.stderr, /each operator types theirs in turn/);
    assert.match(run.stderr, /The OLD shares NO LONGER unlock this server/);
    assert.deepEqual(JSON.parse(run.stdout), {
      installationId: server.status().installationId,
      threshold: null,
      providers: ['passphrase'],
      shares: [],
    });
    assert.ok(![one, two, newPassphrase].some((s) => run.stderr.includes(s)));
  });

  it('asks for exactly the threshold of shares when the server tells it', async () => {
    await initialised(['--no-passphrase', '--shares', '3', '--threshold', '2'], {
      thresholdWhileUnsealed: true,
    });
    const [one, two] = server.shares;
    const run = await runAgainst(server, ['rekey', '--data-dir', server.dir], {
      input: `${one}\n${two}\n${newPassphrase}\n${newPassphrase}\n`,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /2 current unseal shares are needed/);
    assert.deepEqual(rekeyCalls()[0]?.body, {
      current: { shares: [one, two] },
      next: { passphrase: newPassphrase },
    });
  });

  it('exits 2 and writes no share file when the current passphrase is wrong', async () => {
    await initialised([]);
    const run = await runAgainst(server, ['rekey', ...toShares(), '--data-dir', server.dir], {
      env: { BULWARK_PASSPHRASE: 'not the passphrase at all' },
    });
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /the current passphrase is wrong\. Nothing was changed/);
    assert.equal(rekeyCalls().length, 1);
    for (const file of shareFiles()) await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.deepEqual(server.status().providers, ['passphrase']);
  });

  it('says clearly that the operator token was refused, and exits 1', async () => {
    await initialised([]);
    const run = await runAgainst(server, ['rekey', ...toShares(), '--json'], {
      env: { BULWARK_PASSPHRASE: passphrase, BULWARK_OPERATOR_TOKEN: 'not-the-token' },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^error: the operator token was refused: .*this installation\?\)$/m);
    assert.equal(JSON.parse(run.stdout).error.code, 'unauthenticated');
    for (const file of shareFiles()) await assert.rejects(stat(file), { code: 'ENOENT' });
    assert.deepEqual(server.status().providers, ['passphrase']);
  });

  it('refuses when a share file exists, before calling the server at all', async () => {
    await initialised([]);
    const taken = shareFiles()[2] ?? '';
    await writeFile(taken, 'precious\n');
    const before = server.requests.length;
    const run = await runAgainst(server, ['rekey', ...toShares(), '--data-dir', server.dir], {
      env: { BULWARK_PASSPHRASE: passphrase },
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /already exists; refusing to overwrite it \(nothing was changed\)/);
    assert.equal(server.requests.length, before);
    assert.equal(await readFile(taken, 'utf8'), 'precious\n');
    await assert.rejects(stat(shareFiles()[0] ?? ''), { code: 'ENOENT' });
  });

  it('refuses a sealed server and a kind of material the installation lacks', async () => {
    await initialised(['--no-passphrase', '--shares', '3', '--threshold', '2']);
    const tokenEnv = { BULWARK_OPERATOR_TOKEN_FILE: server.operatorTokenFile };
    const noPassphrase = await runAgainst(server, ['rekey'], {
      env: { ...tokenEnv, BULWARK_PASSPHRASE: passphrase },
    });
    assert.equal(noPassphrase.code, 2);
    assert.match(noPassphrase.stderr, /this installation has no passphrase/);

    await runAgainst(server, ['seal'], { env: tokenEnv });
    const sealed = await runAgainst(server, ['rekey'], { env: tokenEnv });
    assert.equal(sealed.code, 1);
    assert.match(sealed.stderr, /the server is sealed: unseal it first/);
    assert.equal(rekeyCalls().length, 0);
  });

  it('documents its exit codes', async () => {
    server = await startFakeServer();
    const run = await runAgainst(server, ['rekey', '--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /Exit codes: 0 rekeyed; 1 error/);
    assert.match(run.stdout, /2 current passphrase or shares refused/);
    assert.match(run.stdout, /NOT re-encrypted/);
  });
});
