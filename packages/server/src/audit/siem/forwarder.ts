import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname as osHostname } from 'node:os';
import { connect, createSecureContext, type TLSSocket } from 'node:tls';
import type { Kysely } from 'kysely';
import type { SiemSinkConfig } from '../../config/schema.ts';
import type { Tables } from '../../storage/schema.ts';
import { formatEntry, frameOctetCounting, type LedgerRecord } from './format.ts';

/**
 * Streams the audit ledger to a SIEM as RFC 5424 syslog over TLS (RFC 5425,
 * octet-counting framing), one message per entry, in ledger order.
 *
 * A reader only: it polls `audit_entries` after its cursor and never takes
 * part in an append, so a SIEM that is slow, down or refusing us cannot
 * block or fail a change. The cursor — the last seq written to the TLS
 * connection and flushed to the operating system — is kept in
 * `bulwark_meta` under `siem.cursor.<sinkId>`, in the same database as the
 * ledger (a restored backup brings its own cursor back).
 *
 * At least once: the cursor advances only after the bytes were flushed.
 * Syslog over TLS has no acknowledgements, and a flush only hands the bytes
 * to the operating system, so when a connection breaks the entries flushed
 * in the last `resendWindowMs` are sent again (and the cursor moved back to
 * before them until they are). The SIEM may therefore see an entry twice
 * after a reconnect; `seq` identifies it.
 */

export interface SiemLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface SiemEntrySource {
  /** Entries with seq ≥ `from`, in order, at most `limit`. */
  read(from: number, limit: number): Promise<LedgerRecord[]>;
  /** The number of entries in the ledger (max seq + 1). */
  size(): Promise<number>;
}

export interface SiemCursorStore {
  /** The last seq delivered, or null when nothing was yet. */
  load(): Promise<number | null>;
  /** null: nothing counts as delivered (a resend from the first entry). */
  save(seq: number | null): Promise<void>;
}

export interface SiemForwarderStatus {
  sinkId: string;
  url: string;
  connected: boolean;
  /** The last seq written and flushed to the SIEM (the persisted cursor); null before the first. */
  lastSentSeq: number | null;
  /** Entries in the ledger not yet sent (as of the last poll). */
  lag: number;
  lastError: string | null;
  lastErrorAt: string | null;
}

export interface SiemForwarderOptions {
  sink: SiemSinkConfig;
  source: SiemEntrySource;
  cursor: SiemCursorStore;
  logger: SiemLogger;
  /** How often to look for new entries while idle; default 1 s. */
  pollIntervalMs?: number;
  /** Reconnect delays: doubled from `initialMs` up to `maxMs`; default 500 ms … 30 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** Entries per read and write; default 200. */
  batchSize?: number;
  /** After a broken connection, entries flushed this recently are sent again; default 10 s. */
  resendWindowMs?: number;
  /** TLS handshake deadline; default 10 s. */
  connectTimeoutMs?: number;
}

/**
 * Start-up check of a sink's files: readable, the CA file holds PEM
 * certificates, and the client certificate and key (if any) belong together.
 */
export function checkSiemSinkFiles(sink: SiemSinkConfig): void {
  const read = (file: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(`audit.siem ${sink.id}: cannot read ${file} (${e.code ?? e.message})`);
    }
  };
  const files = tlsMaterial(sink, read);
  const certificates =
    files.ca
      .toString('utf8')
      .match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  try {
    if (certificates.length === 0) throw new Error('no PEM certificate in it');
    for (const pem of certificates) new X509Certificate(pem);
  } catch (err) {
    throw new Error(
      `audit.siem ${sink.id}: the CA file ${sink.caFile} is not usable (${(err as Error).message})`,
    );
  }
  if (files.cert !== undefined && files.key !== undefined) {
    try {
      createSecureContext({ cert: files.cert, key: files.key });
    } catch (err) {
      throw new Error(
        `audit.siem ${sink.id}: certFile and keyFile are not a usable certificate and its key (${(err as Error).message})`,
      );
    }
  }
}

