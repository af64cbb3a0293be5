// Node module hooks for running the k6 scripts of loadtest/k6/ under Node (see runtime.mjs):
// `k6` and `k6/...` resolve to the shims in this folder (a module k6 has but no shim
// implements fails to resolve), and loadtest/k6/**/*.js load as ES modules.

import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

const SHIMS = new URL("./", import.meta.url);
const K6_DIR = new URL("../../../../loadtest/k6/", import.meta.url).href;

export async function resolve(specifier, context, next) {
  if (specifier === "k6" || specifier.startsWith("k6/")) {
    const rel = specifier === "k6" ? "k6.mjs" : `${specifier.slice(3)}.mjs`;
    return { url: new URL(rel, SHIMS).href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (url.startsWith(K6_DIR) && url.split("?")[0].endsWith(".js")) {
    return { format: "module", source: await readFile(fileURLToPath(url), "utf8"), shortCircuit: true };
  }
  return next(url, context);
}
