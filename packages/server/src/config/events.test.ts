import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError, loadConfig } from './index.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-config-events-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function load(file: object | null, env: Record<string, string> = {}) {
  if (file) writeFileSync(join(dir, 'bulwark.config.json'), JSON.stringify(file));
  return loadConfig({ cwd: dir, env }).config;
}

function problems(file: object | null, env: Record<string, string> = {}): string {
  try {
    load(file, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

describe('config: events (NATS)', () => {
  it('has no NATS by default: one node, an in-process bus', () => {
    assert.deepEqual(load(null).events, {});
  });

  it('reads events.nats from the file, its files relative to the file', () => {
    const config = load({
      events: {
        nats: {
          url: 'tls://nats.example.org:4222',
          name: 'bulwark-1',
          tls: { caFile: 'ca.pem', certFile: '/etc/c.pem', keyFile: 'k.pem' },
          credsFile: 'bulwark.creds',
        },
      },
    });
    assert.deepEqual(config.events.nats, {
      url: 'tls://nats.example.org:4222',
      name: 'bulwark-1',
      tls: { caFile: join(dir, 'ca.pem'), certFile: '/etc/c.pem', keyFile: join(dir, 'k.pem') },
      credsFile: join(dir, 'bulwark.creds'),
    });
  });

  it('takes BULWARK_NATS_URL over the file', () => {
    const config = load(
      { events: { nats: { url: 'nats://file.example:4222' } } },
      { BULWARK_NATS_URL: 'nats://10.0.0.5' },
    );
    assert.equal(config.events.nats?.url, 'nats://10.0.0.5');
    assert.equal(
      load(null, { BULWARK_NATS_URL: 'nats://[::1]:4223' }).events.nats?.url,
      'nats://[::1]:4223',
    );
  });

  it('refuses other schemes, credentials in the URL, paths, and never echoes the value', () => {
    for (const url of [
      'http://nats.example:4222',
      'nats://user:secret-pw@nats.example:4222',
      'nats://nats.example:4222/path',
      'nats://nats.example:99999',
      'nats://bad_host!:4222',
    ]) {
      const message = problems({ events: { nats: { url } } });
      assert.match(message, /events\.nats\.url: expected nats:\/\/host\[:port\] or tls:\/\/host/);
      assert.ok(!message.includes('secret-pw'), message);
    }
    assert.match(
      problems(null, { BULWARK_NATS_URL: 'redis://x' }),
      /environment variable BULWARK_NATS_URL \(events\.nats\.url\): expected nats:\/\//,
    );
  });

  it('names unknown keys with what is allowed, and wants certFile and keyFile together', () => {
    assert.match(
      problems({ events: { nats: { url: 'nats://a', password: 'x' } } }),
      /unknown key `events\.nats\.password`; allowed keys here: url, name, tls, credsFile/,
    );
    assert.match(
      problems({ events: { bus: 'nats' } }),
      /unknown key `events\.bus`; allowed keys here: nats/,
    );
    assert.match(
      problems({ events: { nats: { url: 'nats://a', tls: { certFile: 'c.pem' } } } }),
      /events\.nats\.tls\.certFile: set without keyFile/,
    );
    assert.match(problems({ events: { nats: {} } }), /events\.nats\.url/);
  });
});
