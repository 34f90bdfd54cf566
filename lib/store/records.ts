import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { listManifests, isValidId } from "./manifest.js";
import { writeJsonDurable, lstatOrNull } from "../util/fsx.js";
import { mkdirp } from "../util/owner.js";

/** The mark on every record gpm writes: only files that carry it are gpm's to rewrite or remove. */
export const RECORD_OF = "gpm";

/**
 * `user/data/upgrades/` mirrors the manifests in the snapshot store (SPEC
 * section 5). These copies are gpm's records, not content: after every swap —
 * which may have put an older user/ live — they are rewritten, and a record
 * whose manifest is gone is removed. Grav 1.8 keeps its own upgrade manifests
 * and quarantine.json in the same folder, so a file is removed only when it
 * is a regular file carrying `"recordOf": "gpm"`; nothing else in user/ is
 * touched. If the site has no user/ at all, there is nothing to mirror into.
 */
export async function mirrorRecords(inst: Installation): Promise<void> {
  if (!(await lstatOrNull(inst.paths.user))?.isDirectory()) return;
  const dir = inst.paths.upgradeRecords;
  await mkdirp(dir);
  const manifests = await listManifests(inst);
  const keep = new Set<string>();
  for (const m of manifests) {
    keep.add(`${m.id}.json`);
    await writeJsonDurable(path.join(dir, `${m.id}.json`), { ...m, recordOf: RECORD_OF });
  }
  for (const name of await fsp.readdir(dir)) {
    if (!name.endsWith(".json") || !isValidId(name.slice(0, -5)) || keep.has(name)) continue;
    if (await isGpmRecord(path.join(dir, name))) await fsp.rm(path.join(dir, name), { force: true });
  }
}

/** A regular file (never a FIFO or a link: lstat first) whose JSON says it is gpm's record. */
async function isGpmRecord(file: string): Promise<boolean> {
  const st = await lstatOrNull(file);
  if (!st?.isFile() || st.size > 16 * 1024 * 1024) return false;
  try {
    const doc: unknown = JSON.parse(await fsp.readFile(file, "utf8"));
    return typeof doc === "object" && doc !== null && (doc as { recordOf?: unknown }).recordOf === RECORD_OF;
  } catch {
    return false;
  }
}
