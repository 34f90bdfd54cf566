import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { listManifests, isValidId } from "../stage/manifest.js";
import { writeJsonDurable, lstatOrNull } from "../util/fsx.js";
import { mkdirp } from "../util/owner.js";

/**
 * `user/data/upgrades/` mirrors the manifests in the snapshot store (SPEC
 * section 5). These copies are gpm's records, not content: after every swap —
 * which may have put an older user/ live — they are rewritten, and a record
 * whose manifest is gone is removed. Nothing else in user/ is touched. If the
 * site has no user/ at all, there is nothing to mirror into.
 */
export async function mirrorRecords(inst: Installation): Promise<void> {
  if (!(await lstatOrNull(inst.paths.user))?.isDirectory()) return;
  const dir = inst.paths.upgradeRecords;
  await mkdirp(dir);
  const manifests = await listManifests(inst);
  const keep = new Set<string>();
  for (const m of manifests) {
    keep.add(`${m.id}.json`);
    await writeJsonDurable(path.join(dir, `${m.id}.json`), m);
  }
  for (const name of await fsp.readdir(dir)) {
    if (name.endsWith(".json") && isValidId(name.slice(0, -5)) && !keep.has(name)) await fsp.rm(path.join(dir, name), { force: true });
  }
}
