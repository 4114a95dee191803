import { normalizeName, parentsOf } from '../names.ts';
import type { BlockAnswer } from '../types.ts';
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

interface RuleMaps {
  exact: Map<string, Entry>;
  subtree: Map<string, Entry>;
  wildcard: Map<string, Entry>;
}

const ruleMaps = (): RuleMaps => ({ exact: new Map(), subtree: new Map(), wildcard: new Map() });

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

  get size(): number {
    let n = this.#regex.length;
    for (const maps of [this.#block, this.#allow]) {
      n += maps.exact.size + maps.subtree.size + maps.wildcard.size;
    }
    return n;
  }

  add(rules: Iterable<ListRule>, list: string): void {
    const plain: Entry = { list };
    const byAnswer = new Map<BlockAnswer, Entry>();
    for (const rule of rules) {
      if (rule.match === 'regex') {
        this.#regex.push({ action: rule.action, pattern: rule.pattern, source: rule.source, list });
        continue;
      }
      const maps = rule.action === 'allow' ? this.#allow : this.#block;
      if (maps[rule.match].has(rule.name)) continue;
      let entry = plain;
      if (rule.answer !== undefined) {
        entry = byAnswer.get(rule.answer) ?? { list, answer: rule.answer };
        byAnswer.set(rule.answer, entry);
      }
      maps[rule.match].set(rule.name, entry);
    }
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
    const allowed = this.#find(this.#allow, name);
    if (allowed) return { action: 'allow', rule: allowed };
    const blocked = this.#find(this.#block, name);
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

  #find(maps: RuleMaps, name: string): Verdict['rule'] {
    const exact = maps.exact.get(name) ?? maps.subtree.get(name);
    if (exact) return found(maps.exact.has(name) ? 'exact' : 'subtree', name, exact);
    for (const parent of parentsOf(name)) {
      const under = maps.subtree.get(parent) ?? maps.wildcard.get(parent);
      if (under) return found(maps.subtree.has(parent) ? 'subtree' : 'wildcard', parent, under);
    }
    return null;
  }
}

function found(match: NameMatch, name: string, entry: Entry): NonNullable<Verdict['rule']> {
  return entry.answer === undefined
    ? { match, name, list: entry.list }
    : { match, name, list: entry.list, answer: entry.answer };
}
