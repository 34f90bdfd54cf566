/** Assertions shared by the stage tests. */
import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { GpmError } from "../../../lib/util/errors.js";

/** `promise` rejects with a GpmError of exit `code` whose message matches `re`. Returns the error. */
export async function rejectsGpm(promise: Promise<unknown>, code: number, re?: RegExp): Promise<GpmError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GpmError, `expected a GpmError, got ${caught instanceof Error ? caught.stack : String(caught)}`);
  assert.equal(caught.code, code, `exit code for: ${caught.message}`);
  if (re) assert.match(caught.message, re);
  assert.ok(!caught.message.includes("\n"), "the message is one line");
  return caught;
}

/** The same, for a function that throws synchronously. */
export function throwsGpm(fn: () => unknown, code: number, re?: RegExp): GpmError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof GpmError, `expected a GpmError, got ${String(caught)}`);
  assert.equal(caught.code, code, `exit code for: ${caught.message}`);
  if (re) assert.match(caught.message, re);
  return caught;
}

/** Every path below `dir` (recursively, links not followed), sorted. */
export async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await fsp.readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) await walk(r);
    }
  };
  await walk("");
  return out.sort();
}
