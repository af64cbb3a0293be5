// The web client at /app/ in headless Chromium against a zero-configuration node: two
// people sign in with "try it" (one on a phone-sized screen) and use every part of the
// page: a group, live chat with typing, "Seen by", delete rules, unread badges, presence
// and last seen, notifications, replies, reactions, edits, pins, forwarding, search,
// attachments with an upload progress bar, voice messages, infinite scroll, and the
// keyboard and axe-core accessibility checks. Screenshots go to a temp directory, or to
// docs/screenshots/ with CLASSCHAT_UPDATE_SCREENSHOTS=1. Two nodes behind HAProxy:
// web-client-cluster.test.mjs.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { launchBrowser } from "./lib/browser.mjs";
import { LIFTED_RATES, startServer } from "./lib/server.mjs";
import { eventually } from "./lib/util.mjs";
import { act, axeViolations, message, messageBox, newGroup, openRoom, roomButton, send, shot, shows, texts, tryIt } from "./lib/web.mjs";

const PHONE = { viewport: { width: 390, height: 780 }, isMobile: true, hasTouch: true };
const DESK = { viewport: { width: 1100, height: 700 } };
// A real PNG (1×1, red) and a real WebM are needed: the server checks the bytes against the type.
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==", "base64");

describe("the web client", () => {
  let node;
  let browser;
  before(async () => {
    // No secret, no key, no Redis: "try it" is on.
    // Rates lifted so that the scroll test can seed 120 messages at once.
    node = await startServer({ env: { ...LIFTED_RATES, CLASSCHAT_JWT_SECRET: "" } });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await node?.stop();
  });

  /** Two signed-in pages: a teacher on a desktop and a student on a phone. */
  async function pair(teacherName, studentName) {
    const teacherCtx = await browser.newContext(DESK);
    const studentCtx = await browser.newContext(PHONE);
    const teacher = await teacherCtx.newPage();
    const student = await studentCtx.newPage();
    await tryIt(teacher, node.apiUrl, teacherName, "teacher");
    await tryIt(student, node.apiUrl, studentName, "student");
    return { teacher, student, close: () => Promise.all([teacherCtx.close(), studentCtx.close()]) };
  }
  const tokenOf = (page) => page.evaluate(() => sessionStorage.getItem("classchat-token"));

  test("a teacher and a student sign in with try it, chat live with typing and receipts, and badges, deletes, presence and notifications behave", async () => {
    const signIn = await browser.newPage(PHONE);
    await signIn.goto(`${node.apiUrl}/app/`);
    await shot(signIn, "sign-in.png");
    await signIn.close();
    const { teacher, student, close } = await pair("Ms Rivera", "Sam");
    try {
      // The teacher makes a group with the student (user id "sam", from the name); the
      // student is told and the room appears in their list live.
      await newGroup(teacher, "Physics", ["sam"]);
      await student.getByText("Ms Rivera added you to Physics").waitFor();
      await openRoom(student, "Physics");

      await send(teacher, "Chapter 4 for Monday, please");
      await shows(student, "Chapter 4 for Monday, please");
      await messageBox(student).pressSequentially("On page 80 n", { delay: 20 });
      await teacher.getByText("Sam is typing…").waitFor();
      await messageBox(student).press("Enter");
      await shows(teacher, "On page 80 n");
      await teacher.getByText("Sam is typing…").waitFor({ state: "hidden" });
      await message(teacher, "Chapter 4 for Monday").getByText("Seen by Sam").waitFor();
      await shot(teacher, "chat-teacher.png");
      await shot(student, "chat-phone.png");

      // Delete: the student has no Delete on the teacher's message; the teacher deletes the student's.
      await message(student, "Chapter 4 for Monday").getByRole("button", { name: /^Actions for/ }).click();
      assert.equal(await message(student, "Chapter 4 for Monday").getByRole("button", { name: "Delete" }).count(), 0);
      await act(teacher, "On page 80 n", "Delete");
      for (const p of [teacher, student]) {
        await p.locator(".message .content", { hasText: "(deleted)" }).waitFor();
        assert.equal(await p.locator(".message .content", { hasText: "On page 80 n" }).count(), 0);
      }

      // A second room: its message counts as unread for the student until opened, and a
      // mention there is a notification and an @ in the list.
      await newGroup(teacher, "Chemistry", ["sam"]);
      await send(teacher, "Lab coats tomorrow");
      await send(teacher, "@sam can you bring goggles?");
      await student.getByRole("button", { name: "Back to rooms" }).click();
      await student.getByText("Ms Rivera mentioned you in Chemistry: @sam can you bring goggles?").waitFor();
      const chem = roomButton(student, "Chemistry");
      await eventually("two unread", async () => (await chem.locator(".badge").textContent()) === "2");
      assert.equal(await chem.getByLabel("you were mentioned").count(), 1);
      await shot(student, "rooms-phone.png");
      await chem.click();
      await shows(student, "Lab coats tomorrow");
      await student.getByRole("button", { name: "Back to rooms" }).click();
      assert.equal(await chem.locator(".badge").count(), 0, "read once opened");

      // A 1:1 chat: the student is told, and sees the teacher's presence, then last seen.
      await teacher.getByRole("button", { name: "New chat" }).click();
      await teacher.getByLabel("Their user id").fill("sam");
      await teacher.getByRole("button", { name: "OK", exact: true }).click();
      await student.getByText("Ms Rivera started a chat with you").waitFor();
      const direct = roomButton(student, "Ms Rivera").first();
      await direct.getByRole("img", { name: "online" }).waitFor();
      await teacher.locator("#my-status").selectOption("busy");
      await direct.getByRole("img", { name: "busy" }).waitFor();
      await teacher.context().close();
      await direct.getByRole("img", { name: "offline" }).waitFor();
      await direct.click();
      await student.locator("#room-status", { hasText: /^last seen / }).waitFor();

      // What the server stored: every message once.
      const rooms = await node.ok("GET", "/chat/rooms", await tokenOf(student));
      const physics = rooms.find((r) => r.name === "Physics");
      assert.equal(physics.lastMessage.content, null, "deleted from the page");
      assert.equal(physics.lastMessage.deletedBy, "ms-rivera");
      assert.equal(physics.lastMessage.seq, 2);
    } finally {
      await close();
    }
  });

  test("replies, reactions, edits, pins, forwards, search, attachments and voice messages work from the page", async () => {
    const { teacher, student, close } = await pair("Mr Chen", "Lee");
    try {
      await newGroup(teacher, "History", ["lee"]);
      await openRoom(student, "History");
      await send(teacher, "Essay topics are up");
      await shows(student, "Essay topics are up");

      // Reply: the quote shows on both pages.
      await act(student, "Essay topics are up", "Reply");
      await student.getByText("Replying to Mr Chen: Essay topics are up").waitFor();
      await send(student, "Can we pick our own?");
      await message(teacher, "Can we pick our own?").getByText("↪ Mr Chen: Essay topics are up").waitFor();
      await message(teacher, "Essay topics are up").getByText("1 reply").waitFor();

      // Reaction: a chip with the count, pressed for its author; a second press takes it back.
      await act(teacher, "Can we pick our own?", "React 👍");
      await message(student, "Can we pick our own?").getByRole("button", { name: /^👍 1/ }).waitFor();
      assert.equal(await message(teacher, "Can we pick our own?").getByRole("button", { name: /^👍 1/ }).getAttribute("aria-pressed"), "true");

      // Edit: only one's own messages; the other page shows the new text, marked edited.
      await act(student, "Can we pick our own?", "Edit");
      await messageBox(student).fill("Can we pick our own topic?");
      await messageBox(student).press("Enter");
      await message(teacher, "Can we pick our own topic?").getByText("edited").waitFor();

      // Pin: the teacher pins; the student sees it above the conversation.
      await act(teacher, "Essay topics are up", "Pin");
      await student.getByRole("list", { name: "Pinned messages" }).getByText("📌 Mr Chen: Essay topics are up").waitFor();
      await message(student, "Essay topics are up").getByText("📌 pinned").waitFor();

      // Attachments: an image, with a progress bar while it uploads.
      await student.locator("#file").setInputFiles({ name: "map.png", mimeType: "image/png", buffer: PNG });
      await student.locator("#attached", { hasText: "map.png" }).waitFor();
      await send(student, "My map");
      const img = message(teacher, "My map").getByRole("img", { name: "map.png" });
      await img.waitFor();
      await eventually("the image loads through its signed url", () => img.evaluate((i) => i.complete && i.naturalWidth === 1));

      const big = Buffer.alloc(6 * 1024 * 1024, 7);
      const cdp = await student.context().newCDPSession(student);
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 3 * 1024 * 1024 });
      await student.locator("#file").setInputFiles({ name: "notes.txt", mimeType: "text/plain", buffer: big });
      const bar = student.getByRole("progressbar", { name: "Uploading notes.txt" });
      await bar.waitFor();
      const seen = await eventually("the bar moves", async () => {
        const v = Number(await bar.getAttribute("value").catch(() => 0) ?? (await bar.evaluate((b) => b.value)));
        const value = await bar.evaluate((b) => b.value).catch(() => 0);
        return value > 0 && value < 1 && value;
      }, { interval: 50 });
      assert.ok(seen > 0 && seen < 1);
      await student.locator("#attached", { hasText: "notes.txt" }).waitFor();
      await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      await send(student, "");
      await message(teacher, "").getByRole("link", { name: /📎 notes\.txt \(6144 KiB\)/ }).waitFor();

      // A voice message: record from the (fake) microphone, stop, and it is sent as audio.
      await student.getByRole("button", { name: "Voice" }).click();
      await student.getByRole("button", { name: "Stop and send" }).waitFor();
      await student.waitForTimeout(1500);
      await student.getByRole("button", { name: "Stop and send" }).click();
      const voice = teacher.locator(".message audio").first();
      await voice.waitFor();
      const label = await voice.getAttribute("aria-label");
      assert.match(label, /^voice-.*\.webm \([12] s\)$/);
      await eventually("the recording plays", () => voice.evaluate((a) => a.readyState >= 1 && a.duration > 0));
      await shot(teacher, "richer-teacher.png");

      // Forward: into another room, carrying the original's sender.
      await newGroup(teacher, "Staff notes", []);
      await openRoom(teacher, "History");
      await act(teacher, "My map", "Forward");
      await teacher.getByLabel("Room", { exact: true }).selectOption({ label: "Staff notes" });
      await teacher.getByRole("button", { name: "OK", exact: true }).click();
      await openRoom(teacher, "Staff notes");
      await message(teacher, "My map").getByText("Forwarded from Lee").waitFor();

      // Search: a result with the match marked opens its room at the message.
      await teacher.getByRole("searchbox", { name: "Search messages" }).fill("topics");
      await teacher.getByRole("searchbox", { name: "Search messages" }).press("Enter");
      const result = teacher.getByRole("list", { name: "Search results" }).getByRole("button").first();
      await result.waitFor();
      assert.equal(await result.locator("mark").first().textContent(), "topics");
      await result.click();
      await teacher.getByRole("heading", { name: "History" }).waitFor();
      await teacher.locator(".message.found", { hasText: "Essay topics are up" }).waitFor();
    } finally {
      await close();
    }
  });

  test("history scrolls back by seq, fifty at a time, with every message once", async () => {
    const { teacher, student, close } = await pair("Ms Ito", "Kai");
    try {
      await newGroup(teacher, "Maths", ["kai"]);
      const token = await tokenOf(teacher);
      const room = (await node.ok("GET", "/chat/rooms", token)).find((r) => r.name === "Maths");
      for (let i = 1; i <= 120; i++) await node.ok("POST", `/chat/rooms/${room.id}/messages`, token, { content: `exercise ${i}` });
      await openRoom(student, "Maths");
      await shows(student, "exercise 120");
      assert.equal((await texts(student)).length, 50);
      await eventually("all 120 loaded by scrolling up", async () => {
        await student.locator("#messages").evaluate((ol) => (ol.scrollTop = 0));
        return (await texts(student)).length === 120;
      });
      assert.deepEqual(await texts(student), Array.from({ length: 120 }, (_, i) => `exercise ${i + 1}`));
      assert.equal(await student.getByRole("button", { name: "Load earlier messages" }).count(), 0, "nothing older");
    } finally {
      await close();
    }
  });

  test("the page works from the keyboard and axe-core finds no serious accessibility problem", async () => {
    const page = await browser.newPage(DESK);
    try {
      await page.goto(`${node.apiUrl}/app/`);
      await page.getByLabel("Your name").waitFor();
      assert.deepEqual(await axeViolations(page), [], "sign-in page");
      await page.keyboard.press("Tab");
      assert.equal(await page.evaluate(() => document.activeElement.id), "try-name");
      await page.keyboard.type("Rosa");
      await page.keyboard.press("Tab");
      await page.keyboard.press("t"); // the role list: Teacher
      await page.keyboard.press("Tab");
      await page.keyboard.press("Enter"); // "Try it"
      await page.locator("#conn", { hasText: /^online$/ }).waitFor();
      await newGroup(page, "Art", []);
      await send(page, "Bring brushes");
      await shows(page, "Bring brushes");
      assert.deepEqual(await axeViolations(page), [], "chat page");
      // The first room in the list is reachable by Tab; Enter opens it and puts the cursor in the message box.
      await page.getByRole("searchbox", { name: "Search messages" }).focus();
      await page.keyboard.press("Tab");
      await page.keyboard.press("Tab");
      assert.match(await page.evaluate(() => document.activeElement.textContent), /Art/);
      await page.keyboard.press("Enter");
      await eventually("focus in the message box", () => page.evaluate(() => document.activeElement.id === "text"));
      await page.keyboard.type("Also aprons");
      await page.keyboard.press("Enter");
      await shows(page, "Also aprons");
      // The actions of a message open from the keyboard; Escape-free: the button toggles.
      await message(page, "Also aprons").getByRole("button", { name: /^Actions for/ }).focus();
      await page.keyboard.press("Enter");
      await message(page, "Also aprons").getByRole("group", { name: "Message actions" }).waitFor();
      assert.equal(await message(page, "Also aprons").getByRole("button", { name: /^Actions for/ }).getAttribute("aria-expanded"), "true");
    } finally {
      await page.close();
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
