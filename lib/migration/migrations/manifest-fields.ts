import path from "node:path";
import fsp from "node:fs/promises";
import { readJsonIfExists, writeJsonDurable } from "../../util/fsx.js";
import type { Installation } from "../../install/installation.js";
import type { Logger } from "../../util/log.js";
import { isValidId } from "../../store/manifest.js";
import { restoreBackup } from "../backup.js";
import type { Migration } from "../types.js";

/**
 * Structure 1 → 2 (auto): manifests written before rollback records and
 * downtime measurement existed have no `swaps`, `downtimeMs` or `timings`.
 * Code that steps through `swaps` (rollback's "newest not already swapped")
 * needs them, so they get their neutral values: no swaps yet, downtime not
 * measured, no phase timings. Applies to `snapshots/<id>/manifest.json` and to
 * the record copies in `user/data/upgrades/<id>.json`. Nothing else in a
 * manifest is changed; a file that is not a JSON object is left alone.
 */
const DEFAULTS: Record<string, unknown> = { swaps: [], downtimeMs: null, timings: {} };

async function manifestFiles(inst: Installation): Promise<string[]> {
  const out: string[] = [];
  const names = await fsp.readdir(inst.paths.snapshots).catch(() => [] as string[]);
  for (const n of names.sort()) if (isValidId(n)) out.push(path.join(inst.paths.snapshots, n, "manifest.json"));
  const records = await fsp.readdir(inst.paths.upgradeRecords).catch(() => [] as string[]);
  for (const n of records.sort()) if (n.endsWith(".json") && isValidId(n.slice(0, -5))) out.push(path.join(inst.paths.upgradeRecords, n));
  return out;
}

async function readObject(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = await readJsonIfExists<unknown>(file);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not JSON (a torn write): not ours to repair here
  }
}

function missing(doc: Record<string, unknown>): string[] {
  return Object.keys(DEFAULTS).filter((k) => !(k in doc));
}

/** The manifest files that still lack a field, so that a second run touches nothing. */
async function pending(inst: Installation): Promise<{ file: string; doc: Record<string, unknown>; add: string[] }[]> {
  const out = [];
  for (const file of await manifestFiles(inst)) {
    const doc = await readObject(file);
    if (doc && missing(doc).length) out.push({ file, doc, add: missing(doc) });
  }
  return out;
}

export const manifestFields: Migration = {
  from: 1,
  to: 2,
  risk: "auto",
  description: "add `swaps`, `downtimeMs` and `timings` to manifests (and their copies in user/data/upgrades/) written before those fields existed",
  async touches(inst) {
    return (await pending(inst)).map((p) => p.file);
  },
  async migrate(inst: Installation, log: Logger) {
    for (const { file, doc, add } of await pending(inst)) {
      for (const k of add) doc[k] = structuredClone(DEFAULTS[k]);
      await writeJsonDurable(file, doc);
      log.debug({ file, added: add }, "manifest fields added");
    }
  },
  async rollback(inst, log) {
    await restoreBackup(inst, 1, 2, log);
  },
};
