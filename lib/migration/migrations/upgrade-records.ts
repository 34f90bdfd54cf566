import path from "node:path";
import fsp from "node:fs/promises";
import { errnoCode } from "../../util/errors.js";
import { fsyncDir, lstatOrNull, readJsonIfExists, writeJsonDurable } from "../../util/fsx.js";
import type { Installation } from "../../install/installation.js";
import type { Logger } from "../../util/log.js";
import { isValidId } from "../../store/manifest.js";
import { restoreBackup } from "../backup.js";
import type { Migration } from "../types.js";
import { mkdirp } from "../../util/owner.js";

/**
 * Structure 2 → 3 (prompt): gpm builds of structure 2 kept their upgrade
 * records in `.gpm/history/<id>.json`; from structure 3 on they are in
 * `user/data/upgrades/<id>.json` (SPEC section 5), beside the site's own data,
 * where the site's backups pick them up. Each legacy record moves there; when
 * its snapshot's manifest still exists that (newer) manifest is the record
 * written, and a record already in `user/data/upgrades/` is never replaced.
 * Files in `.gpm/history/` that are not records are left where they are.
 *
 * `prompt` because it writes into `user/` — the site owner's tree, often under
 * their own version control — and removes the legacy folder.
 */
function historyDir(inst: Installation): string {
  return path.join(inst.paths.gpmDir, "history");
}

async function readObject(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = await readJsonIfExists<unknown>(file);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `p` itself if it exists, else its outermost missing ancestor below the root (what creating `p` adds). */
async function outermostNew(inst: Installation, p: string): Promise<string> {
  let cur = p;
  for (;;) {
    const parent = path.dirname(cur);
    if (parent === inst.root || (await lstatOrNull(parent))) return cur;
    cur = parent;
  }
}

export const upgradeRecords: Migration = {
  from: 2,
  to: 3,
  risk: "prompt",
  description: "move upgrade records from the legacy .gpm/history/ into user/data/upgrades/ (writes into user/)",
  async touches(inst) {
    if (!(await lstatOrNull(historyDir(inst)))) return [];
    return [historyDir(inst), await outermostNew(inst, inst.paths.upgradeRecords)];
  },
  async migrate(inst: Installation, log: Logger) {
    const dir = historyDir(inst);
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).sort();
    } catch (err) {
      if (errnoCode(err) === "ENOENT") return; // already moved
      throw err;
    }
    const leftover: string[] = [];
    for (const name of names) {
      const id = name.endsWith(".json") ? name.slice(0, -5) : "";
      const legacy = isValidId(id) ? await readObject(path.join(dir, name)) : undefined;
      if (!legacy || legacy.id !== id) {
        leftover.push(name);
        continue;
      }
      const target = path.join(inst.paths.upgradeRecords, `${id}.json`);
      if (!(await lstatOrNull(target))) {
        const current = await readObject(path.join(inst.paths.snapshots, id, "manifest.json"));
        await mkdirp(inst.paths.upgradeRecords);
        await writeJsonDurable(target, current?.id === id ? current : legacy);
      }
      // Only once the record is durable in its new place does the legacy copy go.
      await fsp.rm(path.join(dir, name));
      log.debug({ id }, "upgrade record moved to user/data/upgrades/");
    }
    await fsyncDir(dir);
    if (leftover.length) {
      log.warn(`.gpm/history/ keeps ${leftover.length} file(s) that are not upgrade records: ${leftover.slice(0, 5).join(", ")}${leftover.length > 5 ? ", …" : ""}`);
      return;
    }
    await fsp.rmdir(dir);
    await fsyncDir(inst.paths.gpmDir);
  },
  async rollback(inst, log) {
    await restoreBackup(inst, 2, 3, log);
  },
};
