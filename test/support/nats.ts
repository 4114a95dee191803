import { connect as connectTcp } from 'node:net';
import type { TestContext } from 'node:test';

export const testNatsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

let reachable: Promise<string | null> | null = null;

/** null when a NATS server answers with its INFO line, else why not. */
function probe(): Promise<string | null> {
  reachable ??= new Promise((resolve) => {
    const url = new URL(testNatsUrl);
    const socket = connectTcp({ host: url.hostname, port: Number(url.port || 4222) });
    let seen = '';
    const done = (problem: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(problem);
    };
    const timer = setTimeout(() => done('no answer within 5 s'), 5000);
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      seen += text;
      if (seen.includes('\r\n')) done(seen.startsWith('INFO ') ? null : 'not a NATS server');
    });
    socket.on('error', (err) => done(err.message));
  });
  return reachable;
}

/**
 * The NATS URL for a test. Under CI=true a missing NATS fails the test;
 * elsewhere it is skipped with the reason (like postgresSchema).
 */
export async function natsUrl(t: TestContext): Promise<string | null> {
  const problem = await probe();
  if (problem) {
    if (process.env.CI === 'true') {
      throw new Error(`NATS is required under CI=true but ${testNatsUrl} failed: ${problem}`);
    }
    t.skip(`NATS not reachable at ${testNatsUrl}: ${problem}`);
    return null;
  }
  return testNatsUrl;
}
