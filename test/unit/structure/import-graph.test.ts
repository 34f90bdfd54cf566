import assert from "node:assert/strict";
import fsp from "node:fs/promises";
import path from "node:path";
import { REPO } from "../../helpers/fixtures.js";

/**
 * Issue 8: no import cycles between phase folders. Reads the built code
 * (dist/lib: type-only imports are gone there, so what is left is what runs),
 * turns each relative import into an edge between the importing file's folder
 * and the imported file's folder, and checks that the folder graph is acyclic.
 * A folder and its own subfolders are one unit (cli/ and cli/commands/), so
 * edges between them are not counted; a subfolder that is a front end of its
 * own (recovery-mode/server/) may sit above other phases.
 */

const LIB = path.join(REPO, "dist", "lib");
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["'](\.{1,2}\/[^"']+)["']/g;

async function jsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await jsFiles(p)));
    else if (e.name.endsWith(".js")) out.push(p);
  }
  return out;
}

export async function folderGraph(lib: string): Promise<Map<string, Map<string, string>>> {
  const graph = new Map<string, Map<string, string>>(); // folder -> (folder it imports -> one file that does)
  for (const file of await jsFiles(lib)) {
    const from = path.relative(lib, path.dirname(file)) || ".";
    const text = await fsp.readFile(file, "utf8");
    for (const m of text.matchAll(IMPORT)) {
      const to = path.relative(lib, path.dirname(path.resolve(path.dirname(file), m[1]!))) || ".";
      const nested = from === to || to.startsWith(from + path.sep) || from.startsWith(to + path.sep);
      if (nested) continue;
      if (!graph.has(from)) graph.set(from, new Map());
      if (!graph.get(from)!.has(to)) graph.get(from)!.set(to, `${path.relative(lib, file)} imports ${m[1]}`);
    }
  }
  return graph;
}

/** One cycle as a list of "folder: why" lines, or null when the graph is acyclic. */
export function findCycle(graph: Map<string, Map<string, string>>): string[] | null {
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (n: string): string[] | null => {
    state.set(n, "open");
    stack.push(n);
    for (const next of graph.get(n)?.keys() ?? []) {
      if (state.get(next) === "open") {
        const loop = [...stack.slice(stack.indexOf(next)), next];
        return loop.slice(0, -1).map((f, i) => `${f} → ${loop[i + 1]} (${graph.get(f)!.get(loop[i + 1]!)})`);
      }
      if (!state.has(next)) {
        const found = visit(next);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(n, "done");
    return null;
  };
  for (const n of [...graph.keys()].sort()) {
    if (state.has(n)) continue;
    const found = visit(n);
    if (found) return found;
  }
  return null;
}

describe("structure: the folders of lib/ import each other without cycles", () => {
  it("the folder graph of dist/lib is acyclic", async () => {
    const graph = await folderGraph(LIB);
    assert.ok(graph.size > 5, "dist/lib has its folders (run npm run build first)");
    const cycle = findCycle(graph);
    assert.equal(cycle, null, `import cycle between folders:\n  ${(cycle ?? []).join("\n  ")}`);
  });

  it("the check finds a cycle when there is one (a → b → a)", async () => {
    const tmp = await fsp.mkdtemp(path.join(REPO, "dist", ".cycle-"));
    try {
      for (const [dir, body] of [
        ["a", 'import { b } from "../b/b.js"; export const a = 1;'],
        ["b", 'export const b = async () => (await import("../a/a.js")).a;'],
      ] as const) {
        await fsp.mkdir(path.join(tmp, dir));
        await fsp.writeFile(path.join(tmp, dir, `${dir}.js`), body);
      }
      const cycle = findCycle(await folderGraph(tmp));
      assert.ok(cycle && cycle.length === 2, `expected the a ⇄ b cycle, got ${JSON.stringify(cycle)}`);
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  });
});