export class SiemForwarder {
  readonly #sink: SiemSinkConfig;
  readonly #source: SiemEntrySource;
  readonly #cursor: SiemCursorStore;
  readonly #logger: SiemLogger;
  readonly #pollMs: number;
  readonly #backoff: { initialMs: number; maxMs: number };
  readonly #batch: number;
  readonly #resendMs: number;
  readonly #connectTimeoutMs: number;
  readonly #hostname: string;

  #socket: TLSSocket | null = null;
  #connecting: TLSSocket | null = null;
  /** The next seq to send; null until the cursor is loaded. */
  #next: number | null = null;
  /** The highest seq flushed so far (status). */
  #lastSent: number | null = null;
  /** What the cursor store holds. */
  #persisted: number | null = null;
  /** A broken connection moved `#next` back; the stored cursor follows at the next round. */
  #rewound = false;
  #ledgerSize = 0;
  /** Writes flushed lately (first seq, when), for the resend after a broken connection. */
  #recent: { seq: number; at: number }[] = [];
  #lastError: string | null = null;
  #lastErrorAt: Date | null = null;
  #failing = false;

  #loop: Promise<void> | null = null;
  #stopping = false;
  #drainUntil = 0;
  #wake: (() => void) | null = null;

  constructor(opts: SiemForwarderOptions) {
    this.#sink = opts.sink;
    this.#source = opts.source;
    this.#cursor = opts.cursor;
    this.#logger = opts.logger;
    this.#pollMs = opts.pollIntervalMs ?? 1000;
    this.#backoff = opts.backoff ?? { initialMs: 500, maxMs: 30_000 };
    this.#batch = opts.batchSize ?? 200;
    this.#resendMs = opts.resendWindowMs ?? 10_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.#hostname = opts.sink.hostname ?? osHostname();
  }

  get sinkId(): string {
    return this.#sink.id;
  }

