import type { Migration } from "../types.js";
import { manifestFields } from "./manifest-fields.js";
import { upgradeRecords } from "./upgrade-records.js";

/**
 * Every structure migration, in order: each `from` is the previous `to`, the
 * first starts at 1 (the first structure gpm ever wrote) and the last `to`
 * is STRUCTURE_VERSION (a unit test holds both). See docs/MIGRATIONS.md.
 */
export const MIGRATIONS: readonly Migration[] = [manifestFields, upgradeRecords];
