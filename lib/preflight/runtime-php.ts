import { parseConstraint, satisfies } from "./composer-constraint.js";
import { phpVersion } from "../util/php.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";
import { errorMessage } from "../util/errors.js";

export const RUNTIME_PHP = "runtime-php";

/**
 * release.requires.php against `php -r 'echo PHP_VERSION;'`. The range is read
 * as a Composer constraint (what PHP projects write: `>=8.1`, `^8.1 || ^8.2`),
 * which agrees with semver on the common forms.
 */
export async function checkRuntimePhp({ release }: PreflightInput): Promise<CheckResult> {
  const range = release.requires.php;
  if (!range) return pass(RUNTIME_PHP, "no PHP version required");
  let constraint;
  try {
    constraint = parseConstraint(range);
  } catch (err) {
    return failed(RUNTIME_PHP, `the release's requires.php: ${errorMessage(err)}`, `ask the publisher to fix requires.php of ${release.version}, or skip this check with --ignore-check ${RUNTIME_PHP}`);
  }
  const php = await phpVersion();
  if (php.kind === "missing") return failed(RUNTIME_PHP, `php is required (${range}) but not found on PATH`, `install PHP ${range} and put the php binary on PATH`);
  if (php.kind === "error") return failed(RUNTIME_PHP, `cannot tell the PHP version: ${php.message}`, "make `php -r 'echo PHP_VERSION;'` work for the user running gpm");
  if (satisfies(php.version, constraint)) return pass(RUNTIME_PHP, `PHP ${php.raw} satisfies ${range}`);
  return failed(RUNTIME_PHP, `the release requires PHP ${range}, the php on PATH is ${php.raw}`, `install PHP ${range} (or put a matching php first on PATH)`);
}
