import path from "node:path";
import type { Installation } from "../install/installation.js";
import type { Manifest } from "../store/manifest.js";
import { snapshotPaths } from "../store/paths.js";
import { planMove } from "../txn/transaction.js";
import { rel, type Move } from "../txn/journal.js";
import { identify } from "../txn/fs-ops.js";
import { mkdirp } from "../util/owner.js";
import { listNames } from "../util/fsx.js";

/**
 * Three moves per entry, so that no rename ever lands on an occupied name:
 * live X -> <snap>/.swap/X, <snap>/previous/X -> X, then <snap>/.swap/X ->
 * <snap>/previous/X. user/ the same way with <snap>/user, only with --with-user. Cache contents go
 * to <snap>/.cleared/ (they belong to the other release) and are deleted at
 * the end.
 */
export async function planSwap(inst: Installation, m: Manifest, o: { withUser: boolean }): Promise<Move[]> {
  const sp = snapshotPaths(inst, m.id);
  const names = new Set([...m.core, ...(await listNames(sp.previous))]);
  const pairs: [live: string, stored: string, parked: string][] = [...names].sort().map((n) => [n, `${sp.rel.previous}/${n}`, `${sp.rel.swap}/${n}`]);
  // user/ stays live unless asked (--with-user): content written since the upgrade is never hidden.
  if (o.withUser) pairs.push([rel(inst, inst.paths.user), sp.rel.user, sp.rel.swapUser]);
  await mkdirp(sp.swap);

  const first: Move[] = [];
  const last: Move[] = [];
  for (const [live, stored, parked] of pairs) {
    const out = await planMove(inst, live, parked);
    const inn = await planMove(inst, stored, live);
    if (out) first.push(out);
    if (inn) first.push(inn);
    if (out) last.push({ ...out, from: parked, to: stored });
  }
  // The recovery flag lives inside a core folder by default (system/): it
  // describes the site, not a release, so it stays live across the swap.
  const flag = rel(inst, inst.paths.recoveryFlag);
  const flagId = names.has(flag.split("/")[0]!) ? await identify(inst.paths.recoveryFlag) : null;
  if (flagId) first.push({ from: `${sp.rel.swap}/${flag}`, to: flag, ...flagId });
  const cleared: Move[] = [];
  for (const c of inst.config.clearOnPromote) {
    if (names.has(c.split("/")[0]!)) continue;
    const names2 = await listNames(path.join(inst.root, c)).catch(() => [] as string[]);
    if (names2.length) await mkdirp(path.join(sp.swapCleared, c));
    for (const n of names2) {
      const mv = await planMove(inst, `${c}/${n}`, `${sp.rel.swapCleared}/${c}/${n}`, true);
      if (mv) cleared.push(mv);
    }
  }
  return [...first, ...cleared, ...last];
}

