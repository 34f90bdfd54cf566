import fsp from "node:fs/promises";
import path from "node:path";
import type { Installation } from "../install/installation.js";
import { snapshotDir, type Manifest } from "../stage/manifest.js";
import { readJsonIfExists, sha256File, lstatOrNull } from "../util/fsx.js";
import { fail } from "../util/errors.js";
import type { FilesIndex } from "./smoke.js";

export interface Drift {
  path: string;
  kind: "modified" | "missing" | "added";
}

/**
 * Compare the live core files with the manifest's files.json (sha256 of each
 * file as released). Files added under a core entry count as drift too:
 * an upgrade would delete them with the entry.
 */
export async function verifyTree(inst: Installation, m: Manifest): Promise<{ checked: number; drift: Drift[] }> {
  const files = await readJsonIfExists<FilesIndex>(path.join(snapshotDir(inst, m.id), "files.json"));
  if (!files) throw fail(`snapshot ${m.id} has no files.json to verify against`, "it may have been pruned or damaged");
  const core = new Set(m.core);
  const drift: Drift[] = [];
  let checked = 0;
  const expected = new Set<string>();
  for (const [rel, info] of Object.entries(files)) {
    if (!core.has(rel.split("/")[0]!)) continue;
    expected.add(rel);
    checked++;
    const p = path.join(inst.root, rel);
    const st = await lstatOrNull(p);
    if (!st || !st.isFile()) drift.push({ path: rel, kind: "missing" });
    else if (st.size !== info.size || (await sha256File(p)) !== info.sha256) drift.push({ path: rel, kind: "modified" });
  }
  for (const entry of core) {
    for (const rel of await listFiles(inst.root, entry)) if (!expected.has(rel)) drift.push({ path: rel, kind: "added" });
  }
  return { checked, drift: drift.sort((a, b) => a.path.localeCompare(b.path)) };
}

async function listFiles(root: string, rel: string): Promise<string[]> {
  const st = await lstatOrNull(path.join(root, rel));
  if (!st) return [];
  if (!st.isDirectory()) return st.isFile() ? [rel] : [];
  const out: string[] = [];
  for (const e of await fsp.readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else if (e.isFile()) out.push(r);
  }
  return out;
}
