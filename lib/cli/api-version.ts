/** The `apiVersion` of every --json document: a breaking change to any document's shape bumps it. */
export const API_VERSION = "gpm/1";
