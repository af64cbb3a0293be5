// Real browsers in a meeting: headless Chromium pages (fake camera and microphone), each
// on a different node of a 3-node cluster, join one meeting through classchat's
// signalling (tests/browser/meeting.html) and connect peer to peer with video flowing.
// A second run forces TURN (iceTransportPolicy "relay") through a coturn server started
// here with a shared secret, so the credentials classchat mints are proven to work.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { launchBrowser, startStatic } from "./lib/browser.mjs";
import { sleep } from "./lib/client.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { startTurn } from "./lib/turn.mjs";
import { uid } from "./lib/util.mjs";

const CONNECT_MS = 30_000; // a mesh must be connected within this
const SAMPLE_GAP_MS = 2_000; // between two getStats samples


/** Opens the meeting page for `user` on `node`; page output is kept for failure reports. */
async function openPage(browser, web, node, user, roomId, { relay = false } = {}) {
  const context = await browser.newContext();
  await context.grantPermissions(["camera", "microphone"]);
  const page = await context.newPage();
  const logs = [];
  page.on("console", (m) => logs.push(`[${m.type()}] ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`[pageerror] ${e.message}`));
  const q = new URLSearchParams({ socket: node.socketUrl, rest: node.apiUrl, token: user.token, room: roomId });
  if (relay) q.set("relay", "1");
  await page.goto(`${web.url}/meeting.html?${q}`);
  return { page, context, user, node, logs, label: `${user.id}@${node.socketUrl}` };
}

/** Waits until the page's `meeting-join` was acked and its offers sent; returns the ack's data. */
async function joined(p) {
  await p.page.waitForFunction(() => window.meeting && (window.meeting.done || window.meeting.error), null, {
    timeout: CONNECT_MS,
  });
  const m = await p.page.evaluate(() => ({ error: window.meeting.error, ack: window.meeting.joinAck, peerId: window.meeting.peerId }));
  if (m.error) throw new Error(`${p.label}: ${m.error}`);
  p.peerId = m.peerId;
  return m.ack.data;
}

/** What a page knows: its stats per remote peer, errors, events received. */
async function state(p) {
  return p.page.evaluate(async () => ({
    peerId: window.meeting.peerId,
    error: window.meeting.error,
    signalErrors: window.meeting.signalErrors,
    malformed: window.meeting.malformed,
    left: window.meeting.left,
    events: window.meeting.events.reduce((a, e) => ((a[e] = (a[e] || 0) + 1), a), {}),
    stats: await window.meeting.stats(),
  }));
}

async function describePages(pages) {
  const out = [];
  for (const p of pages) {
    let s;
    try {
      s = JSON.stringify(await state(p), null, 1);
    } catch (e) {
      s = `(no state: ${e.message})`;
    }
    out.push(`--- ${p.label} peer ${p.peerId}\n${s}\n${p.logs.slice(-20).join("\n")}`);
  }
  return out.join("\n");
}

/** Waits until every page has an RTCPeerConnection to each other page, all 'connected'. */
async function meshConnected(pages) {
  const deadline = Date.now() + CONNECT_MS;
  for (;;) {
    let ok = true;
    for (const p of pages) {
      const s = await state(p);
      if (s.error) throw new Error(`${p.label}: ${s.error}\n${await describePages(pages)}`);
      const want = pages.filter((o) => o !== p).map((o) => o.peerId).sort();
      const conn = s.stats.filter((x) => x.connectionState === "connected").map((x) => x.peerId).sort();
      if (JSON.stringify(conn) !== JSON.stringify(want)) ok = false;
    }
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`the mesh of ${pages.length} pages did not connect within ${CONNECT_MS} ms\n${await describePages(pages)}`);
    }
    await sleep(250);
  }
}

/** Two getStats samples: every page receives growing video bytes from every other page. */
async function videoFlowing(pages, { relay }) {
  const first = await Promise.all(pages.map(state));
  await sleep(SAMPLE_GAP_MS);
  const second = await Promise.all(pages.map(state));
  pages.forEach((p, i) => {
    const s = second[i];
    assert.deepEqual(s.signalErrors, [], `${p.label}: refused meeting-signal acks`);
    assert.deepEqual(s.malformed, [], `${p.label}: events not shaped { data, timestamp }`);
    for (const other of pages.filter((o) => o !== p)) {
      const a = first[i].stats.find((x) => x.peerId === other.peerId);
      const b = s.stats.find((x) => x.peerId === other.peerId);
      assert.ok(a && b, `${p.label} has a connection to ${other.label}`);
      assert.equal(b.connectionState, "connected", `${p.label} ← ${other.label}`);
      assert.ok(
        b.videoBytesReceived > a.videoBytesReceived,
        `${p.label} ← ${other.label}: inbound video bytes grew (${a.videoBytesReceived} → ${b.videoBytesReceived})`,
      );
      assert.ok(b.framesDecoded > 0, `${p.label} ← ${other.label}: frames decoded`);
      if (relay) {
        assert.equal(b.localCandidateType, "relay", `${p.label} ← ${other.label}: local candidate of the selected pair`);
        assert.equal(b.remoteCandidateType, "relay", `${p.label} ← ${other.label}: remote candidate of the selected pair`);
      }
    }
  });
  return second;
}

/**
 * A teacher makes a group room with two students and starts a meeting; the teacher on
 * node 1 and a student on node 2 join and connect; then the other student joins on node 3
 * and all three pairs connect. Returns what the later checks need.
 */
async function meshOfThree({ browser, web, cluster, relay, timings }) {
  const [n1, n2, n3] = cluster.nodes;
  const teacher = cluster.user(uid("teacher"), "teacher", "Teacher");
  const s1 = cluster.user(uid("stud"), "student", "Student One");
  const s2 = cluster.user(uid("stud"), "student", "Student Two");
  const room = await n1.ok("POST", "/chat/rooms/group", teacher, { name: "Physics", memberIds: [s1.id, s2.id] }, 201);
  const meeting = await n1.ok("POST", `/chat/rooms/${room.id}/meeting`, teacher, { title: "Physics call" }, 201);
  assert.equal(meeting.roomId, room.id);

  const t0 = Date.now();
  const pA = await openPage(browser, web, n1, teacher, room.id, { relay });
  const ackA = await joined(pA);
  assert.equal(ackA.meetingId, meeting.id, "meeting-join ack names the running meeting");
  assert.deepEqual(ackA.participants.map((x) => x.peerId), [pA.peerId], "the first joiner is alone");
  assert.ok(Array.isArray(ackA.iceServers), "meeting-join ack carries iceServers");

  const pB = await openPage(browser, web, n2, s1, room.id, { relay });
  const ackB = await joined(pB);
  assert.deepEqual(ackB.participants.map((x) => x.peerId).sort(), [pA.peerId, pB.peerId].sort());
  await meshConnected([pA, pB]);
  timings.twoConnectedMs = Date.now() - t0;
  await videoFlowing([pA, pB], { relay });

  const t1 = Date.now();
  const pC = await openPage(browser, web, n3, s2, room.id, { relay });
  const ackC = await joined(pC);
  assert.deepEqual(ackC.participants.map((x) => x.peerId).sort(), [pA.peerId, pB.peerId, pC.peerId].sort());
  const pages = [pA, pB, pC];
  await meshConnected(pages);
  // Those already there were told of the newcomer.
  for (const p of [pA, pB]) {
    const seen = await p.page.evaluate(() => window.meeting.joined);
    const j = seen.find((x) => x.participant?.peerId === pC.peerId);
    assert.ok(j, `${p.label} got meeting-participant-joined for ${pC.label}: ${JSON.stringify(seen)}`);
    assert.equal(j.participant.userId, s2.id);
    assert.equal(j.meetingId, meeting.id);
  }
  timings.threeConnectedMs = Date.now() - t1;
  const stats = await videoFlowing(pages, { relay });

  // Every node sees the same three participants.
  for (const n of cluster.nodes) {
    const m = await n.ok("GET", `/chat/rooms/${room.id}/meeting`, s1, undefined, 200);
    assert.deepEqual(m.participants.map((x) => x.peerId).sort(), pages.map((p) => p.peerId).sort());
  }
  return { room, meeting, pages, users: [teacher, s1, s2], stats };
}

/** Appends node, page and TURN logs to a failure. */
function withLogs(get, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (e) {
      const { cluster, pages = [], turn } = get();
      let extra = "";
      for (const [i, n] of (cluster?.nodes ?? []).entries()) {
        extra += `\n--- node ${i + 1} (${n.alive() ? "running" : `EXITED ${JSON.stringify(n.exit)}`}) stderr tail ---\n${n.logTail(40)}`;
      }
      for (const p of pages) extra += `\n--- page ${p.label} ---\n${p.logs.slice(-20).join("\n")}`;
      if (turn) extra += `\n--- turnserver ---\n${turn.log(40)}`;
      try {
        e.message += extra;
      } catch {
        /* non-writable */
      }
      throw e;
    }
  };
}

describe("real browsers meet through classchat's signalling on three nodes", () => {
  let browser;
  let web;
  before(async () => {
    web = await startStatic();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await web?.close();
  });

  test("two, then three Chromium pages on different nodes connect peer to peer with video flowing", async (t) => {
    const ctx = {};
    await withLogs(() => ctx, async () => {
      ctx.cluster = await startCluster({ nodes: 3 });
      try {
        const timings = {};
        const r = await meshOfThree({ browser, web, cluster: ctx.cluster, relay: false, timings });
        ctx.pages = r.pages;
        t.diagnostic(`two pages connected ${timings.twoConnectedMs} ms after the first opened; three ${timings.threeConnectedMs} ms after the third opened`);
        t.diagnostic(`selected pairs: ${r.stats.flatMap((s) => s.stats.map((x) => `${x.localCandidateType}/${x.remoteCandidateType}`)).join(" ")}`);
        const restIce = await r.pages[0].page.evaluate(() => window.meeting.restIce);
        assert.deepEqual(restIce.iceServers, [], "no STUN or TURN configured: iceServers is empty");

        // The third page goes away: the others are told and close their connection to it.
        const [pA, pB, pC] = r.pages;
        await pC.context.close();
        for (const p of [pA, pB]) {
          await p.page.waitForFunction((id) => window.meeting.left.some((l) => l.peerId === id), pC.peerId, { timeout: 15_000 });
          const s = await state(p);
          assert.deepEqual(s.stats.map((x) => x.peerId), [pA, pB].filter((o) => o !== p).map((o) => o.peerId));
          const l = s.left.find((x) => x.peerId === pC.peerId);
          assert.equal(l.userId, pC.user.id);
          assert.equal(l.reason, "disconnected");
        }
        for (const p of [pA, pB]) await p.context.close();
      } finally {
        await ctx.cluster.stop();
      }
    })(t);
  });

  test("with iceTransportPolicy relay, the pages connect through coturn with the TURN credentials classchat mints", async (t) => {
    const ctx = {};
    await withLogs(() => ctx, async () => {
      ctx.turn = await startTurn();
      try {
        ctx.cluster = await startCluster({
          nodes: 3,
          env: { CLASSCHAT_TURN_URLS: ctx.turn.url, CLASSCHAT_TURN_SECRET: ctx.turn.secret, CLASSCHAT_TURN_TTL: "600" },
        });
        const timings = {};
        const r = await meshOfThree({ browser, web, cluster: ctx.cluster, relay: true, timings });
        ctx.pages = r.pages;
        t.diagnostic(`relayed: two pages connected ${timings.twoConnectedMs} ms after the first opened; three ${timings.threeConnectedMs} ms after the third opened`);

        // The credentials each page got are the TURN REST scheme's, for its own user.
        for (const p of r.pages) {
          const { restIce, ackIce } = await p.page.evaluate(() => ({
            restIce: window.meeting.restIce,
            ackIce: window.meeting.joinAck.data.iceServers,
          }));
          for (const list of [restIce.iceServers, ackIce]) {
            const turnEntry = list.find((e) => [].concat(e.urls).includes(ctx.turn.url));
            assert.ok(turnEntry, `${p.label}: a TURN entry for ${ctx.turn.url} in ${JSON.stringify(list)}`);
            const m = /^(\d+):(.+)$/.exec(turnEntry.username);
            assert.ok(m, `username "<expiry>:<userId>": ${turnEntry.username}`);
            assert.equal(m[2], p.user.id);
            const expiry = Number(m[1]) - Date.now() / 1000;
            assert.ok(expiry > 500 && expiry <= 610, `expiry is CLASSCHAT_TURN_TTL (600 s) ahead: ${expiry}`);
          }
          assert.equal(restIce.ttl, 600);
        }
        // coturn itself allocated relays for each user.
        for (const u of r.users) {
          const allocs = ctx.turn.grep(new RegExp(`user <\\d+:${u.id}>: incoming packet ALLOCATE processed, success`));
          assert.ok(allocs.length > 0, `coturn allocated a relay for ${u.id}`);
        }

        // Control: the same TURN entry with a tampered credential gets no relay candidate.
        const tampered = await r.pages[0].page.evaluate(async (url) => {
          const e = window.meeting.iceServers.find((x) => [].concat(x.urls).includes(url));
          const pc = new RTCPeerConnection({
            iceServers: [{ ...e, credential: e.credential + "x" }],
            iceTransportPolicy: "relay",
          });
          const found = [];
          pc.onicecandidate = (ev) => ev.candidate && found.push(ev.candidate.candidate);
          pc.createDataChannel("probe");
          await pc.setLocalDescription(await pc.createOffer());
          await new Promise((res) => setTimeout(res, 5000));
          pc.close();
          return found;
        }, ctx.turn.url);
        assert.deepEqual(tampered, [], "a wrong TURN credential yields no relay candidate");

        for (const p of r.pages) await p.context.close();
      } finally {
        await ctx.cluster?.stop();
        await ctx.turn.stop();
      }
    })(t);
  });
});