  start(): void {
    if (this.#loop || this.#stopping) return;
    this.#loop = this.#run();
  }

  status(): SiemForwarderStatus {
    const sent = this.#lastSent === null ? 0 : this.#lastSent + 1;
    return {
      sinkId: this.#sink.id,
      url: this.#sink.url,
      connected: this.#socket !== null,
      lastSentSeq: this.#lastSent,
      lag: Math.max(0, this.#ledgerSize - sent),
      lastError: this.#lastError,
      lastErrorAt: this.#lastErrorAt?.toISOString() ?? null,
    };
  }

  /**
   * Stops: while connected, first sends what is still pending (the seal's
   * own entry, say) for at most `drainMs`; then closes the connection.
   * Storage is not touched once this resolves.
   */
  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#drainUntil = Date.now() + (opts.drainMs ?? 2000);
      // Not connected: nothing to drain, and no new connection for it.
      if (this.#socket === null) this.#connecting?.destroy();
      this.#wake?.();
    }
    const loop = this.#loop;
    if (loop) {
      const deadline = setTimeout(
        () => {
          // A write the SIEM does not take, or a stalled handshake: give up on it.
          this.#socket?.destroy();
          this.#connecting?.destroy();
        },
        Math.max(0, this.#drainUntil - Date.now()),
      );
      try {
        await loop;
      } finally {
        clearTimeout(deadline);
      }
    }
    await this.#closeSocket();
  }

  async #run(): Promise<void> {
    let delay = this.#backoff.initialMs;
    for (;;) {
      if (this.#stopping && (this.#socket === null || Date.now() >= this.#drainUntil)) return;
      try {
        const sent = await this.#step();
        if (this.#failing) {
          this.#failing = false;
          this.#logger.info({ sink: this.#sink.id }, 'SIEM stream resumed');
        }
        delay = this.#backoff.initialMs;
        if (!sent) {
          if (this.#stopping) return;
          await this.#sleep(this.#pollMs);
        }
      } catch (err) {
        this.#recordError(err);
        // A database error leaves a healthy connection as it is.
        if (this.#socket?.destroyed || this.#socket?.writable === false) this.#dropSocket();
        if (this.#stopping) return;
        await this.#sleep(delay);
        delay = Math.min(delay * 2, this.#backoff.maxMs);
      }
    }
  }

  /** One round: connect if needed, send the next batch. True when something was sent. */
  async #step(): Promise<boolean> {
    if (this.#next === null) {
      const cursor = await this.#cursor.load();
      this.#lastSent = cursor;
      this.#persisted = cursor;
      this.#next = cursor === null ? 0 : cursor + 1;
    }
    if (this.#rewound) {
      // Kept, so a seal or crash before the resend does not lose them either.
      const back = this.#next === 0 ? null : this.#next - 1;
      await this.#cursor.save(back);
      this.#persisted = back;
      this.#rewound = false;
    }
    // The size first: the lag is right while the SIEM is unreachable too.
    this.#ledgerSize = await this.#source.size();
    const socket = this.#socket ?? (await this.#connect());
    const rows = await this.#source.read(this.#next, this.#batch);
    if (rows.length === 0) return false;
    const frames = rows.map((row) =>
      frameOctetCounting(
        formatEntry(row, { hostname: this.#hostname, enterpriseId: this.#sink.enterpriseId }),
      ),
    );
    await writeFlushed(socket, Buffer.concat(frames));
    const now = Date.now();
    this.#recent = this.#recent.filter((r) => now - r.at <= this.#resendMs);
    this.#recent.push({ seq: rows[0]?.seq ?? this.#next, at: now });
    const last = rows[rows.length - 1]?.seq ?? this.#next;
    this.#next = last + 1;
    if (this.#persisted === null || last > this.#persisted) {
      await this.#cursor.save(last);
      this.#persisted = last;
    }
    if (this.#lastSent === null || last > this.#lastSent) this.#lastSent = last;
    return true;
  }

  async #connect(): Promise<TLSSocket> {
    const files = tlsMaterial(this.#sink, (path) => readFile(path));
    const [ca, cert, key] = await Promise.all([files.ca, files.cert, files.key]);
    const options = {
      host: this.#sink.host,
      port: this.#sink.port,
      // SNI only for names; the certificate is checked against the host either way.
      ...(isIP(this.#sink.host) === 0 ? { servername: this.#sink.host } : {}),
      // Only this CA: the system's are not trusted for the SIEM.
      ca,
      ...(cert !== undefined && key !== undefined ? { cert, key } : {}),
      minVersion: 'TLSv1.2' as const,
      rejectUnauthorized: true,
    };
    const socket = connect(options);
    this.#connecting = socket;
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.destroy(new Error(`TLS handshake not done after ${this.#connectTimeoutMs} ms`));
        }, this.#connectTimeoutMs);
        socket.once('secureConnect', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        socket.once('close', () => {
          clearTimeout(timer);
          reject(new Error('connection closed during the TLS handshake'));
        });
      });
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      this.#connecting = null;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    // A syslog receiver sends nothing; read (and drop) anything so an end is seen.
    socket.on('data', () => {});
    socket.on('error', (err) => this.#recordError(err));
    socket.once('close', () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#rewindAfterBreak();
    });
    this.#socket = socket;
    this.#logger.info(
      { sink: this.#sink.id, url: this.#sink.url, protocol: socket.getProtocol() },
      'connected to the SIEM',
    );
    return socket;
  }

  /** The connection broke: what was flushed lately may not have reached the SIEM; send it again. */
  #rewindAfterBreak(): void {
    const now = Date.now();
    const first = this.#recent.find((r) => now - r.at <= this.#resendMs);
    this.#recent = [];
    if (first && this.#next !== null && first.seq < this.#next) {
      this.#next = first.seq;
      this.#rewound = true;
    }
  }

  #dropSocket(): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    this.#rewindAfterBreak();
    socket.destroy();
  }

  async #closeSocket(): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = null;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        socket.destroy();
        resolve();
      }, 1000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.end();
    });
  }

  #recordError(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    const repeated = this.#failing && message === this.#lastError;
    this.#lastError = message;
    this.#lastErrorAt = new Date();
    this.#failing = true;
    // Once per failure streak and per new reason: a SIEM down for an hour is not a log flood.
    if (!repeated) {
      this.#logger.warn(
        { err, sink: this.#sink.id, url: this.#sink.url, lastSentSeq: this.#lastSent },
        'SIEM stream interrupted; retrying with backoff',
      );
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      timer.unref();
      this.#wake = done;
    });
  }
}

