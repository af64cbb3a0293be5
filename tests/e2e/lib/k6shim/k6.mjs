// Shim of the k6 module `k6` for tests (see runtime.mjs): check, fail, group, sleep.
import "./metrics.mjs"; // registers k6's `checks` metric
import { rt } from "./runtime.mjs";

export function check(value, sets) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = Boolean(fn(value));
    rt.checks.push({ name, ok });
    rt.metrics.get("checks")?.values.push(ok ? 1 : 0);
    all &&= ok;
  }
  return all;
}

export function fail(message) {
  throw new Error(message);
}

export function group(_name, fn) {
  return fn();
}

/** Blocks the thread, like k6's sleep blocks its VU (so only for set-up code here). */
export function sleep(seconds) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, seconds * 1000);
}

export default { check, fail, group, sleep };
