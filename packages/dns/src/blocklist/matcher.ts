import { normalizeName } from '../names.ts';
import type { BlockAnswer } from '../types.ts';
import { NameHashSet, newSuffixes, type Suffixes, suffixesOf } from './name-set.ts';
import type { ListRule, NameMatch } from './parse.ts';

export interface Verdict {
  action: 'block' | 'allow' | 'none';
  /** The rule that decided, for the query log and the statistics. */
  rule: { match: NameMatch | 'regex'; name: string; list: string; answer?: BlockAnswer } | null;
}

/** Shared by every rule of one list with one answer: a million rules, a handful of objects. */
interface Entry {
  list: string;
  answer?: BlockAnswer;
}

/**
 * Names of the first list's plain rules sit in a fingerprint set
 * (name-set.ts: 16–32 bytes a name, no strings); rules of other lists, or
 * with their own answer, in the Map beside it (few: custom rules, RPZ).
 */
interface RuleTable {
  primary: NameHashSet;
  others: Map<string, Entry>;
}

interface RuleMaps {
  exact: RuleTable;
  subtree: RuleTable;
  wildcard: RuleTable;
}

const table = (): RuleTable => ({ primary: new NameHashSet(), others: new Map() });
const ruleMaps = (): RuleMaps => ({ exact: table(), subtree: table(), wildcard: table() });

/**
 * Answers "is this name blocked?" against every loaded list in O(labels):
 * exact, subtree and wildcard rules live in hash maps keyed by name, so a
 * lookup costs one probe per label of the query, whatever the number of
 * rules (a million blocked domains is the target). Allow rules win
 * over block rules wherever they sit (Adblock `@@` exceptions, RPZ
 * passthru, the operator's allow list); regular expressions are tried
 * last, and only when no name rule decided.
 */
export class DomainMatcher {
  readonly #block = ruleMaps();
  readonly #allow = ruleMaps();
  readonly #regex: { action: 'block' | 'allow'; pattern: RegExp; source: string; list: string }[] =
    [];

  #primary: Entry | null = null;

  get size(): number {
    let n = this.#regex.length;
    for (const maps of [this.#block, this.#allow]) {
      for (const t of [maps.exact, maps.subtree, maps.wildcard])
        n += t.primary.size + t.others.size;
    }
    return n;
  }

  add(rules: Iterable<ListRule>, list: string): void {
    const add = this.adder(list);
    for (const rule of rules) add(rule);
  }

  /** Adds one list's rules one at a time (streamed from the parser: see readList). */
  adder(list: string): (rule: ListRule) => void {
    const plain: Entry = { list };
    if (this.#primary === null) this.#primary = plain;
    const byAnswer = new Map<BlockAnswer, Entry>();
    return (rule) => {
      if (rule.match === 'regex') {
        this.#regex.push({ action: rule.action, pattern: rule.pattern, source: rule.source, list });
        return;
      }
      const t = (rule.action === 'allow' ? this.#allow : this.#block)[rule.match];
      if (t.others.has(rule.name) || t.primary.has(rule.name)) return;
      let entry = plain;
      if (rule.answer !== undefined) {
        entry = byAnswer.get(rule.answer) ?? { list, answer: rule.answer };
        byAnswer.set(rule.answer, entry);
      }
      if (entry === this.#primary) t.primary.add(rule.name);
      else t.others.set(rule.name, entry);
    };
  }

  /** The entry for suffix k of the name whose suffixes were computed. */
  #get(t: RuleTable, name: string, s: Suffixes, k: number): Entry | undefined {
    if (t.primary.hasFingerprint(s.h1[k] ?? 0, s.h2[k] ?? 0)) return this.#primary ?? undefined;
    if (t.others.size === 0) return undefined;
    return t.others.get(k === 0 ? name : name.slice(s.start[k] ?? 0));
  }

  /** The verdict for a query name; a name that is not a valid domain name is never matched. */
  check(query: string): Verdict {
    const name = normalizeName(query);
    if (name === null) return { action: 'none', rule: null };
    return this.checkLowerCase(name);
  }

  /**
   * The resolver's entry: the name as read off the wire, already lower case
   * without the trailing dot. A name that is not a valid domain simply
   * matches no name rule, so the normalisation above is not needed per query.
   */
  checkLowerCase(name: string): Verdict {
    if (name === '') return { action: 'none', rule: null };
    const suffixes = suffixesOf(name, this.#suffixes);
    const allowed = this.#find(this.#allow, name, suffixes);
    if (allowed) return { action: 'allow', rule: allowed };
    const blocked = this.#find(this.#block, name, suffixes);
    if (blocked) return { action: 'block', rule: blocked };
    for (const r of this.#regex) {
      if (r.action === 'allow' && r.pattern.test(name)) {
        return { action: 'allow', rule: { match: 'regex', name: r.source, list: r.list } };
      }
    }
    for (const r of this.#regex) {
      if (r.action === 'block' && r.pattern.test(name)) {
        return { action: 'block', rule: { match: 'regex', name: r.source, list: r.list } };
      }
    }
    return { action: 'none', rule: null };
  }

  #find(maps: RuleMaps, name: string, s: Suffixes): Verdict['rule'] {
    const exact = this.#get(maps.exact, name, s, 0);
    if (exact) return found('exact', name, exact);
    const whole = this.#get(maps.subtree, name, s, 0);
    if (whole) return found('subtree', name, whole);
    for (let k = 1; k < s.count; k++) {
      const subtree = this.#get(maps.subtree, name, s, k);
      if (subtree) return found('subtree', name.slice(s.start[k] ?? 0), subtree);
      const wildcard = this.#get(maps.wildcard, name, s, k);
      if (wildcard) return found('wildcard', name.slice(s.start[k] ?? 0), wildcard);
    }
    return null;
  }

  readonly #suffixes = newSuffixes();
}

function found(match: NameMatch, name: string, entry: Entry): NonNullable<Verdict['rule']> {
  return entry.answer === undefined
    ? { match, name, list: entry.list }
    : { match, name, list: entry.list, answer: entry.answer };
}
