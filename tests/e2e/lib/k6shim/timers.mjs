// Shim of k6/timers for tests (see runtime.mjs): Node's timers, counted as pending work
// (a k6 iteration lasts while it has timers), callbacks guarded.
import { guard, rt } from "./runtime.mjs";

const live = new Set();

function end(h) {
  if (live.delete(h)) rt.pending--;
}

export function setTimeout(fn, ms, ...args) {
  const g = guard(fn);
  const h = globalThis.setTimeout(() => {
    end(h);
    g(...args);
  }, ms);
  live.add(h);
  rt.pending++;
  return h;
}

export function clearTimeout(h) {
  if (live.has(h)) globalThis.clearTimeout(h);
  end(h);
}

export function setInterval(fn, ms, ...args) {
  const h = globalThis.setInterval(guard(fn), ms, ...args);
  live.add(h);
  rt.pending++;
  return h;
}

export function clearInterval(h) {
  if (live.has(h)) globalThis.clearInterval(h);
  end(h);
}

export default { setTimeout, clearTimeout, setInterval, clearInterval };
