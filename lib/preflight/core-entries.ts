import { listNames } from "../util/fsx.js";
import { preservedNames, type Installation } from "../install/installation.js";
import { currentManifest } from "../store/manifest.js";

/**
 * The live top-level entries an upgrade will move: the current manifest's
 * `core` list when there is one; otherwise (unmanaged installation, package not
 * downloaded yet) every top-level entry that is not preserved, which may
 * include a site owner's foreign entries: the conservative guess.
 */
export async function liveCoreEntries(inst: Installation, installed: string | null): Promise<{ names: string[]; fromManifest: boolean }> {
  const manifest = await currentManifest(inst, installed);
  const live = await listNames(inst.root);
  if (manifest) return { names: manifest.core.filter((n) => live.includes(n)).sort(), fromManifest: true };
  const preserved = preservedNames(inst);
  return { names: live.filter((n) => !preserved.has(n)).sort(), fromManifest: false };
}
