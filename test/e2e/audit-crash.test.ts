/**
 * Crash safety: SIGKILL the server in the middle of a burst of changes.
 * After a restart every change that was acknowledged has its ledger entry,
 * and the ledger verifies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { httpsRequest } from '../support/https.ts';
import { freePort, runServerProcess } from '../support/server-process.ts';
import { tempDir } from '../support/temp.ts';

const passphrase = 'crash safety passphrase';

describe('audit ledger crash safety', () => {
  it('every acknowledged change has its entry after a SIGKILL mid-burst', async (t) => {
    const dataDir = tempDir(t);
    const port = await freePort();
    const env = {
      BULWARK_DATA_DIR: dataDir,
      BULWARK_HOST: '127.0.0.1',
      BULWARK_PORT: String(port),
    };
    const url = `https://127.0.0.1:${port}`;
    const first = await runServerProcess(t, env);
    assert.equal(first.exited, null, first.stderr());
    const ca = readFileSync(join(dataDir, 'tls', 'ca.crt'), 'utf8');
    const init = await httpsRequest(`${url}/v1/sys/init`, {
      ca,
      method: 'POST',
      body: { passphrase },
    });
    assert.equal(init.status, 200, init.body);
    const operator = {
      authorization: `Bearer ${readFileSync(join(dataDir, 'operator.token'), 'utf8').trim()}`,
    };

    // Each read of the ledger is itself a recorded change (an audit.read entry).
    let acknowledged = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const answer = await httpsRequest(`${url}/v1/audit/entries?from=0&limit=1`, {
            ca,
            headers: operator,
          });
          if (answer.status === 200) acknowledged += 1;
        } catch {
          return; // the server died under us
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await sleep(1000);
    assert.ok(acknowledged > 5, `the burst is under way (${acknowledged} acknowledged)`);
    const killed = first.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    await killed;

    const second = await runServerProcess(t, env);
    assert.equal(second.exited, null, second.stderr());
    const unseal = await httpsRequest(`${url}/v1/sys/unseal`, {
      ca,
      method: 'POST',
      body: { passphrase },
    });
    assert.equal(unseal.status, 200, unseal.body);
    const verify = await httpsRequest(`${url}/v1/audit/verify`, {
      ca,
      method: 'POST',
      headers: operator,
      body: {},
    });
    assert.equal((verify.json as { ok: boolean }).ok, true, verify.body);
    let reads = 0;
    for (let from = 0; ; from += 1000) {
      const page = await httpsRequest(`${url}/v1/audit/entries?from=${from}&limit=1000`, {
        ca,
        headers: operator,
      });
      const entries = (page.json as { entries: { entry: { action: string } }[] }).entries;
      reads += entries.filter((e) => e.entry.action === 'audit.read').length;
      if (entries.length < 1000) break;
    }
    // The last read above is recorded too, after it returns its list.
    assert.ok(
      reads >= acknowledged,
      `${reads} audit.read entries for ${acknowledged} acknowledged reads`,
    );
  });
});
