import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError, loadConfig, redactDatabaseUrl } from './index.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulwark-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Runs loadConfig expecting a ConfigError; returns its message. */
function failure(env: Record<string, string | undefined> = {}, configPath?: string): string {
  try {
    loadConfig(configPath === undefined ? { cwd: dir, env } : { cwd: dir, env, configPath });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.message, err.problems.join('\n'));
    return err.message;
  }
  assert.fail('expected loadConfig to throw');
}

describe('loadConfig', () => {
  it('gives the defaults when there is no file', () => {
    const { config, source } = loadConfig({ cwd: dir, env: {} });
    assert.equal(source, null);
    assert.deepEqual(config, {
      dataDir: join(dir, 'data'),
      listen: { host: 'localhost', port: 8443 },
      tls: { serverNames: ['localhost'] },
      database: { schema: 'bulwark' },
      log: { level: 'info' },
      metrics: { enabled: true },
      init: { allowRemote: false },
      auth: {
        passkeys: { allowedAaguids: [], deniedAaguids: [], requireHardwareBound: false },
        passwords: false,
        sms: { enabled: false, provider: 'http-gateway' },
        ldap: { connectors: [] },
        oidc: [],
      },
      audit: { siem: [] },
      events: {},
      dns: {
        enabled: false,
        host: '127.0.0.1',
        udpPort: 5353,
        tcpPort: 5353,
        dotPort: 853,
        upstreams: [],
        airGapped: false,
        allowedClientRanges: [
          '127.0.0.0/8',
          '::1/128',
          '10.0.0.0/8',
          '172.16.0.0/12',
          '192.168.0.0/16',
          'fc00::/7',
        ],
        rangeOrgs: [],
        lists: [],
        defaultPolicy: {
          blockCategories: ['malware', 'phishing'],
          answer: 'nxdomain',
          queryLog: 'anonymised',
        },
        rebindingAllowed: [],
        rateLimitPerSecond: 200,
        cacheEntries: 100_000,
      },
    });
  });

  it('reads a JSON file and resolves paths against its directory', () => {
    const sub = join(dir, 'etc');
    const path = join(sub, 'custom.json');
    write('bulwark.config.json', '{}'); // present in cwd but ignored: an explicit path wins
    mkdirSync(sub);
    writeFileSync(
      path,
      JSON.stringify({
        dataDir: 'state',
        listen: { port: 9443 },
        tls: {
          serverNames: ['Bulwark.Example.org', '192.0.2.10'],
          certFile: 'c.pem',
          keyFile: '/k.pem',
        },
        database: { url: 'postgres://bulwark:pw@db/bulwark', schema: 'bw' },
        metrics: { enabled: false },
      }),
    );
    const { config, source } = loadConfig({ cwd: dir, env: {}, configPath: 'etc/custom.json' });
    assert.equal(source, path);
    assert.equal(config.dataDir, join(sub, 'state'));
    assert.equal(config.listen.port, 9443);
    assert.equal(config.listen.host, 'localhost');
    assert.deepEqual(config.tls.serverNames, ['bulwark.example.org', '192.0.2.10']);
    assert.equal(config.tls.certFile, join(sub, 'c.pem'));
    assert.equal(config.tls.keyFile, '/k.pem');
    assert.equal(config.database.url, 'postgres://bulwark:pw@db/bulwark');
    assert.equal(config.database.schema, 'bw');
    assert.equal(config.metrics.enabled, false);
  });

  it('finds a YAML file in the working directory', () => {
    const path = write(
      'bulwark.config.yaml',
      'listen:\n  host: 0.0.0.0\n  port: 443\nlog:\n  level: debug\ninit:\n  allowRemote: true\n',
    );
    const { config, source } = loadConfig({ cwd: dir, env: {} });
    assert.equal(source, path);
    assert.deepEqual(config.listen, { host: '0.0.0.0', port: 443 });
    assert.equal(config.log.level, 'debug');
    assert.equal(config.init.allowRemote, true);
  });

  it('takes the file from BULWARK_CONFIG', () => {
    const path = write('other.yml', 'listen: { port: 1234 }\n');
    const { config, source } = loadConfig({ cwd: dir, env: { BULWARK_CONFIG: 'other.yml' } });
    assert.equal(source, path);
    assert.equal(config.listen.port, 1234);
  });

  it('lets the environment override the file', () => {
    write(
      'bulwark.config.yml',
      'dataDir: /srv/file\nlisten: { host: file.example, port: 1000 }\nmetrics: { enabled: true }\n',
    );
    const { config } = loadConfig({
      cwd: dir,
      env: {
        BULWARK_DATA_DIR: 'rel',
        BULWARK_PORT: '2000',
        BULWARK_SERVER_NAMES: 'a.example, 10.0.0.1,,',
        BULWARK_METRICS: 'false',
        BULWARK_LOG_LEVEL: 'warn',
        BULWARK_DB_SCHEMA: 'tenant_1',
        DATABASE_URL: 'postgresql://u:p@h:5432/d',
        BULWARK_PASSPHRASE: 'ignored by the server',
        BULWARK_OPERATOR_TOKEN_FILE: '/ignored',
        PATH: '/usr/bin',
      },
    });
    assert.equal(config.dataDir, join(dir, 'rel'));
    assert.deepEqual(config.listen, { host: 'file.example', port: 2000 });
    assert.deepEqual(config.tls.serverNames, ['a.example', '10.0.0.1']);
    assert.equal(config.metrics.enabled, false);
    assert.equal(config.log.level, 'warn');
    assert.equal(config.database.schema, 'tenant_1');
    assert.equal(config.database.url, 'postgresql://u:p@h:5432/d');
  });

  it('refuses an unknown key in the file, naming its dotted path and the allowed keys', () => {
    write('bulwark.config.json', '{ "listen": { "prot": 8443 }, "colour": "blue" }');
    const message = failure();
    assert.match(message, /unknown key `listen\.prot`; allowed keys here: host, port/);
    assert.match(message, /unknown key `colour`; allowed keys here: dataDir, listen, tls,/);
    assert.match(message, /bulwark\.config\.json/);
  });

  it('refuses a bad type, naming the key and what is allowed', () => {
    write(
      'bulwark.config.yaml',
      'listen:\n  port: "8443"\nlog:\n  level: loud\ndatabase:\n  schema: Bad-Name\ntls:\n  serverNames: []\n',
    );
    const message = failure();
    assert.match(message, /listen\.port: expected an integer between 0 and 65535/);
    assert.match(
      message,
      /log\.level: expected one of fatal, error, warn, info, debug, trace, silent/,
    );
    assert.match(message, /database\.schema: expected an SQL identifier/);
    assert.match(message, /tls\.serverNames: expected a non-empty list/);
  });

  it('refuses an out-of-range port and a bad server name', () => {
    write(
      'bulwark.config.json',
      '{ "listen": { "port": 70000 }, "tls": { "serverNames": ["ok", "a..b"] } }',
    );
    const message = failure();
    assert.match(message, /listen\.port: expected an integer between 0 and 65535/);
    assert.match(message, /tls\.serverNames\[1\]: expected a DNS name/);
  });

  it('refuses an unknown BULWARK_ environment variable, listing the known ones', () => {
    const message = failure({ BULWARK_PROT: '1', BULWARK_SERVER: 'https://x', BULWARK_CA: '/ca' });
    assert.match(message, /environment variable BULWARK_PROT is not known/);
    assert.match(message, /BULWARK_PORT/);
    assert.match(message, /BULWARK_DATA_DIR/);
    assert.doesNotMatch(message, /BULWARK_SERVER[^_]/);
    assert.equal(message.split('\n').length, 1);
  });

  it('refuses BULWARK_PORT=abc, naming the variable', () => {
    const message = failure({ BULWARK_PORT: 'abc' });
    assert.match(message, /^environment variable BULWARK_PORT: expected an integer/);
  });

  it('names the environment variable when its value fails the schema', () => {
    const message = failure({
      BULWARK_PORT: '70000',
      BULWARK_LOG_LEVEL: 'loud',
      BULWARK_METRICS: 'yes',
    });
    assert.match(
      message,
      /environment variable BULWARK_PORT \(listen\.port\): expected an integer/,
    );
    assert.match(message, /environment variable BULWARK_LOG_LEVEL \(log\.level\): expected one of/);
    assert.match(message, /environment variable BULWARK_METRICS: expected 'true' or 'false'/);
  });

  it('refuses certFile without keyFile', () => {
    write('bulwark.config.json', '{ "tls": { "certFile": "server.pem" } }');
    const message = failure();
    assert.match(message, /tls\.certFile: set without tls\.keyFile; give both/);
    rmSync(join(dir, 'bulwark.config.json'));
    const fromEnv = failure({ BULWARK_TLS_KEY_FILE: 'k.pem' });
    assert.match(fromEnv, /environment variable BULWARK_TLS_KEY_FILE \(tls\.keyFile\)/);
  });

  it('refuses two config files, naming both', () => {
    write('bulwark.config.json', '{}');
    write('bulwark.config.yaml', '{}');
    const message = failure();
    assert.match(message, /more than one config file/);
    assert.match(message, /bulwark\.config\.json/);
    assert.match(message, /bulwark\.config\.yaml/);
  });

  it('refuses a missing explicit file', () => {
    assert.match(failure({}, 'nope.json'), /nope\.json .*does not exist/);
    assert.match(
      failure({ BULWARK_CONFIG: 'gone.yaml' }),
      /gone\.yaml \(from environment variable BULWARK_CONFIG\)/,
    );
  });

  it('names the file and line of a YAML syntax error', () => {
    const path = write('bulwark.config.yaml', 'listen:\n  port: 8443\n   host: [\n');
    const message = failure();
    assert.ok(message.includes(path), message);
    assert.match(message, /invalid YAML at line \d+, column \d+/);
  });

  it('names the file and line of a JSON syntax error', () => {
    const path = write('bulwark.config.json', '{\n  "listen": {\n    "port": 8443,\n  }\n}\n');
    const message = failure();
    assert.ok(message.includes(path), message);
    assert.match(message, /invalid JSON at line 4, column 3/);
  });

  it('treats an empty YAML file as no settings', () => {
    write('bulwark.config.yaml', '# nothing yet\n');
    assert.equal(loadConfig({ cwd: dir, env: {} }).config.listen.port, 8443);
  });

  it('never shows the database password', () => {
    const secret = 'hunter2-s3cret';
    // A syntax error on the line holding the URL: parsers like to quote it.
    write('bulwark.config.json', `{"database": {"url": "postgres://bulwark:${secret}@db/x"} oops}`);
    assert.ok(!failure().includes(secret));
    rmSync(join(dir, 'bulwark.config.json'));
    write(
      'bulwark.config.yaml',
      `database:\n  url: postgres://bulwark:${secret}@db/x\n    bad: [\n`,
    );
    assert.ok(!failure().includes(secret));
    // A URL that fails validation is not echoed either.
    assert.ok(!failure({ DATABASE_URL: `mysql://bulwark:${secret}@db/x` }).includes(secret));
    assert.ok(!new ConfigError([`see postgres://u:${secret}@h/db`]).message.includes(secret));
  });
});

describe('redactDatabaseUrl', () => {
  it('hides the password and keeps the rest', () => {
    assert.equal(
      redactDatabaseUrl('postgres://user:pw@host:5432/db'),
      'postgres://user:***@host:5432/db',
    );
    assert.equal(
      redactDatabaseUrl('postgresql://user:p@ss/w@host/db?sslmode=require&password=x'),
      'postgresql://user:***@host/db?sslmode=require&password=***',
    );
    assert.equal(redactDatabaseUrl('postgres://user@host/db'), 'postgres://user@host/db');
    assert.equal(redactDatabaseUrl('postgresql:///db'), 'postgresql:///db');
  });
});
