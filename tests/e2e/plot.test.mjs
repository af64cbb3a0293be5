// loadtest/plot.py on small fixtures: the JSON reports of a tiny real fanout run
// (classchat-load against one classchat node and one Node.js peer, in
// tests/fixtures/loadtest/) and the step lines of a load generator log. It must write a
// well-formed SVG with one line per server, a marker per step, axes and a legend.

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const FIXTURES = join(REPO, "tests", "fixtures", "loadtest");

function plot(args) {
  const dir = mkdtempSync(join(tmpdir(), "classchat-plot-"));
  const out = join(dir, "plot.svg");
  const r = spawnSync("python3", [join(REPO, "loadtest", "plot.py"), "-o", out, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const svg = readFileSync(out, "utf8");
  // Well-formed XML, checked by Python's own parser.
  const xml = spawnSync("python3", ["-c", "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])", out], { encoding: "utf8" });
  assert.equal(xml.status, 0, xml.stderr);
  rmSync(dir, { recursive: true, force: true });
  return svg;
}

const count = (svg, re) => (svg.match(re) ?? []).length;

test("plot.py draws p99 against deliveries/s for each server's report", () => {
  const svg = plot([
    `classchat=${join(FIXTURES, "fanout-classchat.json")}`,
    `Node.js Socket.IO=${join(FIXTURES, "fanout-node.json")}`,
  ]);
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.equal(count(svg, /<polyline class="series"/g), 2);
  assert.match(svg, /data-label="classchat"/);
  assert.match(svg, /data-label="Node.js Socket.IO"/);
  // Three steps per run: a marker each (with its numbers as a tooltip), plus two legend markers.
  assert.equal(count(svg, /<title>classchat: \d+ msg\/s, [\d,]+ deliveries\/s, p99 [\d.]+ ms<\/title>/g), 3);
  assert.equal(count(svg, /<title>Node.js Socket.IO: /g), 3);
  assert.equal(count(svg, /<circle /g), 8);
  // Axes: labels, the log-scale decades, the x ticks, the 50 ms target and the scenario.
  assert.match(svg, />deliveries per second</);
  assert.match(svg, />p99 latency, ms \(log scale\)</);
  assert.match(svg, />1<\/text>/);
  assert.match(svg, />10<\/text>/);
  assert.match(svg, />100<\/text>/);
  assert.match(svg, />200<\/text>/);
  assert.match(svg, /target: p99 &lt; 50 ms/);
  assert.match(svg, /2 rooms × 20 members, 1 node per server/);
});

test("plot.py also reads the step lines of a load generator log, named after the file", () => {
  const svg = plot(["--target-ms", "0", join(FIXTURES, "fanout-classchat-steps.log")]);
  assert.equal(count(svg, /<polyline class="series"/g), 1);
  assert.match(svg, /data-label="fanout-classchat-steps"/);
  assert.equal(count(svg, /<title>fanout-classchat-steps: /g), 3);
  assert.doesNotMatch(svg, /target:/);
});
