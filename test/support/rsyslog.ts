/**
 * A real rsyslog receiving syslog over TLS (RFC 5425) for the SIEM tests, in
 * a temporary directory of its own: its own rsyslog.conf, imtcp with the
 * GnuTLS stream driver (rsyslog-gnutls), a throwaway CA, and every message
 * received written with RSYSLOG_SyslogProtocol23Format (the RFC 5424 line
 * as sent) to one file. Runs in the foreground (-n) on a free loopback
 * port, never the Debian package's own instance or configuration. Under
 * CI=true a missing rsyslogd (or its GnuTLS driver) fails the test;
 * elsewhere it skips.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { makeTestPki, type TestPki } from './pki.ts';
import { freePorts } from './ports.ts';

const _run = promisify(execFile);

export const RSYSLOGD_BIN = process.env.TEST_RSYSLOGD_PATH ?? '/usr/sbin/rsyslogd';

export interface Rsyslog {
  dir: string;
  port: number;
  /** tls://127.0.0.1:port, for audit.siem[].url. */
  url: string;
  /** The CA that issued rsyslog's certificate and the client certificate. */
  pki: TestPki;
  /** Where every message received goes, one line each. */
  outputFile: string;
  /** The lines received so far (across restarts). */
  lines(): string[];
  /** Polls the output until `done(lines)` holds; throws with what was there after `timeoutMs`. */
  waitFor(done: (lines: string[]) => boolean, timeoutMs?: number): Promise<string[]>;
  /** SIGTERM and wait for exit (idempotent). */
  stop(): Promise<void>;
  /** Starts it again: same port, configuration and output file. */
  start(): Promise<void>;
}

export type RsyslogAuthMode = 'anon' | 'x509/certvalid';

/** Whether rsyslogd and its GnuTLS network stream driver are installed. */
function missingRsyslog(): string | null {
  if (!existsSync(RSYSLOGD_BIN)) {
    return `rsyslogd not found at ${RSYSLOGD_BIN} (Debian packages rsyslog and rsyslog-gnutls)`;
  }
  const libDirs = ['/usr/lib', ...readdirSafe('/usr/lib').map((d) => join('/usr/lib', d))];
  if (!libDirs.some((d) => existsSync(join(d, 'rsyslog', 'lmnsd_gtls.so')))) {
    return 'the rsyslog GnuTLS driver lmnsd_gtls.so is missing (Debian package rsyslog-gnutls)';
  }
  return null;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * null when skipped (no rsyslog outside CI). `authMode` x509/certvalid
 * makes rsyslog demand a client certificate from the test CA (mutual TLS).
 */
export async function startRsyslog(
  t: TestContext,
  opts: { authMode?: RsyslogAuthMode } = {},
): Promise<Rsyslog | null> {
  const missing = missingRsyslog();
  if (missing !== null) {
    if (process.env.CI === 'true') throw new Error(`rsyslog is required under CI=true: ${missing}`);
    t.skip(missing);
    return null;
  }
  // Not tempDir(): rsyslog must be stopped before its directory is removed.
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-rsyslog-'));
  let stopCurrent = async () => {};
  t.after(async () => {
    await stopCurrent();
    rmSync(dir, { recursive: true, force: true });
  });
  const pki = await makeTestPki(join(dir, 'pki'), 'Bulwark test SIEM CA');
  const workDir = join(dir, 'work');
  mkdirSync(workDir);
  const outputFile = join(dir, 'received.log');
  const [port = 0] = await freePorts(1);
  const conf = join(dir, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      'global(',
      `  workDirectory="${workDir}"`,
      '  maxMessageSize="64k"',
      `  defaultNetstreamDriverCAFile="${pki.caFile}"`,
      `  defaultNetstreamDriverCertFile="${pki.serverCertFile}"`,
      `  defaultNetstreamDriverKeyFile="${pki.serverKeyFile}"`,
      ')',
      `module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="${opts.authMode ?? 'anon'}")`,
      // Only what arrives over TLS reaches the file; rsyslog's own messages go nowhere.
      `input(type="imtcp" address="127.0.0.1" port="${port}" ruleset="siem")`,
      'ruleset(name="siem") {',
      `  action(type="omfile" file="${outputFile}" template="RSYSLOG_SyslogProtocol23Format")`,
      '}',
      '',
    ].join('\n'),
  );

  const start = async () => {
    let stderr = '';
    const child: ChildProcess = spawn(
      RSYSLOGD_BIN,
      ['-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (c: Buffer) => {
      stderr = (stderr + c.toString('utf8')).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let stopped = false;
    stopCurrent = async () => {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
    };
    try {
      await waitForPort(port, child, () => stderr);
    } catch (err) {
      await stopCurrent();
      throw err;
    }
  };
  await start();

  const lines = () =>
    existsSync(outputFile)
      ? readFileSync(outputFile, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : [];
  return {
    dir,
    port,
    url: `tls://127.0.0.1:${port}`,
    pki,
    outputFile,
    lines,
    async waitFor(done, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const now = lines();
        if (done(now)) return now;
        if (Date.now() > deadline) {
          throw new Error(`rsyslog did not receive what was expected; it has:\n${now.join('\n')}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop: () => stopCurrent(),
    start,
  };
}

async function waitForPort(port: number, child: ChildProcess, output: () => string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`rsyslogd exited (${child.exitCode ?? child.signalCode}): ${output()}`);
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`rsyslogd did not listen on ${port}: ${output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
