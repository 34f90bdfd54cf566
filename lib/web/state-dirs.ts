/**
 * gpm's state is never served (SPEC sections 3 and 5): the snapshot store and
 * `.gpm/` each carry a deny-all `.htaccess` (Apache 2.4 and 2.2 forms) and are
 * not world-readable. nginx reads no .htaccess: webserver/nginx-gpm.conf has
 * the rule, and preflight `state-not-served` proves it from outside.
 */
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { errnoCode } from "../util/errors.js";
import type { Installation } from "../install/installation.js";
import { giveOwner, mkdirp } from "../util/owner.js";

/** Deny everything below the folder, whatever Apache version and modules are loaded. */
export const DENY_ALL_HTACCESS = `# Written by gpm: nothing in this folder is ever served (gpm's snapshots and state).
<IfModule mod_authz_core.c>
  Require all denied
</IfModule>
<IfModule !mod_authz_core.c>
  Order deny,allow
  Deny from all
</IfModule>
Options -Indexes
`;

/** The modes gpm's state folders and their .htaccess get: owner and group only. */
export const STATE_DIR_MODE = 0o750;
export const STATE_FILE_MODE = 0o640;

/** `dir` exists, is not world-readable, and holds gpm's deny-all .htaccess. Idempotent. */
export async function protectStateDir(dir: string): Promise<void> {
  await mkdirp(dir, STATE_DIR_MODE);
  const st = await fsp.lstat(dir);
  // A link is refused elsewhere (h9state); only a real folder gets its mode lowered.
  if (st.isDirectory() && (st.mode & 0o007) !== 0) await fsp.chmod(dir, st.mode & 0o770 & ~0o002);
  const file = path.join(dir, ".htaccess");
  let current: string | null = null;
  try {
    // O_NONBLOCK: a FIFO planted here must not hang gpm (invariant 9).
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    try {
      current = fs.fstatSync(fd).isFile() ? fs.readFileSync(fd, "utf8") : "";
    } finally {
      fs.closeSync(fd);
    }
  } catch (err) {
    if (errnoCode(err) !== "ENOENT") throw err;
  }
  if (current === DENY_ALL_HTACCESS) return;
  const tmp = `${file}.gpm-tmp`;
  await fsp.writeFile(tmp, DENY_ALL_HTACCESS, { mode: STATE_FILE_MODE });
  await giveOwner(tmp);
  await fsp.rename(tmp, file);
}

/** Both state folders: the snapshot store and `.gpm/`. */
export async function protectStateDirs(inst: Installation): Promise<void> {
  await protectStateDir(inst.paths.snapshots);
  await protectStateDir(inst.paths.gpmDir);
}

/** Remove a state folder gpm made for a run that left nothing (a dry run): only when our .htaccess is all it holds. */
export async function removeEmptyStateDir(dir: string): Promise<void> {
  const names = await fsp.readdir(dir).catch(() => null);
  if (!names || names.some((n) => n !== ".htaccess")) return;
  await fsp.rm(path.join(dir, ".htaccess"), { force: true });
  await fsp.rmdir(dir).catch(() => undefined);
}
