import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";
import { errorMessage } from "../util/errors.js";
import { writeRecoveryFlag } from "./flag.js";

/**
 * Raise the recovery flag after a restore failed: the installation needs a
 * person (exit 7). Called from failure paths, so it never throws: if even the
 * flag cannot be written, the log line is all that is left to say it.
 */
export async function enterRecoveryMode(inst: Installation, o: { reason: string; manifest: string | null }, log: Logger): Promise<void> {
  try {
    await writeRecoveryFlag(inst, { reason: o.reason, createdAt: new Date().toISOString(), manifest: o.manifest, quarantined: [] });
    log.fatal({ reason: o.reason }, "recovery mode: the installation needs a person (see docs/RECOVERY.md)");
  } catch (err) {
    log.fatal({ reason: o.reason, flagError: errorMessage(err) }, "recovery mode, and the recovery flag could not be written");
  }
}
