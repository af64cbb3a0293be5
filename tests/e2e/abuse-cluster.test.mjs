// Issue 11 #11 against a running cluster: per-user rate limits count across every node
// (Redis buckets), and fall back to each node's own buckets, counted, while Redis is down.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { sleep } from "./lib/client.mjs";
import { metric, startCluster } from "./lib/cluster.mjs";
import { uid } from "./lib/util.mjs";

const BURST = 6;

describe("cluster-wide rate limits (issue 11 #11)", () => {
  let c;
  before(async () => {
    c = await startCluster({
      nodes: 3,
      env: { CLASSCHAT_RATE_SEND_BURST: String(BURST), CLASSCHAT_RATE_SEND_PER_SEC: "1" },
    });
  });
  after(async () => {
    await c?.stop();
  });

  async function sendRound(t, room, n, label) {
    const out = c.nodes.map(() => ({ ok: 0, limited: 0 }));
    const tries = [];
    for (let i = 0; i < n; i++) {
      const k = i % c.nodes.length;
      tries.push(
        c.nodes[k].rest("POST", `/chat/rooms/${room}/messages`, t, { content: `${label} ${i}` }).then((r) => {
          if (r.status === 201) out[k].ok += 1;
          else if (r.status === 429) out[k].limited += 1;
          else throw new Error(`send answered ${r.status}: ${JSON.stringify(r.body)}`);
        }),
      );
    }
    await Promise.all(tries);
    return out;
  }

  test("a user sending through all three nodes gets the cluster-wide burst, not three times it; with Redis stopped each node limits on its own and counts the fallback", async () => {
    const [A] = c.nodes;
    for (const n of c.nodes) assert.equal(await metric(n, "classchat_rate_limit_fallback_total"), 0, "the fallback counter is there from start");
    const t = c.user(uid("t"), "teacher");
    const room = await A.ok("POST", "/chat/rooms/group", t, { name: "rl", memberIds: [] }, 201);

    const up = await sendRound(t, room.id, 3 * BURST * 2, "up");
    const accepted = up.reduce((s, x) => s + x.ok, 0);
    // The burst, plus at most a token or two refilled (1/s) while the round runs.
    assert.ok(accepted >= BURST && accepted <= BURST + 2, `accepted ${accepted} of ${3 * BURST * 2} across 3 nodes (burst ${BURST}): ${JSON.stringify(up)}`);
    for (const n of c.nodes) assert.equal(await metric(n, "classchat_rate_limit_fallback_total"), 0);

    await c.redis.stop();
    await sleep(500);
    const down = await sendRound(t, room.id, 3 * BURST * 2, "down");
    for (const [k, x] of down.entries()) {
      assert.ok(x.ok >= 1 && x.ok <= BURST + 2, `node ${k + 1} accepted ${x.ok} with Redis down: ${JSON.stringify(down)}`);
      assert.ok(x.limited >= 1, `node ${k + 1} limited nothing with Redis down`);
      assert.ok((await metric(c.nodes[k], "classchat_rate_limit_fallback_total")) >= BURST * 2, `node ${k + 1} fallback counter`);
    }
  });
});
