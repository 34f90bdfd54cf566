/**
 * Is the staged package the release the feed describes? (SPEC section 5,
 * step 3.) Checked on the extracted tree, before the maintenance flag goes up:
 * a zip whose `system/defines.php` names another version, a zip holding only a
 * README, or anything else without the versionFile is refused with exit 6 and
 * never swapped into the web root (where, before this check, the smoke check
 * found it only after the site had gone down).
 */
import fsp from "node:fs/promises";
import type { Installation } from "../install/installation.js";
import { readAppVersion } from "../install/installation.js";
import { integrity } from "../util/errors.js";
import { resolveInside } from "../util/fsx.js";
import type { Versioning } from "../util/version.js";

const HINT = "nothing was changed; tell the feed's publisher (or fix versionFile/versionPattern in gpm.json if the release keeps its version elsewhere)";

/** Throw exit 6 unless `packageDir` holds versionFile and it reads as `version`. */
export async function checkPackageIsRelease(inst: Installation, packageDir: string, version: string, versions: Versioning): Promise<void> {
  const file = inst.config.versionFile;
  const st = await fsp.lstat(resolveInside(packageDir, file, "versionFile")).catch(() => null);
  if (!st?.isFile()) throw integrity(`the package of release ${version} has no ${file}: it is not the release the feed describes`, HINT);
  const found = await readAppVersion(inst, packageDir);
  if (found === null) throw integrity(`the package of release ${version}: its ${file} declares no version (versionPattern finds none)`, HINT);
  const clean = versions.clean(found);
  if (clean === null || !versions.eq(clean, version)) {
    throw integrity(`the package of release ${version} is version ${found} by its ${file}: it is not the release the feed describes`, HINT);
  }
}
