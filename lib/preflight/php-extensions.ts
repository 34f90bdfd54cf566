import { phpModules } from "../util/php.js";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const PHP_EXTENSIONS = "php-extensions";

/** release.requires.extensions against `php -m` (names compared case-insensitively). */
export async function checkPhpExtensions({ release }: PreflightInput): Promise<CheckResult> {
  const required = release.requires.extensions ?? [];
  if (required.length === 0) return pass(PHP_EXTENSIONS, "no PHP extensions required");
  const list = required.join(", ");
  const php = await phpModules();
  if (php.kind === "missing") return failed(PHP_EXTENSIONS, `PHP extensions ${list} are required but php is not found on PATH`, "install PHP with these extensions and put the php binary on PATH");
  if (php.kind === "error") return failed(PHP_EXTENSIONS, `cannot list the PHP extensions: ${php.message}`, "make `php -m` work for the user running gpm");
  // Composer spells extensions `ext-zip`; `php -m` says `zip`.
  const missing = required.filter((ext) => !php.modules.has(ext.trim().toLowerCase().replace(/^ext-/, "")));
  if (missing.length === 0) return pass(PHP_EXTENSIONS, `PHP extensions present: ${list}`);
  return failed(
    PHP_EXTENSIONS,
    `missing PHP extension${missing.length > 1 ? "s" : ""}: ${missing.join(", ")} (required by ${release.version})`,
    `install and enable ${missing.join(", ")} for the php on PATH (e.g. apt install ${missing.map((e) => `php-${e.toLowerCase()}`).join(" ")}), then check with \`php -m\``,
  );
}
