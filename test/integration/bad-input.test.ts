/**
 * Malformed requests to the only routes a sealed server answers: each gets a
 * clear error naming what was wrong, nothing changes, and the server keeps
 * answering others.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestServer, type TestServer } from '../support/server.ts';
import { tempDir } from '../support/temp.ts';

function raw(server: TestServer, path: string, body: string | Buffer, contentType: string) {
  return new Promise<{ status: number; json: { error?: { code: string; message: string } } }>(
    (resolve, reject) => {
      const req = request(
        `${server.handle.url}${path}`,
        { method: 'POST', ca: server.ca, headers: { 'content-type': contentType } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              json: JSON.parse(Buffer.concat(chunks).toString() || '{}'),
            }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    },
  );
}

describe('bad input to the sys routes', () => {
  it('is refused clearly and changes nothing', async (t) => {
    const dataDir = tempDir(t);
    const server = await startTestServer(t, { dataDir });

    const cases: [string, string | Buffer, string, number, string, RegExp][] = [
      ['/v1/sys/init', '{"passphrase": ', 'application/json', 400, 'bad_request', /JSON/i],
      [
        '/v1/sys/init',
        '{"passphrase":"short"}',
        'application/json',
        400,
        'bad_request',
        /passphrase.*at least 12/,
      ],
      [
        '/v1/sys/init',
        '{"shares":{"count":3,"threshold":4}}',
        'application/json',
        400,
        'bad_request',
        /threshold/,
      ],
      [
        '/v1/sys/init',
        '{"shares":{"count":1,"threshold":1}}',
        'application/json',
        400,
        'bad_request',
        /at least 2/,
      ],
      [
        '/v1/sys/init',
        '{"passphrase":"long enough passphrase","extra":1}',
        'application/json',
        400,
        'bad_request',
        /extra|Unrecognized/i,
      ],
      ['/v1/sys/init', '{}', 'application/json', 400, 'bad_request', /passphrase, shares, or both/],
      [
        '/v1/sys/init',
        'passphrase=x',
        'application/x-www-form-urlencoded',
        415,
        'unsupported_media_type',
        /.+/,
      ],
      [
        '/v1/sys/init',
        Buffer.alloc(64 * 1024, 'a'),
        'application/json',
        413,
        'payload_too_large',
        /.+/,
      ],
      [
        '/v1/sys/unseal',
        '{"passphrase":"x"}',
        'application/json',
        503,
        'not_initialized',
        /bulwark init/,
      ],
    ];
    for (const [path, body, type, status, code, message] of cases) {
      const answer = await raw(server, path, body, type);
      assert.equal(
        answer.status,
        status,
        `${path} ${String(body).slice(0, 40)}: ${JSON.stringify(answer.json)}`,
      );
      assert.equal(answer.json.error?.code, code);
      assert.match(answer.json.error?.message ?? '', message);
    }
    assert.equal(
      ((await server.request('/v1/sys/status')).json as { state: string }).state,
      'uninitialized',
    );
    assert.throws(() => readFileSync(join(dataDir, 'keyring.json')), /ENOENT/);

    // Still serving: a valid init goes through afterwards.
    const ok = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'long enough passphrase' },
    });
    assert.equal(ok.status, 200, ok.body);
    const again = await server.request('/v1/sys/init', {
      method: 'POST',
      body: { passphrase: 'another long passphrase' },
    });
    assert.equal(again.status, 409);
    assert.equal((again.json as { error: { code: string } }).error.code, 'already_initialized');
  });
});
