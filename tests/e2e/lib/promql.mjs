// The queries of the Grafana dashboard and the alert rules, and a small PromQL reader that
// checks them against a scraped /metrics: used by metrics-names.test.mjs (a node after some
// activity) and metrics-from-start.test.mjs (a node that has done nothing yet).
//
// Sources: deploy/grafana/dashboards/*.json (panel queries and template variables),
// deploy/prometheus/alerts.yml and k8s/base/prometheusrule.yaml. Every selector is checked:
//   - the metric name exists (recording rules named classchat:* must be defined in the
//     rule file; `up` is Prometheus's own per-target series);
//   - every label a matcher uses exists on that metric, and `label="value"` matches a
//     series (job and instance are target labels, added by Prometheus);
//   - every label of by/without/on/ignoring exists on a metric of the same expression.

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const TARGET_LABELS = new Set(["job", "instance"]);
const PROMETHEUS_OWN = new Set(["up"]);

// --- where the queries are -------------------------------------------------------------

/** `expr:` values (plain, quoted or block scalars) and `record:` names of a rule file. */
export function ruleFileExprs(text) {
  const lines = text.split("\n");
  const exprs = [];
  const records = [];
  for (let i = 0; i < lines.length; i++) {
    const rec = /^\s*(?:- )?record:\s*["']?([A-Za-z_:][A-Za-z0-9_:]*)["']?\s*$/.exec(lines[i]);
    if (rec) records.push(rec[1]);
    const m = /^(\s*(?:- )?)expr:\s*(.*?)\s*$/.exec(lines[i]);
    if (!m) continue;
    const keyIndent = m[1].length;
    const value = m[2];
    if (/^[|>][+-]?$/.test(value)) {
      const body = [];
      while (i + 1 < lines.length) {
        const next = lines[i + 1];
        const indent = next.length - next.trimStart().length;
        if (next.trim() !== "" && indent <= keyIndent) break;
        body.push(next.trim());
        i++;
      }
      exprs.push(body.join("\n").trim());
    } else if (/^'.*'$/.test(value)) {
      exprs.push(value.slice(1, -1).replace(/''/g, "'"));
    } else if (/^".*"$/.test(value)) {
      exprs.push(JSON.parse(value));
    } else {
      exprs.push(value);
    }
  }
  return { exprs, records };
}

/** Panel queries and query-variable definitions of a Grafana dashboard. */
export function dashboardExprs(dashboard) {
  const exprs = [];
  const walk = (node) => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== "object") return;
    if (typeof node.expr === "string" && node.expr.trim()) exprs.push(node.expr);
    if (Array.isArray(node.panels)) walk(node.panels);
    if (Array.isArray(node.targets)) walk(node.targets);
  };
  walk(dashboard.panels);
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const q = typeof v.query === "string" ? v.query : v.query?.query;
    for (const s of [q, v.definition]) if (typeof s === "string" && s.trim()) exprs.push(s);
  }
  return exprs;
}

// --- a small PromQL reader: selectors and grouping labels --------------------------------

const AGGREGATIONS = new Set([
  "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
  "bottomk", "topk", "quantile", "limitk", "limit_ratio",
]);
const GROUPING = new Set(["by", "without", "on", "ignoring", "group_left", "group_right"]);
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"]);

function readString(s, i) {
  const q = s[i];
  let out = "";
  i++;
  while (i < s.length && s[i] !== q) {
    if (s[i] === "\\" && q !== "`") {
      out += s[i + 1];
      i += 2;
    } else out += s[i++];
  }
  return [out, i + 1];
}

function readMatchers(s, i) {
  // s[i] === "{"
  const matchers = [];
  i++;
  for (;;) {
    while (/[\s,]/.test(s[i] ?? "")) i++;
    if (s[i] === "}") return [matchers, i + 1];
    if (i >= s.length) throw new Error(`unterminated {} in ${s}`);
    const lm = /^[A-Za-z_][A-Za-z0-9_]*/.exec(s.slice(i));
    if (!lm) throw new Error(`bad matcher at ${JSON.stringify(s.slice(i, i + 20))}`);
    i += lm[0].length;
    while (/\s/.test(s[i])) i++;
    const om = /^(=~|!~|!=|=)/.exec(s.slice(i));
    if (!om) throw new Error(`bad matcher operator at ${JSON.stringify(s.slice(i, i + 20))}`);
    i += om[0].length;
    while (/\s/.test(s[i])) i++;
    const [value, j] = readString(s, i);
    i = j;
    matchers.push({ label: lm[0], op: om[0], value });
  }
}

