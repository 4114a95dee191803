/**
 * Real DNS clients for the tests: `dig` (bind9-dnsutils) for UDP and TCP,
 * `kdig` (knot-dnsutils) for DNS over TLS and HTTPS. Output is parsed into
 * the few facts tests assert on.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface DigAnswer {
  status: string;
  flags: string[];
  answers: { name: string; ttl: number; type: string; data: string }[];
  authority: { name: string; ttl: number; type: string; data: string }[];
  /** Padding size kdig reports (EDNS padding, RFC 7830), null when none. */
  padding: number | null;
  /** Extended DNS Error text, when one came back. */
  ede: string | null;
  raw: string;
}

export async function dig(server: string, port: number, args: string[]): Promise<DigAnswer> {
  const { stdout } = await run(
    'dig',
    [`@${server}`, '-p', String(port), '+time=3', '+tries=1', ...args],
    {
      timeout: 20_000,
    },
  );
  return parseDig(stdout);
}

export async function kdig(server: string, port: number, args: string[]): Promise<DigAnswer> {
  const { stdout } = await run(
    'kdig',
    [`@${server}`, '-p', String(port), '+time=3', '+retry=0', ...args],
    {
      timeout: 20_000,
    },
  );
  return parseDig(stdout);
}

export function parseDig(text: string): DigAnswer {
  const status = /status:\s*([A-Z]+)/i.exec(text)?.[1]?.toUpperCase() ?? 'NONE';
  const flags = (/;;\s*flags:\s*([a-z ]*);/i.exec(text)?.[1] ?? '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  const section = (title: string) => {
    const start = text.search(new RegExp(`;; ${title} SECTION:`, 'i'));
    if (start < 0) return [];
    const lines = text.slice(start).split('\n').slice(1);
    const out: DigAnswer['answers'] = [];
    for (const line of lines) {
      if (line.trim() === '' || line.startsWith(';;')) break;
      const m = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
      if (m)
        out.push({
          name: m[1] ?? '',
          ttl: Number(m[2]),
          type: m[3] ?? '',
          data: (m[4] ?? '').trim(),
        });
    }
    return out;
  };
  const padding = /PADDING:\s*(\d+)\s*B/i.exec(text)?.[1];
  const ede = /EDE:\s*(.*)$/im.exec(text)?.[1] ?? null;
  return {
    status,
    flags,
    answers: section('ANSWER'),
    authority: section('AUTHORITY'),
    padding: padding === undefined ? null : Number(padding),
    ede,
    raw: text,
  };
}
