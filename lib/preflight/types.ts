import type { Installation } from "../install/installation.js";
import type { Release } from "../stage/types.js";
import type { Logger } from "../util/log.js";

export type CheckStatus = "pass" | "warn" | "fail";

/** One check's verdict. `fix` says what to do, and is non-null for warn and fail. */
export interface CheckResult {
  /** Stable kebab-case id: the user names it in `--ignore-check ID`. */
  id: string;
  status: CheckStatus;
  message: string;
  fix: string | null;
}

export interface PreflightInput {
  inst: Installation;
  /** The release the upgrade would install. */
  release: Release;
  log: Logger;
  /** The installed version (metadata or the app's own), null when unknown. */
  installed: string | null;
}

/** A check reads the installation and the environment; it never writes anything. */
export interface Check {
  id: string;
  run(input: PreflightInput): Promise<CheckResult>;
}

export const pass = (id: string, message: string): CheckResult => ({ id, status: "pass", message, fix: null });
export const warn = (id: string, message: string, fix: string): CheckResult => ({ id, status: "warn", message, fix });
export const failed = (id: string, message: string, fix: string): CheckResult => ({ id, status: "fail", message, fix });
