/**
 * `npm start`: reads the config, starts the server sealed, and tells the
 * operator in plain words what to do next. Exit codes: 0 after a clean
 * shutdown, 1 for a start-up fault (data directory, port, storage, TLS),
 * 2 for a bad configuration.
 */
import pino from 'pino';
import { ConfigError, loadConfig } from './config/index.ts';
import { BulwarkError } from './errors.ts';
import { StartupError, startServer } from './server.ts';
import { TlsError } from './tls/index.ts';

function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

async function main(): Promise<void> {
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig({
      cwd: process.cwd(),
      env: process.env,
      ...(process.argv[2] ? { configPath: process.argv[2] } : {}),
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      say(`bulwark: the configuration is not valid, so the server did not start:\n${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const { config } = loaded;
  const logger = pino({
    level: config.log.level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.passphrase', '*.share'],
      censor: '[redacted]',
    },
  });

  let handle: Awaited<ReturnType<typeof startServer>>;
  try {
    handle = await startServer(config, { logger });
  } catch (err) {
    if (err instanceof StartupError || err instanceof TlsError || err instanceof BulwarkError) {
      say(`bulwark: cannot start: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await handle
      .close()
      .catch((err: unknown) => logger.error({ err }, 'error while shutting down'));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));

  const status = handle.seal.status();
  const listening = `bulwark ${status.version} listening on ${handle.url} (storage: ${status.storage}, data: ${config.dataDir})`;
  // One write, so a reader never sees "listening" without what to do next.
  if (status.state === 'uninitialized') {
    say(
      [
        listening,
        '',
        'This server is not initialised yet. To create its root key, run in another terminal:',
        '',
        '    npx bulwark init                          # protect it with a passphrase',
        '    npx bulwark init --shares 5 --threshold 3 # or split it among 5 people, any 3 unlock',
        '',
        'The server stays locked until then.',
      ].join('\n'),
    );
  } else {
    say(
      [
        listening,
        '',
        'The server is SEALED: its data stays encrypted until you unseal it. Run:',
        '',
        '    npx bulwark unseal     # asks for the passphrase, or one share per operator in turn',
        '',
      ].join('\n'),
    );
  }
}

await main();
