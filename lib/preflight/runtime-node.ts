import semver from "semver";
import { pass, failed, type CheckResult, type PreflightInput } from "./types.js";

export const RUNTIME_NODE = "runtime-node";

/** release.requires.node (a semver range) against the Node.js running gpm. */
export async function checkRuntimeNode({ release }: PreflightInput): Promise<CheckResult> {
  const range = release.requires.node;
  if (!range) return pass(RUNTIME_NODE, `no Node.js version required (running ${process.version})`);
  if (semver.validRange(range) === null) {
    return failed(RUNTIME_NODE, `the release requires Node.js "${range}", which is not a valid version range`, `ask the publisher to fix requires.node of ${release.version}, or skip this check with --ignore-check ${RUNTIME_NODE}`);
  }
  if (semver.satisfies(process.version, range)) return pass(RUNTIME_NODE, `Node.js ${process.version} satisfies ${range}`);
  return failed(RUNTIME_NODE, `the release requires Node.js ${range}, this is ${process.version}`, `run gpm with a Node.js that satisfies ${range}`);
}