/**
 * Resolves once the bytes are handed to the operating system (the write
 * callback); rejects when the connection fails first.
 */
function writeFlushed(socket: TLSSocket, bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed || !socket.writable) {
      reject(new Error('the connection to the SIEM is closed'));
      return;
    }
    const onClose = () => reject(new Error('the connection to the SIEM closed during a write'));
    socket.once('close', onClose);
    socket.write(bytes, (err) => {
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

/** The PEM files, read fresh at each connection so a rotated certificate is picked up. */
function tlsMaterial<T>(
  sink: SiemSinkConfig,
  read: (path: string) => T,
): { ca: T; cert?: T; key?: T } {
  return {
    ca: read(sink.caFile),
    ...(sink.certFile !== undefined ? { cert: read(sink.certFile) } : {}),
    ...(sink.keyFile !== undefined ? { key: read(sink.keyFile) } : {}),
  };
}

/** Entries straight from `audit_entries`: the stored canonical text and leaf hash, unparsed. */
export function storageEntrySource(db: Kysely<Tables>): SiemEntrySource {
  return {
    async read(from, limit) {
      const rows = await db
        .selectFrom('audit_entries')
        .select(['seq', 'entry', 'leaf_hash'])
        .where('seq', '>=', from)
        .orderBy('seq')
        .limit(limit)
        .execute();
      return rows.map((r) => ({ seq: Number(r.seq), text: r.entry, leafHash: r.leaf_hash }));
    },
    async size() {
      const row = await db
        .selectFrom('audit_entries')
        .select((eb) => eb.fn.max('seq').as('m'))
        .executeTakeFirst();
      return row?.m === null || row?.m === undefined ? 0 : Number(row.m) + 1;
    },
  };
}

/** The cursor in `bulwark_meta`, key `siem.cursor.<sinkId>`. */
export function metaCursorStore(db: Kysely<Tables>, sinkId: string): SiemCursorStore {
  const key = `siem.cursor.${sinkId}`;
  return {
    async load() {
      const row = await db
        .selectFrom('bulwark_meta')
        .select('value')
        .where('key', '=', key)
        .executeTakeFirst();
      if (row === undefined) return null;
      const seq = Number(row.value);
      return Number.isSafeInteger(seq) && seq >= 0 ? seq : null;
    },
    async save(seq) {
      if (seq === null) {
        await db.deleteFrom('bulwark_meta').where('key', '=', key).execute();
        return;
      }
      await db
        .insertInto('bulwark_meta')
        .values({ key, value: String(seq) })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: String(seq) }))
        .execute();
    },
  };
}

/** One forwarder per configured sink over the open storage: what server.ts starts at unseal and stops at seal. */
export function startSiemForwarders(opts: {
  sinks: readonly SiemSinkConfig[];
  db: Kysely<Tables>;
  logger: SiemLogger;
}): { status(): SiemForwarderStatus[]; stop(): Promise<void> } {
  const source = storageEntrySource(opts.db);
  const forwarders = opts.sinks.map(
    (sink) =>
      new SiemForwarder({
        sink,
        source,
        cursor: metaCursorStore(opts.db, sink.id),
        logger: opts.logger,
      }),
  );
  for (const f of forwarders) f.start();
  return {
    status: () => forwarders.map((f) => f.status()),
    stop: async () => {
      await Promise.all(forwarders.map((f) => f.stop()));
    },
  };
}
