import type { Migration } from "../types.js";
import { adopt } from "./adopt.js";
import { manifestFields } from "./manifest-fields.js";
import { upgradeRecords } from "./upgrade-records.js";

/**
 * Every structure migration, in order: each `from` is the previous `to`, the
 * first starts at 0 (an unmanaged installation, adopted by 0 → 1) and the last `to`
 * is STRUCTURE_VERSION (a unit test holds both). See docs/MIGRATIONS.md.
 */
export const MIGRATIONS: readonly Migration[] = [adopt, manifestFields, upgradeRecords];
