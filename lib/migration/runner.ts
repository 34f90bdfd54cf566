import type { Installation } from "../install/installation.js";
import type { Logger } from "../util/log.js";

// Placeholder until the migration runner lands (issue 2 / SPEC section 7).
export async function applyAutoMigrations(_inst: Installation, _log: Logger): Promise<void> {}
