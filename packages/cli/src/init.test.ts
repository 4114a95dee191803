import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type FakeServer, startFakeServer } from './test-support/fake-server.ts';
import { runAgainst } from './test-support/run-cli.ts';

const passphrase = 'correct horse battery staple';

describe('bulwark init', () => {
  let server: FakeServer;
  beforeEach(async () => {
    server = await startFakeServer();
  });
  afterEach(() => server.close());

  it('asks for the passphrase twice, prints each share once and warns about them', async () => {
    const run = await runAgainst(server, ['init', '--shares', '3', '--threshold', '2'], {
      input: `${passphrase}\n${passphrase}\n`,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(server.shares.length, 3);
    for (const [i, share] of server.shares.entries()) {
      assert.ok(run.stdout.includes(`share ${i + 1} of 3: ${share}\n`), run.stdout);
    }
    assert.match(run.stderr, /shown only this once/);
    assert.match(run.stderr, /never keeps them/);
    assert.match(run.stderr, /give each to a different\s+person/);
    assert.match(run.stderr, /any 2 of these 3 shares unseal/);
    assert.ok(run.stderr.includes(server.status().installationId ?? '?'));
    assert.ok(run.stderr.includes(`operator token written to ${server.operatorTokenFile}`));
    assert.ok(!run.stderr.includes(passphrase), 'the passphrase is never echoed');
    const init = server.requests.find((r) => r.path === '/v1/sys/init');
    assert.deepEqual(init?.body, { passphrase, shares: { count: 3, threshold: 2 } });
  });

  it('takes the passphrase from BULWARK_PASSPHRASE and prints JSON with --json', async () => {
    const run = await runAgainst(server, ['init', '--json'], {
      env: { BULWARK_PASSPHRASE: passphrase },
    });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.installationId, server.status().installationId);
    assert.deepEqual(result.shares, []);
    assert.equal(result.status.state, 'unsealed');
  });

  it('refuses passphrases that do not match, without calling init', async () => {
    const run = await runAgainst(server, ['init'], {
      input: `${passphrase}\n${passphrase}x\n`,
    });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /the two passphrases do not match/);
    assert.ok(!server.requests.some((r) => r.path === '/v1/sys/init'));
    assert.equal(server.status().state, 'uninitialized');
  });

  it('refuses a passphrase shorter than 12 characters', async () => {
    const run = await runAgainst(server, ['init'], { input: 'short\nshort\n' });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /at least 12 characters/);
    assert.equal(server.status().state, 'uninitialized');
  });

  describe('--share-file', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'bulwark-shares-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));
    const files = () => ['a.share', 'b.share', 'c.share'].map((f) => join(dir, f));
    const args = () => [
      'init',
      '--no-passphrase',
      '--shares',
      '3',
      '--threshold',
      '2',
      ...files().flatMap((f) => ['--share-file', f]),
    ];

    it('writes each share to its own 0600 file and prints none', async () => {
      const run = await runAgainst(server, args());
      assert.equal(run.code, 0, run.stderr);
      for (const [i, file] of files().entries()) {
        assert.equal((await stat(file)).mode & 0o777, 0o600);
        assert.equal(await readFile(file, 'utf8'), `${server.shares[i]}\n`);
      }
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /share 3 of 3 written to/);
      assert.match(run.stderr, /different person/);
    });

    it('refuses when a target file exists, before calling the server at all', async () => {
      const taken = files()[1] ?? '';
      await writeFile(taken, 'precious\n');
      const run = await runAgainst(server, args());
      assert.equal(run.code, 1);
      assert.match(run.stderr, /already exists; refusing to overwrite/);
      assert.deepEqual(server.requests, []);
      assert.equal(await readFile(taken, 'utf8'), 'precious\n');
      await assert.rejects(stat(files()[0] ?? ''), { code: 'ENOENT' });
    });

    it('must be given exactly once per share', async () => {
      const run = await runAgainst(server, [
        'init',
        '--no-passphrase',
        '--shares',
        '3',
        '--threshold',
        '2',
        '--share-file',
        join(dir, 'only-one'),
      ]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /once per share \(3 times\), not 1/);
      assert.deepEqual(server.requests, []);
    });
  });

  it('checks the share options before anything else', async () => {
    const cases: [string[], RegExp][] = [
      [['--shares', '3'], /--shares and --threshold together/],
      [['--shares', '3', '--threshold', '4'], /threshold must not exceed/],
      [['--shares', '1', '--threshold', '1'], /at least 2/],
      [['--no-passphrase'], /--no-passphrase needs --shares/],
      [['--shares', 'many', '--threshold', '2'], /expected a whole number/],
    ];
    for (const [extra, message] of cases) {
      const run = await runAgainst(server, ['init', ...extra]);
      assert.equal(run.code, 1, extra.join(' '));
      assert.match(run.stderr, message);
    }
    assert.deepEqual(server.requests, []);
  });

  it('says so and exits 1 when the server is initialised already', async () => {
    await runAgainst(server, ['init'], { env: { BULWARK_PASSPHRASE: passphrase } });
    const run = await runAgainst(server, ['init'], { env: { BULWARK_PASSPHRASE: passphrase } });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /already initialised; refusing to touch it/);
  });
});
