/**
 * The Delivery Service's copy of who sits at which leaf, advanced by the
 * rules every member applies to the same commit (RFC 9420 §12.3: removes
 * before adds; §7.7/§12.1.1: an added member takes the leftmost blank
 * leaf, else a new one at the right edge; trailing blank leaves are
 * truncated). Pure, so a test can hold it against the members' real trees.
 */
export function applyRosterChange(
  roster: readonly (string | null)[],
  removedLeaves: readonly number[],
  addedDevices: readonly string[],
): { roster: (string | null)[]; addedAt: Map<string, number> } {
  const next = [...roster];
  for (const leaf of removedLeaves) {
    if (leaf < 0 || leaf >= next.length || next[leaf] === null) {
      throw new RangeError(`leaf ${leaf} is not occupied`);
    }
    next[leaf] = null;
  }
  const addedAt = new Map<string, number>();
  for (const device of addedDevices) {
    const blank = next.indexOf(null);
    const leaf = blank === -1 ? next.length : blank;
    next[leaf] = device;
    addedAt.set(device, leaf);
  }
  while (next.length > 0 && next[next.length - 1] === null) next.pop();
  return { roster: next, addedAt };
}

/** Leaf index of each device in the roster. */
export function leavesOf(roster: readonly (string | null)[]): Map<string, number> {
  const leaves = new Map<string, number>();
  roster.forEach((device, leaf) => {
    if (device !== null) leaves.set(device, leaf);
  });
  return leaves;
}
