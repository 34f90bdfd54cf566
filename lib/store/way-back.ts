/**
 * Which snapshots the live tree depends on, worked out from the manifests
 * alone (never from a clock): the one it came from, the chain of rollbacks
 * that leads back from it, and the pins. Retention and `gpm snapshots` both
 * read it, so they never disagree about what "the way back" is.
 */
import type { Installation } from "../install/installation.js";
import { listManifests, requireManifest, writeManifest, type Manifest } from "./manifest.js";
import { fail } from "../util/errors.js";
import { killPoint } from "../util/seams.js";

/**
 * The snapshot the live tree came from: the upgrade that installed the live
 * version (finalized, `to` is live) or the rollback that put it back (swapped,
 * `from` is live), whichever is newer by seq. `manifests` oldest first.
 */
export function liveSource(manifests: readonly Manifest[], live: string | null): Manifest | undefined {
  if (!live) return undefined;
  return [...manifests].reverse().find((m) => (m.status === "finalized" && m.to === live) || (m.status === "swapped" && m.from === live));
}

/**
 * The way back from the live version: the newest finalized upgrade to it,
 * then the newest finalized upgrade to that one's `from`, and so on — the
 * snapshots that repeated `gpm rollback` steps back through. Newest first.
 */
export function wayBack(manifests: readonly Manifest[], live: string | null): Manifest[] {
  const chain: Manifest[] = [];
  const seen = new Set<string>();
  let v = live;
  while (v) {
    const step = [...manifests].reverse().find((m) => m.status === "finalized" && m.to === v && !seen.has(m.id));
    if (!step) break;
    chain.push(step);
    seen.add(step.id);
    v = step.from;
  }
  return chain;
}

/**
 * The usable snapshots (finalized or swapped) that retention keeps: every
 * pinned one, the first step of the way back, the one the live tree came
 * from, and `keep` in all, filled first along the way back (so an older
 * version stays reachable), then by seq, newest first. A swapped copy that a
 * later upgrade superseded goes before the only way back to an older release.
 */
export function usableToKeep(manifests: readonly Manifest[], live: string | null, keep: number): Set<string> {
  const usable = manifests.filter((m) => m.status === "finalized" || m.status === "swapped");
  const chain = wayBack(usable, live);
  const source = liveSource(usable, live);
  // Pins do not take up any of the `keep` places: pinning one never pushes another out.
  const kept = new Set<string>(usable.filter((m) => m.pinned).map((m) => m.id));
  const counted = new Set<string>();
  const take = (m: Manifest): void => {
    kept.add(m.id);
    if (!m.pinned) counted.add(m.id);
  };
  if (chain[0]) take(chain[0]);
  if (source) take(source);
  for (const m of [...chain, ...[...usable].reverse()]) {
    if (counted.size >= keep) break;
    take(m);
  }
  return kept;
}

/** `gpm snapshots pin|unpin ID`: one durable manifest write. Returns whether it changed. */
export async function setPinned(inst: Installation, id: string, pinned: boolean): Promise<{ manifest: Manifest; changed: boolean }> {
  const m = await requireManifest(inst, id);
  if (m.pinned === pinned) return { manifest: m, changed: false };
  if (pinned && m.status !== "finalized" && m.status !== "swapped") {
    throw fail(`snapshot ${m.id} is ${m.status}: it holds no tree worth keeping`, "pin a finalized or swapped snapshot (see `gpm snapshots`)");
  }
  m.pinned = pinned;
  await writeManifest(inst, m);
  killPoint("snapshots:pin-written");
  return { manifest: m, changed: true };
}

/** Manifests oldest first, with the one the live tree came from. */
export async function manifestsWithSource(inst: Installation, live: string | null): Promise<{ manifests: Manifest[]; source: Manifest | undefined }> {
  const manifests = await listManifests(inst);
  return { manifests, source: liveSource(manifests, live) };
}
