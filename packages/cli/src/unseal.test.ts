import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { type FakeServer, startFakeServer } from './test-support/fake-server.ts';
import { runAgainst } from './test-support/run-cli.ts';

const passphrase = 'correct horse battery staple';

describe('bulwark unseal', () => {
  let server: FakeServer;
  afterEach(() => server.close());

  it('reports share progress over several invocations, whatever the share source', async () => {
    server = await startFakeServer({ sealedWith: { shares: { count: 5, threshold: 3 } } });
    const [one, two, three] = server.shares;
    assert.ok(one && two && three);

    const shareFile = join(server.dir, 'first.share');
    await writeFile(shareFile, `${one}\n`, { mode: 0o600 });
    const first = await runAgainst(server, ['unseal', '--share-file', shareFile]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stderr, 'share accepted: 1 of 3 given; 2 more needed\n');

    // `--share` with no value asks; from a pipe it reads one line.
    const second = await runAgainst(server, ['unseal', '--share'], { input: `${two}\n` });
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, 'share accepted: 2 of 3 given; 1 more needed\n');

    // No option: the server has shares only, so one share is asked for.
    const third = await runAgainst(server, ['unseal'], { input: `${three}\n` });
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /unseal shares: 2 of 3 given; 1 more needed\n/);
    assert.match(third.stderr, /unsealed\n$/);
    assert.equal(server.status().state, 'unsealed');
    for (const out of [first, second, third]) {
      assert.ok(![one, two, three].some((s) => out.stderr.includes(s) || out.stdout.includes(s)));
    }
  });

  it('prints the refusal and exits 2 for a duplicate or invalid share', async () => {
    server = await startFakeServer({ sealedWith: { shares: { count: 3, threshold: 2 } } });
    const share = server.shares[0] ?? '';
    assert.equal((await runAgainst(server, ['unseal', '--share', share])).code, 0);
    const again = await runAgainst(server, ['unseal', '--share', share]);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, 'error: That share was already given.\n');
    const junk = await runAgainst(server, ['unseal', '--share', 'not-a-share', '--json']);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /not a valid Bulwark unseal share/);
    assert.equal(JSON.parse(junk.stdout).error.code, 'invalid_share');
  });

  it('unseals with the passphrase from a file, the environment or stdin', async () => {
    server = await startFakeServer({ sealedWith: { passphrase } });
    const wrong = await runAgainst(server, ['unseal'], {
      env: { BULWARK_PASSPHRASE: 'wrong passphrase here' },
    });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /the passphrase is wrong/);
    assert.equal(server.status().state, 'sealed');

    const file = join(server.dir, 'passphrase');
    await writeFile(file, `${passphrase}\n`, { mode: 0o600 });
    const right = await runAgainst(server, ['unseal', '--passphrase-file', file, '--json']);
    assert.equal(right.code, 0, right.stderr);
    assert.equal(right.stderr, 'unsealed\n');
    assert.equal(JSON.parse(right.stdout).state, 'unsealed');

    const sealAgain = await runAgainst(server, ['seal', '--token-file', server.operatorTokenFile]);
    assert.equal(sealAgain.code, 0, sealAgain.stderr);
    const prompted = await runAgainst(server, ['unseal'], { input: `${passphrase}\n` });
    assert.equal(prompted.code, 0, prompted.stderr);
    assert.ok(!prompted.stderr.includes(passphrase));
    const last = server.requests.at(-1);
    assert.deepEqual(last?.body, { passphrase });
  });

  it('says when there is nothing to do, or nothing to unseal', async () => {
    server = await startFakeServer();
    const uninitialised = await runAgainst(server, ['unseal']);
    assert.equal(uninitialised.code, 1);
    assert.match(uninitialised.stderr, /not initialised: run `bulwark init` first/);

    await runAgainst(server, ['init'], { env: { BULWARK_PASSPHRASE: passphrase } });
    const idle = await runAgainst(server, ['unseal']);
    assert.equal(idle.code, 0);
    assert.match(idle.stderr, /already unsealed; nothing to do/);
    const explicit = await runAgainst(server, ['unseal'], {
      env: { BULWARK_PASSPHRASE: passphrase },
    });
    assert.equal(explicit.code, 1);
    assert.match(explicit.stderr, /already unsealed/);
  });

  it('--reset forgets the shares given so far', async () => {
    server = await startFakeServer({ sealedWith: { shares: { count: 3, threshold: 2 } } });
    await runAgainst(server, ['unseal', '--share', server.shares[0] ?? '']);
    const run = await runAgainst(server, ['unseal', '--reset']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, 'share progress reset: 0 of 2 given; 2 more needed\n');
  });

  it('refuses several secret sources at once', async () => {
    server = await startFakeServer({ sealedWith: { passphrase } });
    const run = await runAgainst(server, ['unseal', '--share', 'x', '--passphrase-file', 'p']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /not several/);
    assert.deepEqual(server.requests, []);
  });
});