/** The vector selectors and grouping labels of one PromQL expression (Grafana variables allowed). */
export function parsePromql(expr) {
  const lv = /^\s*label_values\(\s*(.*)\s*,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)\s*$/s.exec(expr);
  if (lv) {
    const inner = parsePromql(lv[1]);
    inner.groupLabels.push(lv[2]);
    return inner;
  }
  const s = expr;
  const selectors = [];
  const groupLabels = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"' || c === "'" || c === "`") {
      i = readString(s, i)[1];
    } else if (c === "#") {
      while (i < s.length && s[i] !== "\n") i++;
    } else if (c === "[") {
      while (i < s.length && s[i] !== "]") i++;
      i++;
    } else if (c === "{") {
      const [matchers, j] = readMatchers(s, i);
      i = j;
      const name = matchers.find((m) => m.label === "__name__" && m.op === "=");
      selectors.push({ name: name?.value ?? null, matchers: matchers.filter((m) => m.label !== "__name__") });
    } else if (/[0-9.]/.test(c)) {
      while (i < s.length && /[0-9A-Za-z_.+]/.test(s[i])) {
        if (s[i] === "+" && !/[eE]/.test(s[i - 1])) break;
        i++;
      }
    } else if (c === "$") {
      i++;
      if (s[i] === "{") while (i < s.length && s[i] !== "}") i++;
      while (i < s.length && /[A-Za-z0-9_]/.test(s[i])) i++;
      if (s[i] === "}") i++;
    } else if (/[A-Za-z_:]/.test(c)) {
      const id = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(s.slice(i))[0];
      i += id.length;
      let k = i;
      while (/\s/.test(s[k] ?? "")) k++;
      const lower = id.toLowerCase();
      if (GROUPING.has(lower)) {
        if (s[k] === "(") {
          const close = s.indexOf(")", k);
          for (const l of s.slice(k + 1, close).split(",")) if (l.trim()) groupLabels.push(l.trim());
          i = close + 1;
        }
      } else if (KEYWORDS.has(lower) || AGGREGATIONS.has(lower) || s[k] === "(") {
        // an operator, or a function call: its arguments are read as they come
      } else if (s[k] === "{") {
        const [matchers, j] = readMatchers(s, k);
        i = j;
        selectors.push({ name: id, matchers });
      } else {
        selectors.push({ name: id, matchers: [] });
      }
    } else {
      i++;
    }
  }
  return { selectors, groupLabels };
}

// --- the exposition format ---------------------------------------------------------------

/** name -> [labels object] of every sample in a Prometheus text exposition. */
export function parseExposition(text) {
  const series = new Map();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+\S+/.exec(line);
    if (!m) continue;
    const labels = {};
    const body = m[3] ?? "";
    const re = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let lm;
    while ((lm = re.exec(body))) labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, ch) => (ch === "n" ? "\n" : ch));
    if (!series.has(m[1])) series.set(m[1], []);
    series.get(m[1]).push(labels);
  }
  return series;
}

/** Problems of one expression against the scraped series; [] when all is there. */
export function checkExpr(expr, scraped, recorded) {
  const problems = [];
  const { selectors, groupLabels } = parsePromql(expr);
  const present = [];
  for (const sel of selectors) {
    if (!sel.name) {
      problems.push(`a selector without a metric name`);
      continue;
    }
    if (sel.name.includes(":")) {
      if (!recorded.has(sel.name)) problems.push(`${sel.name}: no recording rule defines it`);
      continue;
    }
    if (PROMETHEUS_OWN.has(sel.name)) {
      for (const m of sel.matchers) {
        if (!TARGET_LABELS.has(m.label)) problems.push(`${sel.name}: only target labels exist, not ${m.label}`);
      }
      continue;
    }
    const rows = scraped.get(sel.name);
    if (!rows) {
      problems.push(`${sel.name}: not in /metrics`);
      continue;
    }
    present.push(rows);
    for (const m of sel.matchers) {
      if (TARGET_LABELS.has(m.label)) continue;
      if (!rows.some((r) => m.label in r)) {
        problems.push(`${sel.name}: no label ${m.label}`);
      } else if (m.op === "=" && m.value !== "" && !m.value.includes("$") && !rows.some((r) => r[m.label] === m.value)) {
        problems.push(`${sel.name}: no series with ${m.label}="${m.value}" (has ${[...new Set(rows.map((r) => r[m.label]))].join(", ")})`);
      }
    }
  }
  for (const l of groupLabels) {
    if (TARGET_LABELS.has(l)) continue;
    if (!present.some((rows) => rows.some((r) => l in r))) problems.push(`grouping label ${l} is on none of its metrics`);
  }
  return problems;
}

export function sources() {
  const out = [];
  const recorded = new Set();
  const dashDir = join(REPO, "deploy", "grafana", "dashboards");
  for (const f of readdirSync(dashDir).filter((n) => n.endsWith(".json")).sort()) {
    const file = join(dashDir, f);
    for (const e of dashboardExprs(JSON.parse(readFileSync(file, "utf8")))) out.push({ file, expr: e });
  }
  for (const file of [join(REPO, "deploy", "prometheus", "alerts.yml"), join(REPO, "k8s", "base", "prometheusrule.yaml")]) {
    const { exprs, records } = ruleFileExprs(readFileSync(file, "utf8"));
    for (const r of records) recorded.add(r);
    for (const e of exprs) out.push({ file, expr: e });
  }
  return { exprs: out, recorded };
}

/** Every problem of every dashboard and alert expression against `scraped`, one line each. */
export function allProblems(scraped) {
  const { exprs, recorded } = sources();
  const problems = [];
  for (const { file, expr } of exprs) {
    for (const p of checkExpr(expr, scraped, recorded)) {
      problems.push(`${relative(REPO, file)}: ${p}\n    in: ${expr.replace(/\s+/g, " ").slice(0, 160)}`);
    }
  }
  return [...new Set(problems)];
}

/** The metric names the dashboard and the alerts select (recording rules and `up` left out). */
export function usedMetricNames() {
  const names = new Set();
  for (const { expr } of sources().exprs) {
    for (const s of parsePromql(expr).selectors) {
      if (s.name && !s.name.includes(":") && !PROMETHEUS_OWN.has(s.name)) names.add(s.name);
    }
  }
  return [...names].sort();
}
