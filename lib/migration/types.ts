import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";

/**
 * One step of gpm's own on-disk layout (SPEC section 7), from structure
 * version `from` to `to` (= from + 1). Both `migrate` and `rollback` are
 * idempotent: run on a half-done state (a crash, a second run) they finish the
 * job, and run on a done state they change nothing.
 */
export interface Migration {
  from: number;
  to: number;
  /** `auto`: applied by any command; `prompt`: waits for `gpm migrate-installation` with a yes. */
  risk: "auto" | "prompt";
  description: string;
  /**
   * Absolute paths (inside the root, outside `.gpm/migration-backup/`) that
   * `migrate` may create, change or delete. The runner copies them before the
   * step, so an empty list means "nothing to do here".
   */
  touches(inst: Installation): Promise<string[]>;
  migrate(inst: Installation, log: Logger): Promise<void>;
  /** Undo `migrate` (also a partial one); the runner's backup of `touches()` is available. */
  rollback(inst: Installation, log: Logger): Promise<void>;
}

/** A step as shown in a plan (no functions, for --json). */
export interface PlannedStep {
  from: number;
  to: number;
  risk: "auto" | "prompt";
  description: string;
}

export function describe(m: Migration): PlannedStep {
  return { from: m.from, to: m.to, risk: m.risk, description: m.description };
}
