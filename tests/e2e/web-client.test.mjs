// The web client at /app/ (issue 14, first part) in headless Chromium against a
// zero-configuration node: a teacher and a student sign in with "try it" in two browser
// contexts (the student on a phone-sized screen), the teacher creates a group, they chat
// live with typing and read receipts shown, the teacher deletes the student's message,
// and an unread badge counts a message in another room until it
// is opened; then on two nodes behind HAProxy, signed in with pasted tokens, two students
// on different nodes chat live with their teacher. Screenshots go to a temp directory, or to docs/screenshots/ with
// CLASSCHAT_UPDATE_SCREENSHOTS=1.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { launchBrowser } from "./lib/browser.mjs";
import { startCluster } from "./lib/cluster.mjs";
import { startServer } from "./lib/server.mjs";
import { eventually, uid } from "./lib/util.mjs";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = process.env.CLASSCHAT_UPDATE_SCREENSHOTS === "1"
  ? join(REPO, "docs", "screenshots")
  : mkdtempSync(join(tmpdir(), "classchat-shots-"));
mkdirSync(SHOTS, { recursive: true });

async function tryIt(page, url, name, role) {
  await page.goto(`${url}/app/`);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Role").selectOption(role);
  await page.getByRole("button", { name: "Try it" }).click();
  await page.locator("#chat").waitFor({ state: "visible" });
  await page.getByText("online", { exact: true }).waitFor();
}

