/** Edit distance (Levenshtein) of two short words. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/**
 * The known word closest to a mistyped one (`statsu` → `status`, `--dryrun` →
 * `--dry-run`, `keeep` → `keep`), or null when none is close enough to be a
 * plausible typo: at most a third of the word's letters (and at least 2) differ.
 */
export function closest(word: string, known: Iterable<string>): string | null {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, "");
  let best: string | null = null;
  let bestD = Infinity;
  for (const k of known) {
    const d = norm(k) === norm(word) ? 0.5 : distance(word.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && best !== word && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}
