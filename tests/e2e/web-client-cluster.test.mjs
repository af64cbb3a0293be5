// The web client at /app/ on two nodes behind HAProxy, in headless Chromium, signed in
// with tokens: a teacher makes a group, two students on different nodes chat with her
// live (typing and "Seen by" shown), a student's network is cut and restored and their
// view fills in (nothing missing or doubled, the message they wrote offline sent once),
// delete and unread badges behave, and a meeting between two pages connects with video.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { launchBrowser } from "./lib/browser.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { eventually, uid } from "./lib/util.mjs";
import { act, meetingStats, message, messageBox, networkSwitch, newGroup, openRoom, roomButton, send, shot, shows, signInWithToken, texts } from "./lib/web.mjs";

describe("the web client on two nodes behind HAProxy", () => {
  let c;
  let browser;
  before(async () => {
    // The page comes from the balancer's API port; its Socket.IO from the balancer's
    // Socket.IO port, which CLASSCHAT_WEB_SOCKET_URL names.
    c = await startCluster({ nodes: 2, lb: true, env: ({ lbSocketUrl }) => ({ CLASSCHAT_WEB_SOCKET_URL: lbSocketUrl }) });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await c?.stop();
  });

  const signIn = (user, opts) => signInWithToken(browser, c.lb.apiUrl, user.token, opts);

  test("a class chats across nodes, a student's view fills in after a network cut, and badges and deletes behave", async () => {
    const t = c.user(uid("t"), "teacher", "Ms Rivera");
    const [a, b] = [c.user(uid("ana"), "student", "Ana"), c.user(uid("ben"), "student", "Ben")];
    const admin = c.user(uid("admin"), "admin");
    let net;
    const teacher = await signIn(t);
    const ana = await signIn(a);
    const ben = await signIn(b, { setup: async (ctx) => (net = await networkSwitch(ctx)) });
    try {
      assert.equal(await ana.page.getByRole("button", { name: "Try it" }).count(), 0);
      await newGroup(teacher.page, "Biology", [a.id, b.id]);
      for (const s of [ana, ben]) await openRoom(s.page, "Biology");
      // Three browsers through the balancer: both nodes hold some of them. The other
      // node's figures are those of its last heartbeat, so the total catches up within one.
      const stats = await eventually("three sockets, on both nodes", async () => {
        const st = await c.nodes[0].ok("GET", "/chat/ws/stats", admin);
        return st.nodes.length === 2 && st.nodes.every((n) => n.connections >= 1) && st.connections === 3 && st;
      });
      assert.equal(stats.connections, 3);

      await send(ana.page, "Is the quiz on cells?");
      for (const p of [ben.page, teacher.page]) await shows(p, "Is the quiz on cells?");
      await messageBox(ben.page).pressSequentially("I think so", { delay: 20 });
      await ana.page.getByText("Ben is typing…").waitFor();
      await messageBox(ben.page).press("Enter");
      await send(teacher.page, "Yes: chapters 2 and 3");
      for (const p of [ana.page, ben.page, teacher.page]) {
        await shows(p, "Yes: chapters 2 and 3");
        assert.deepEqual(await texts(p), ["Is the quiz on cells?", "I think so", "Yes: chapters 2 and 3"], "every message once, in order");
      }
      // Read receipts: both students have the room open, so they read the teacher's message.
      await message(teacher.page, "Yes: chapters 2 and 3").getByText(/Seen by (Ana, Ben|Ben, Ana)/).waitFor();

      // Ben's network goes down: his page notices, the others go on.
      await net.cut();
      await ben.page.locator("#conn", { hasText: /reconnecting|offline/ }).waitFor();
      await send(teacher.page, "Bring your lab notebook");
      await send(ana.page, "Which one?");
      await send(teacher.page, "The green one");
      await act(teacher.page, "Which one?", "Delete"); // a teacher may delete a student's message
      await ana.page.locator(".message .content", { hasText: "(deleted)" }).waitFor();
      await send(ben.page, "Sorry, my wifi"); // written offline: shown pending, sent on reconnect
      await ben.page.locator(".message.pending", { hasText: "Sorry, my wifi" }).waitFor();
      assert.equal(await ben.page.locator(".message .content", { hasText: "The green one" }).count(), 0, "nothing arrives while cut");
      await net.restore();
      const want = ["Is the quiz on cells?", "I think so", "Yes: chapters 2 and 3", "Bring your lab notebook", "(deleted)", "The green one", "Sorry, my wifi"];
      for (const p of [ben.page, ana.page, teacher.page]) {
        await shows(p, "Sorry, my wifi");
        await p.locator(".message.pending").waitFor({ state: "detached" });
        await eventually("the view filled in", async () => {
          const got = await texts(p);
          assert.deepEqual(got, want);
          return true;
        });
      }
      await ben.page.locator("#conn", { hasText: /^online$/ }).waitFor();
      await shot(ben.page, "reconnected.png");

      // What the server stored: each message once, in this order.
      const rooms = await c.nodes[1].ok("GET", "/chat/rooms", t);
      const biology = rooms.find((r) => r.name === "Biology");
      const history = await c.nodes[1].ok("GET", `/chat/rooms/${biology.id}/messages?limit=50`, t);
      assert.deepEqual(history.map((m) => m.content ?? "(deleted)").reverse(), want);

      // Delete rules on the page: a student has no Delete on others' messages, has one on their own.
      const actionsOf = async (page, text) => {
        await message(page, text).getByRole("button", { name: /^Actions for/ }).click();
        const names = await message(page, text).getByRole("group", { name: "Message actions" }).getByRole("button").allTextContents();
        await message(page, text).getByRole("button", { name: /^Actions for/ }).click();
        return names;
      };
      assert.ok(!(await actionsOf(ben.page, "The green one")).includes("Delete"));
      assert.ok((await actionsOf(ben.page, "Sorry, my wifi")).includes("Delete"));
      await act(ben.page, "Sorry, my wifi", "Delete");
      await eventually("deleted everywhere", async () => {
        for (const p of [ana.page, teacher.page]) if ((await message(p, "Sorry, my wifi").count()) !== 0) return false;
        return true;
      });

      // Unread badges: a 1:1 message from the teacher counts for Ana until she opens it.
      await teacher.page.getByRole("button", { name: "New chat" }).click();
      await teacher.page.getByLabel("Their user id").fill(a.id);
      await teacher.page.getByRole("button", { name: "OK", exact: true }).click();
      await teacher.page.getByRole("heading", { name: "Ana" }).waitFor();
      await send(teacher.page, "Can you stay after class?");
      await send(teacher.page, "Just for five minutes");
      const badge = roomButton(ana.page, "Ms Rivera").locator(".badge");
      await eventually("two unread", async () => (await badge.count()) === 1 && (await badge.textContent()) === "2");
      await openRoom(ana.page, "Ms Rivera");
      await shows(ana.page, "Just for five minutes");
      assert.equal(await badge.count(), 0, "read once opened");
      const back = await c.nodes[0].ok("GET", "/chat/rooms", a);
      assert.equal(back.find((r) => r.type === "personal").unreadCount, 0, "the server agrees");
    } finally {
      for (const x of [teacher, ana, ben]) await x.ctx.close();
    }
  });

  test("a teacher starts a meeting from the page and a student on the other node joins with video both ways", async () => {
    const t = c.user(uid("t"), "teacher", "Mr Okafor");
    const s = c.user(uid("sia"), "student", "Sia");
    const teacher = await signIn(t, { viewport: { width: 1100, height: 760 } });
    const student = await signIn(s);
    try {
      await newGroup(teacher.page, "Drama", [s.id]);
      await openRoom(student.page, "Drama");
      await teacher.page.getByRole("button", { name: "Start meeting" }).click();
      await teacher.page.locator("#meeting-status", { hasText: "In the meeting with 0 others" }).waitFor();
      await student.page.getByRole("button", { name: "Join meeting (1)" }).click();
      await student.page.locator("#meeting-status", { hasText: "In the meeting with 1 other" }).waitFor();
      const connected = async (page) => {
        const first = await eventually("a connected peer", async () => {
          const st = await meetingStats(page);
          return st.length === 1 && st[0].state === "connected" && st[0].bytes > 0 && st[0];
        }, { timeout: 30_000 });
        // Video keeps arriving.
        await eventually("video bytes growing", async () => (await meetingStats(page))[0].bytes > first.bytes);
        return first;
      };
      assert.equal((await connected(teacher.page)).name, "Sia");
      assert.equal((await connected(student.page)).name, "Mr Okafor");
      await teacher.page.getByRole("figure").filter({ hasText: "Sia" }).waitFor();
      await shot(teacher.page, "meeting.png");

      // Mute is told to the others; leaving removes the tile on the other page.
      await student.page.getByRole("button", { name: "Mute" }).click();
      await student.page.getByRole("button", { name: "Unmute" }).waitFor();
      const meeting = await eventually("the server knows Sia muted", async () => {
        const m = await c.nodes[0].ok("GET", `/chat/rooms/${await roomId(teacher.page)}/meeting`, t);
        return m.participants.find((p) => p.userId === s.id)?.audio === false && m;
      });
      assert.equal(meeting.participants.length, 2);
      await student.page.getByRole("button", { name: "Leave" }).click();
      await teacher.page.getByRole("figure").filter({ hasText: "Sia" }).waitFor({ state: "detached" });
      assert.equal((await meetingStats(teacher.page)).length, 0);
    } finally {
      await teacher.ctx.close();
      await student.ctx.close();
    }
  });
});

const roomId = (page) => page.evaluate(() => document.querySelector(".room-item.current").dataset.roomId);