describe("the web client", () => {
  let node;
  let browser;
  before(async () => {
    // No secret, no key, no Redis: "try it" is on.
    node = await startServer({ env: { CLASSCHAT_JWT_SECRET: "" } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  test("a teacher and a student sign in with try it, chat live with typing shown, and unread badges count", async () => {
    const teacherCtx = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const studentCtx = await browser.newContext({ viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true });
    const teacher = await teacherCtx.newPage();
    const student = await studentCtx.newPage();
    try {
      await student.goto(`${node.apiUrl}/app/`);
      await student.screenshot({ path: join(SHOTS, "sign-in.png") });
      await tryIt(teacher, node.apiUrl, "Ms Rivera", "teacher");
      await tryIt(student, node.apiUrl, "Sam", "student");

      // The teacher makes a group with the student (user id "sam", from the name).
      await teacher.getByRole("button", { name: "New group" }).click();
      await teacher.getByLabel("Group name").fill("Physics");
      await teacher.getByLabel("Member ids, comma-separated").fill("sam");
      await teacher.getByRole("button", { name: "OK" }).click();
      await teacher.getByRole("heading", { name: "Physics" }).waitFor();

      // The student's room list gets it live (group-invite); on a phone the list is the page.
      await student.getByRole("button", { name: /Physics/ }).click();
      await student.getByRole("heading", { name: "Physics" }).waitFor();

      await teacher.getByLabel("Message").fill("Chapter 4 for Monday, please");
      await teacher.getByLabel("Message").press("Enter");
      await student.locator(".message .content", { hasText: "Chapter 4 for Monday, please" }).waitFor();

      await student.getByLabel("Message").pressSequentially("On page 80 n", { delay: 20 });
      await teacher.getByText("Sam is typing…").waitFor();
      await student.getByLabel("Message").press("Enter");
      await teacher.locator(".message .content", { hasText: "On page 80 n" }).waitFor();
      await assert.doesNotReject(teacher.getByText("Sam is typing…").waitFor({ state: "hidden" }));
      // Read receipts: the student read the teacher's message.
      await teacher.locator(".message", { hasText: "Chapter 4 for Monday" }).getByText("Seen by sam").waitFor();
      await teacher.screenshot({ path: join(SHOTS, "chat-teacher.png") });
      await student.screenshot({ path: join(SHOTS, "chat-phone.png") });
      // Delete: a student may delete their own message only; a teacher a student's.
      assert.equal(await student.locator(".message", { hasText: "Chapter 4 for Monday" }).getByRole("button").count(), 0);
      assert.equal(await student.locator(".message", { hasText: "On page 80 n" }).getByRole("button", { name: /Delete/ }).count(), 1);
      await teacher.locator(".message", { hasText: "On page 80 n" }).getByRole("button", { name: /Delete/ }).click();
      for (const p of [teacher, student]) {
        await p.locator(".message .content", { hasText: "(deleted)" }).waitFor();
        assert.equal(await p.locator(".message .content", { hasText: "On page 80 n" }).count(), 0);
      }

      // A second room: its message counts as unread for the student until opened.
      await teacher.getByRole("button", { name: "New group" }).click();
      await teacher.getByLabel("Group name").fill("Chemistry");
      await teacher.getByLabel("Member ids, comma-separated").fill("sam");
      await teacher.getByRole("button", { name: "OK" }).click();
      await teacher.getByRole("heading", { name: "Chemistry" }).waitFor();
      await teacher.getByLabel("Message").fill("Lab coats tomorrow");
      await teacher.getByLabel("Message").press("Enter");
      await student.getByRole("button", { name: "Back to rooms" }).click();
      const badge = student.getByRole("button", { name: /Chemistry/ }).locator(".badge");
      await badge.waitFor();
      assert.equal(await badge.textContent(), "1");
      await student.screenshot({ path: join(SHOTS, "rooms-phone.png") });
      await student.getByRole("button", { name: /Chemistry/ }).click();
      await student.locator(".message .content", { hasText: "Lab coats tomorrow" }).waitFor();
      await student.getByRole("button", { name: "Back to rooms" }).click();
      assert.equal(await student.getByRole("button", { name: /Chemistry/ }).locator(".badge").count(), 0, "read once opened");

      // What the server stored: every message once.
      const rooms = await node.ok("GET", "/chat/rooms", await teacher.evaluate(() => sessionStorage.getItem("classchat-token")));
      const physics = rooms.find((r) => r.name === "Physics");
      assert.equal(physics.lastMessage.content, null, "deleted from the page");
      assert.equal(physics.lastMessage.deletedBy, "ms-rivera");
      assert.equal(physics.lastMessage.seq, 2);
    } finally {
      await teacherCtx.close();
      await studentCtx.close();
    }
  });

  test("try it is refused where a token key is configured, and the page says so", async () => {
    const configured = await startServer({});
    try {
      const cfg = await (await fetch(`${configured.apiUrl}/app/config.json`)).json();
      assert.equal(cfg.tryIt, false);
      assert.ok(cfg.socketPort > 0);
      const r = await configured.rest("POST", "/app/try-token", null, { name: "Eve", role: "admin" });
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, "try_it_disabled");
      const page = await browser.newPage();
      await page.goto(`${configured.apiUrl}/app/`);
      await page.getByLabel("Token (JWT)").waitFor();
      assert.equal(await page.getByRole("button", { name: "Try it" }).isVisible(), false);
      await page.close();
    } finally {
      await configured.stop();
    }
  });
});

describe("the web client on two nodes behind HAProxy", () => {
  let c;
  let browser;
  before(async () => {
    // The page comes from the load balancer's API port; its Socket.IO from the balancer's
    // Socket.IO port, which CLASSCHAT_WEB_SOCKET_URL names.
    c = await startCluster({ nodes: 2, lb: true, env: ({ lbSocketUrl }) => ({ CLASSCHAT_WEB_SOCKET_URL: lbSocketUrl }) });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await c?.stop();
  });

  async function signIn(user) {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(`${c.lb.apiUrl}/app/`);
    await page.getByLabel("Token (JWT)").fill(user.token);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByText("online", { exact: true }).waitFor();
    return { ctx, page };
  }

  test("a teacher makes a group and two students on different nodes chat with her live", async () => {
    const t = c.user(uid("t"), "teacher", "Ms Rivera");
    const [a, b] = [c.user(uid("ana"), "student", "Ana"), c.user(uid("ben"), "student", "Ben")];
    const admin = c.user(uid("admin"), "admin");
    const teacher = await signIn(t);
    const ana = await signIn(a);
    const ben = await signIn(b);
    try {
      assert.equal(await ana.page.getByRole("button", { name: "Try it" }).count(), 0);
      await teacher.page.getByRole("button", { name: "New group" }).click();
      await teacher.page.getByLabel("Group name").fill("Biology");
      await teacher.page.getByLabel("Member ids, comma-separated").fill(`${a.id}, ${b.id}`);
      await teacher.page.getByRole("button", { name: "OK" }).click();
      await teacher.page.getByRole("heading", { name: "Biology" }).waitFor();
      for (const s of [ana, ben]) {
        await s.page.getByRole("button", { name: /Biology/ }).click();
        await s.page.getByRole("heading", { name: "Biology" }).waitFor();
      }
      // Three browsers through the balancer: both nodes hold some of them.
      const stats = await eventually("sockets on both nodes", async () => {
        const st = await c.nodes[0].ok("GET", "/chat/ws/stats", admin);
        return st.nodes.length === 2 && st.nodes.every((n) => n.connections >= 1) && st;
      });
      assert.equal(stats.connections, 3);

      await ana.page.getByLabel("Message").fill("Is the quiz on cells?");
      await ana.page.getByLabel("Message").press("Enter");
      for (const p of [ben.page, teacher.page]) await p.locator(".message .content", { hasText: "Is the quiz on cells?" }).waitFor();
      await ben.page.getByLabel("Message").pressSequentially("I think so", { delay: 20 });
      await ana.page.getByText("Ben is typing…").waitFor();
      await ben.page.getByLabel("Message").press("Enter");
      await teacher.page.getByLabel("Message").fill("Yes: chapters 2 and 3");
      await teacher.page.getByLabel("Message").press("Enter");
      for (const p of [ana.page, ben.page, teacher.page]) {
        await p.locator(".message .content", { hasText: "Yes: chapters 2 and 3" }).waitFor();
        const texts = await p.locator(".message .content").allTextContents();
        assert.deepEqual(texts, ["Is the quiz on cells?", "I think so", "Yes: chapters 2 and 3"], "every message once, in order");
      }
    } finally {
      for (const x of [teacher, ana, ben]) await x.ctx.close();
    }
  });
});
