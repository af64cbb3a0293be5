// Smoke runs of every classchat-load scenario against a spawned 2-node cluster, with small
// numbers: they must run, fanout, reaction-fanout and meeting-signal must lose, duplicate
// and reorder nothing, the meeting-storm must converge, and class-start's room counts
// must end right (no timing asserts).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

import { startCluster } from "./lib/cluster.mjs";
import { BIN, LIFTED_RATES } from "./lib/server.mjs";

const LOAD_BIN = process.env.CLASSCHAT_LOAD_BIN || join(dirname(BIN), "classchat-load");
const run = promisify(execFile);

describe("classchat-load scenarios against two nodes", () => {
  let c;
  let nodeArgs;
  before(async () => {
    c = await startCluster({
      nodes: 2,
      env: {
        ...LIFTED_RATES,
        // Meetings: signals and joins in bulk, a storm bigger than the default meeting.
        CLASSCHAT_RATE_SIGNAL_PER_SEC: "100000",
        CLASSCHAT_RATE_SIGNAL_BURST: "100000",
        CLASSCHAT_RATE_MEETING_PER_SEC: "100000",
        CLASSCHAT_RATE_MEETING_BURST: "100000",
        CLASSCHAT_MEETING_MAX_PARTICIPANTS: "32",
      },
    });
    nodeArgs = c.nodes.flatMap((n) => ["--api", `http://${n.apiAddr}`, "--socket", n.socketAddr]);
    nodeArgs.push("--secret", c.secret, ...c.nodes.flatMap((n) => ["--server-pid", String(n.proc.pid)]));
  });
  after(async () => {
    await c?.stop();
  });

  async function load(...args) {
    const { stdout } = await run(LOAD_BIN, [...args, ...nodeArgs], { timeout: 120_000, maxBuffer: 1 << 24 });
    const report = JSON.parse(stdout.trim().split("\n").pop());
    console.log(`${args[0]}: ${JSON.stringify(report)}`);
    return report;
  }

  for (const via of ["socket", "rest"]) {
    test(`fanout over ${via}: every acknowledged message reaches every member once, in order`, async () => {
      const r = await load("fanout", "--rooms", "3", "--members", "20", "--rate", "60", "--duration", "3", "--via", via);
      assert.ok(r.acked > 0);
      assert.equal(r.sendErrors, 0);
      assert.equal(r.connectErrors, 0);
      assert.equal(r.receivers, 60);
      assert.equal(r.lost, 0);
      assert.equal(r.duplicated, 0);
      assert.equal(r.outOfOrder, 0);
      assert.equal(r.deliveries, r.acked * 20);
    });
  }

  test("connect: every socket connects", async () => {
    const r = await load("connect", "--sockets-total", "300", "--duration", "1");
    assert.equal(r.sockets, 300);
    assert.equal(r.connectErrors, 0);
  });

  test("class-start: a room above the count threshold gets right room-online-counts, and messages sent during the storm arrive once, in order", async () => {
    const r = await load("class-start", "--rooms", "2", "--members", "210", "--rate", "20", "--concurrency", "100");
    assert.equal(r.connectErrors, 0);
    assert.equal(r.sockets, 420);
    assert.equal(r.acked, r.sent);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.statusUsersPerSocket, 0, "no per-member status events in a room of 211");
    assert.equal(r.socketsWithCount, 420);
    assert.equal(r.countsWrong, 0, `every socket's last count is ${r.expectedCount}`);
  });

  test("class-start --batched: below the threshold, sockets that opted in get batches of contacts' states", async () => {
    const r = await load("class-start", "--rooms", "2", "--members", "30", "--rate", "20", "--batched");
    assert.equal(r.connectErrors, 0);
    assert.equal(r.sockets, 60);
    assert.ok(r.statusUsersPerSocket > 0);
    assert.ok(r.statusUsersPerSocket >= r.statusEventsPerSocket, "a batch holds one user's state or more");
    assert.equal(r.countEvents, 0);
  });

  test("presence-churn: users cycle and the watcher ends up seeing them offline", async () => {
    const r = await load("presence-churn", "--members", "10", "--duration", "3");
    assert.ok(r.cycles > 0);
    assert.equal(r.connectErrors, 0);
    assert.ok(r.statusSet > 0, "statuses were set");
    assert.equal(r.statusErrors, 0);
    assert.equal(r.busySeen, r.statusSet, "the watcher saw each busy status once");
    assert.ok(r.statusUpdatesSeen >= 2 * r.cycles + r.statusSet, "an online and an offline update per visit");
    assert.equal(r.usersLeftOnline, 0);
  });

  test("meeting-signal: every acknowledged signal reaches its peer once, in order, from its sender", async () => {
    const r = await load("meeting-signal", "--rooms", "2", "--members", "4", "--rate", "50,100", "--duration", "2");
    assert.equal(r.connectErrors, 0);
    assert.equal(r.peers, 8);
    assert.equal(r.receivers, 8);
    assert.ok(r.acked > 0);
    assert.equal(r.sendErrors, 0);
    assert.deepEqual(r.errors, {});
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.outOfOrder, 0);
    assert.equal(r.misattributed, 0, "relayed with the sender's peer id, within its meeting");
    assert.equal(r.unparsed, 0);
    assert.equal(r.receivedWithoutOkAck, 0);
    assert.equal(r.deliveries, r.acked);
    assert.equal(r.steps.length, 2);
  });

  test("meeting-storm: every peer's participant list ends up the full set", async () => {
    const r = await load("meeting-storm", "--members", "12", "--join-window", "0.5");
    assert.equal(r.connectErrors, 0);
    assert.equal(r.joinErrors, 0);
    assert.equal(r.converged, true);
    assert.equal(r.listsRight, 12);
    assert.deepEqual(r.listSizes, Array(12).fill(12));
    assert.equal(r.regressions, 0);
    assert.equal(r.leftEvents, 0);
    assert.ok(r.allListsRightMs > 0);
  });

  test("reaction-fanout: every acknowledged reaction reaches every member once", async () => {
    const r = await load("reaction-fanout", "--members", "30", "--reactors", "5", "--rate", "20", "--duration", "3");
    assert.ok(r.acked > 0);
    assert.equal(r.sendErrors, 0);
    assert.equal(r.receivers, 30);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicated, 0);
    assert.equal(r.deliveries, r.acked * 30);
  });

  test("upload: concurrent uploaders store files without errors", async () => {
    const r = await load("upload", "--concurrency", "3", "--upload-kib", "256", "--duration", "2");
    assert.ok(r.uploads > 0);
    assert.equal(r.errors, 0);
    assert.ok(r.mebibytesPerSecond > 0);
  });

  test("typing-storm: indicators reach the other members", async () => {
    const r = await load("typing-storm", "--rooms", "2", "--members", "5", "--rate", "20", "--duration", "2");
    assert.equal(r.typingRefused, 0);
    assert.ok(r.typingEventsReceived >= r.typingAccepted * 4, "each accepted start reaches the 4 others");
  });

  test("search: every query sent on schedule is answered", async () => {
    const r = await load("search", "--members", "5", "--rate", "20", "--duration", "2");
    assert.ok(r.queries >= 30);
    assert.equal(r.errors, 0);
    assert.equal(r.answered, r.queries);
    assert.equal(r.latencyMs.count, r.queries);
  });
});
