import { readFile } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { DomainMatcher } from '../blocklist/matcher.ts';
import { type ListFormat, readListInSlices } from '../blocklist/parse.ts';
import type { BlockAnswer, DnsCategory } from '../types.ts';

/** One block list the operator subscribed to (config `dns.lists`). */
export interface ListSource {
  /** Names the list in logs, statistics and answers' Extended DNS Errors. */
  id: string;
  /** An https:// URL, or a file path. */
  source: string;
  format: ListFormat;
  category: DnsCategory;
  /** How its blocks are answered; unset: the client's policy decides. */
  answer?: BlockAnswer;
  /** How often a URL is fetched again (files are re-read too). */
  refreshMinutes: number;
  /** PEM file of the CA a list server's certificate must chain to (an internal list host); default: the system's. */
  caFile?: string;
}

export interface ListStatus {
  id: string;
  category: DnsCategory;
  rules: number;
  skipped: number;
  samples: { line: number; text: string; reason: string }[];
  loadedAt: string | null;
  /** The last failure; the previous rules keep serving while it lasts. */
  error: string | null;
}

export type ListFetcher = (url: string, signal: AbortSignal, ca?: string) => Promise<string>;

/** 64 MiB: the largest public lists are a tenth of that; more is a mistake or an attack. */
export const maxListBytes = 64 * 1024 * 1024;

/** GET over HTTPS (TLS 1.2+, no redirects: a list moving is the operator's to notice), size-capped. */
const fetchList: ListFetcher = (url, signal, ca) =>
  new Promise<string>((resolve, reject) => {
    const request = httpsGet(
      url,
      { signal, ...(ca ? { ca } : {}), minVersion: 'TLSv1.2' },
      (response) => {
        if (response.statusCode !== 200) {
          response.resume();
          reject(new Error(`HTTP ${response.statusCode}`));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxListBytes) {
            request.destroy(new Error(`larger than ${maxListBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
  });

interface Loaded {
  /** One matcher per list: a refresh swaps one list without keeping any rule twice. */
  matcher: DomainMatcher | null;
  status: ListStatus;
}

/**
 * The subscribed lists, one matcher per category. A list is fetched at start
 * and then on its schedule; a failed fetch keeps the last good copy (a list
 * host being down must not unblock malware), and the category's matcher is
 * built whole and swapped in, so a query never sees half a list.
 */
export class ListRegistry {
  readonly #sources: ListSource[];
  readonly #fetch: ListFetcher;
  readonly #log: (fields: object, msg: string) => void;
  readonly #loaded = new Map<string, Loaded>();
  #byCategory = new Map<DnsCategory, DomainMatcher[]>();
  readonly #timers: NodeJS.Timeout[] = [];

  constructor(opts: {
    sources: ListSource[];
    fetch?: ListFetcher;
    log?: (fields: object, msg: string) => void;
  }) {
    const ids = new Set<string>();
    for (const s of opts.sources) {
      if (ids.has(s.id)) throw new Error(`dns.lists: the id ${s.id} is used twice`);
      ids.add(s.id);
    }
    this.#sources = opts.sources;
    this.#fetch = opts.fetch ?? fetchList;
    this.#log = opts.log ?? (() => {});
  }

  /** Loads every list once (failures are recorded, not thrown), then keeps them fresh. */
  async start(): Promise<void> {
    await Promise.all(this.#sources.map((s) => this.refresh(s.id)));
    for (const source of this.#sources) {
      const timer = setInterval(() => {
        void this.refresh(source.id);
      }, source.refreshMinutes * 60_000);
      timer.unref();
      this.#timers.push(timer);
    }
  }

  stop(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers.length = 0;
  }

  /** Fetches and parses one list; on success its category's matcher is rebuilt. */
  async refresh(id: string): Promise<ListStatus> {
    const source = this.#sources.find((s) => s.id === id);
    if (!source) throw new Error(`no list ${id}`);
    const previous = this.#loaded.get(id);
    try {
      const text = await this.#read(source);
      const matcher = new DomainMatcher();
      let rules = 0;
      const add = matcher.adder(id);
      const parsed = await readListInSlices(text, source.format, (rule) => {
        rules += 1;
        add(rule);
      });
      const status: ListStatus = {
        id,
        category: source.category,
        rules,
        skipped: parsed.skipped,
        samples: parsed.samples,
        loadedAt: new Date().toISOString(),
        error: null,
      };
      this.#loaded.set(id, { matcher, status });
      this.#regroup();
      this.#log({ list: id, rules, skipped: parsed.skipped }, 'DNS block list loaded');
      return status;
    } catch (err) {
      const error = (err as Error).message;
      const status: ListStatus = previous
        ? { ...previous.status, error }
        : {
            id,
            category: source.category,
            rules: 0,
            skipped: 0,
            samples: [],
            loadedAt: null,
            error,
          };
      this.#loaded.set(id, { matcher: previous?.matcher ?? null, status });
      this.#log({ list: id, error }, 'DNS block list could not be loaded; the last copy stays');
      return status;
    }
  }

  /** The loaded lists of a category (allow rules of any of them beat blocks of all). */
  matchers(category: DnsCategory): readonly DomainMatcher[] {
    return this.#byCategory.get(category) ?? [];
  }

  /** The list's own answer mode, when it sets one. */
  answerOf(listId: string): BlockAnswer | undefined {
    return this.#sources.find((s) => s.id === listId)?.answer;
  }

  status(): ListStatus[] {
    return this.#sources.map(
      (s) =>
        this.#loaded.get(s.id)?.status ?? {
          id: s.id,
          category: s.category,
          rules: 0,
          skipped: 0,
          samples: [],
          loadedAt: null,
          error: 'not loaded yet',
        },
    );
  }

  async #read(source: ListSource): Promise<string> {
    if (/^https?:\/\//i.test(source.source)) {
      if (!source.source.toLowerCase().startsWith('https://')) {
        throw new Error('lists are fetched over https only');
      }
      const ca = source.caFile ? await readFile(source.caFile, 'utf8') : undefined;
      return await this.#fetch(source.source, AbortSignal.timeout(60_000), ca);
    }
    const bytes = await readFile(source.source);
    if (bytes.length > maxListBytes) throw new Error(`larger than ${maxListBytes} bytes`);
    return bytes.toString('utf8');
  }

  #regroup(): void {
    const next = new Map<DnsCategory, DomainMatcher[]>();
    for (const s of this.#sources) {
      const matcher = this.#loaded.get(s.id)?.matcher;
      if (!matcher) continue;
      next.set(s.category, [...(next.get(s.category) ?? []), matcher]);
    }
    this.#byCategory = next;
  }
}
