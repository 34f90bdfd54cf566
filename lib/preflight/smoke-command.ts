import fsp from "node:fs/promises";
import path from "node:path";
import { findExecutable } from "./fs-probe.js";
import { pass, warn, failed, type CheckResult, type PreflightInput } from "./types.js";

export const SMOKE_COMMAND = "smoke-command";
export const POST_UPGRADE_COMMAND = "post-upgrade-command";

/** Programs whose first argument is a script they run: the script must exist too. */
const INTERPRETERS = /^(php[0-9.]*|node|python[0-9.]*|perl|ruby|sh|bash|dash)$/;

const isFile = (p: string): Promise<boolean> => fsp.stat(p).then((s) => s.isFile(), () => false);

/**
 * argv[0] of a configured command must be runnable, and the script an
 * interpreter is given (`php bin/grav …`) must exist, or the upgrade would
 * fail (and be undone) only after the swap. A bare name is looked up on PATH;
 * a path is relative to the root. A relative path that is missing from the
 * live tree is only a warning: the new release may bring it.
 */
async function checkCommand(id: string, key: "smokeCheck" | "postUpgrade", argv: string[] | null | undefined, root: string): Promise<CheckResult> {
  const what = key === "smokeCheck" ? "smoke check" : "post-upgrade";
  if (!argv || argv.length === 0) return pass(id, `no ${what} command configured`);
  const cmd = argv[0]!;
  const where = await findExecutable(cmd, root);
  const setIt = `set ${key} in gpm.json (null disables it)`;
  if (!where.found) {
    if (where.reason === "not-on-path") return failed(id, `${what} command \`${cmd}\` not found on PATH`, `install it or ${setIt}`);
    if (where.reason === "not-executable") return failed(id, `${what} command \`${cmd}\` is not an executable file`, `make ${where.path} executable (chmod +x) or ${setIt}`);
    return warn(id, `${what} command \`${cmd}\` is not in the installed tree`, `make sure the new release provides it, or ${setIt}`);
  }
  const script = argv[1];
  if (script && !script.startsWith("-") && INTERPRETERS.test(path.basename(cmd)) && !(await isFile(path.resolve(root, script)))) {
    return warn(id, `${what} script \`${script}\` (run by ${cmd}) is not in the installed tree`, `make sure the new release provides it, or ${setIt}`);
  }
  return pass(id, `${what} command \`${cmd}\` found: ${where.path}${script ? ` (${argv.slice(1).join(" ")})` : ""}`);
}

/** The phpServer check needs `php` on PATH and the router script (SPEC section 2). */
async function checkPhpServer(router: string, root: string): Promise<CheckResult> {
  const setIt = "set smokeCheck in gpm.json (null disables it)";
  const php = await findExecutable("php", root);
  if (!php.found) return failed(SMOKE_COMMAND, "smoke check needs `php` (PHP's built-in server) and it is not on PATH", `install PHP's command-line interpreter (Debian: php-cli) or ${setIt}`);
  if (!(await isFile(path.resolve(root, router)))) {
    return warn(SMOKE_COMMAND, `smoke check router ${router} is not in the installed tree`, `make sure the new release provides it, or ${setIt}`);
  }
  return pass(SMOKE_COMMAND, `smoke check \`php -S 127.0.0.1:<port> ${router}\` can run (${php.path})`);
}

export async function checkSmokeCommand({ inst }: PreflightInput): Promise<CheckResult> {
  const s = inst.config.smokeCheck;
  if (s?.phpServer && !s.command) return checkPhpServer(s.phpServer.router, inst.root);
  return checkCommand(SMOKE_COMMAND, "smokeCheck", s?.command, inst.root);
}

export async function checkPostUpgradeCommand({ inst }: PreflightInput): Promise<CheckResult> {
  return checkCommand(POST_UPGRADE_COMMAND, "postUpgrade", inst.config.postUpgrade, inst.root);
}
