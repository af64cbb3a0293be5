// A small stand-in for the k6 runtime, so tests can run the k6 scripts of loadtest/k6/ under
// Node against real classchat nodes (k6 itself cannot be installed here). The shims beside
// this file implement the k6 APIs the scripts use; this module keeps what they record
// (metric samples, checks, errors thrown in callbacks) and what is still pending (sockets,
// timers), and runs a script: setup() once, then one iteration of `default` per VU, all VUs
// in this one thread, until no socket or timer is left. It is not k6: VUs share one module
// instance (so scripts must read __VU synchronously), ramps start every VU at once, and
// executors' timing (duration, maxDuration, gracefulStop) is not enforced.

import { pathToFileURL } from "node:url";

export const rt = { pending: 0, metrics: new Map(), checks: [], errors: [] };

/** Wraps a callback so an exception is recorded (as k6 would log it) instead of crashing. */
export function guard(fn) {
  return function guarded(...args) {
    try {
      return fn.apply(this, args);
    } catch (e) {
      rt.errors.push(e);
      return undefined;
    }
  };
}

export function reset() {
  for (const m of rt.metrics.values()) m.values = [];
  rt.checks.length = 0;
  rt.errors.length = 0;
}

/** Resolves once nothing is pending (or rejects after `timeoutMs`). */
export async function idle(timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (rt.pending > 0) {
    if (Date.now() > deadline) throw new Error(`k6 run still had ${rt.pending} sockets/timers after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function quantile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
}

/** k6's end-of-test values of one metric: what its thresholds are evaluated on. */
export function summary(name, seconds) {
  const m = rt.metrics.get(name);
  if (!m) return null;
  const v = m.values;
  const sum = v.reduce((a, b) => a + b, 0);
  if (m.type === "counter") return { type: m.type, samples: v.length, count: sum, rate: sum / seconds };
  if (m.type === "rate") return { type: m.type, samples: v.length, rate: v.length ? v.filter((x) => x !== 0).length / v.length : NaN };
  if (m.type === "gauge") return { type: m.type, samples: v.length, value: v[v.length - 1] };
  const s = [...v].sort((a, b) => a - b);
  return { type: m.type, isTime: m.isTime, samples: v.length, avg: sum / v.length, min: s[0], max: s[s.length - 1], med: quantile(s, 0.5), p: (q) => quantile(s, q / 100) };
}

export const THRESHOLD_RE = /^\s*(avg|min|max|med|count|rate|value|p\((\d+(?:\.\d+)?)\))\s*(<=|>=|===|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/** Whether one threshold expression holds for a summary; null if it cannot be evaluated. */
export function holds(expr, s) {
  const m = THRESHOLD_RE.exec(expr);
  if (!m || !s) return null;
  const value = m[2] !== undefined ? (s.p ? s.p(Number(m[2])) : undefined) : s[m[1]];
  if (typeof value !== "number" || Number.isNaN(value)) return null;
  const x = Number(m[4]);
  return { "<": value < x, "<=": value <= x, ">": value > x, ">=": value >= x, "==": value === x, "===": value === x, "!=": value !== x }[m[3]];
}

/** The VUs k6 would start for these options' scenarios (all at once here). */
export function vusOf(options) {
  return Object.values(options.scenarios || {}).reduce((n, sc) => {
    const stages = (sc.stages || []).map((s) => s.target);
    return n + Math.max(sc.vus || 0, sc.startVUs || 0, ...stages);
  }, 0);
}

let runs = 0;

/** Runs a k6 script with `env` as __ENV; returns its options, metrics' summaries and checks. */
export async function runScript(file, env, { timeoutMs = 90_000 } = {}) {
  reset();
  globalThis.__ENV = { ...env };
  globalThis.__VU = 0;
  globalThis.__ITER = 0;
  const mod = await import(`${pathToFileURL(file).href}?run=${++runs}`);
  const started = Date.now();
  const data = typeof mod.setup === "function" ? JSON.parse(JSON.stringify(mod.setup() ?? null)) : undefined;
  const vus = vusOf(mod.options);
  for (let vu = 1; vu <= vus; vu++) {
    globalThis.__VU = vu;
    guard(mod.default)(data);
  }
  globalThis.__VU = 0;
  await idle(timeoutMs);
  const seconds = (Date.now() - started) / 1000;
  const metrics = {};
  for (const name of rt.metrics.keys()) metrics[name] = summary(name, seconds);
  const thresholds = [];
  for (const [key, list] of Object.entries(mod.options.thresholds || {})) {
    const name = key.replace(/\{.*\}$/, "");
    for (const t of list) {
      const expr = typeof t === "string" ? t : t.threshold;
      thresholds.push({ metric: name, expr, ok: holds(expr, metrics[name]), summary: metrics[name] });
    }
  }
  return { options: mod.options, vus, seconds, data, metrics, thresholds, checks: [...rt.checks], errors: [...rt.errors] };
}
