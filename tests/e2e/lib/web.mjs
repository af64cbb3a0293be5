// Helpers for driving the web client at /app/ in Chromium: signing in, sending, reading
// what a page shows, cutting a page's network, checking its meeting media and accessibility.

import { mkdirSync, mkdtempSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

/** Where screenshots go: docs/screenshots/ with CLASSCHAT_UPDATE_SCREENSHOTS=1, else a temp dir. */
export const SHOTS = process.env.CLASSCHAT_UPDATE_SCREENSHOTS === "1"
  ? join(REPO, "docs", "screenshots")
  : mkdtempSync(join(tmpdir(), "classchat-shots-"));
mkdirSync(SHOTS, { recursive: true });
export const shot = (page, name) => page.screenshot({ path: join(SHOTS, name) });

/** Signs in with "try it" on a zero-configuration node. */
export async function tryIt(page, url, name, role) {
  await page.goto(`${url}/app/`);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Role").selectOption(role);
  await page.getByRole("button", { name: "Try it" }).click();
  await online(page);
}

/** A new browser context signed in with a token; `setup(ctx)` runs before the page loads. */
export async function signInWithToken(browser, url, token, { setup, ...options } = {}) {
  const ctx = await browser.newContext(options);
  await setup?.(ctx);
  const page = await ctx.newPage();
  await page.goto(`${url}/app/`);
  await page.getByLabel("Token (JWT)").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await online(page);
  return { ctx, page };
}

export const online = (page) => page.locator("#conn", { hasText: /^online$/ }).waitFor();
export const messageBox = (page) => page.getByLabel("Message", { exact: true });

/** Types a message and presses Enter. */
export async function send(page, text) {
  await messageBox(page).fill(text);
  await messageBox(page).press("Enter");
}

/** Waits until a message with this text shows. */
export const shows = (page, text) => page.locator(".message .content", { hasText: text }).first().waitFor();
export const texts = (page) => page.locator(".message .content").allTextContents();
export const message = (page, text) => page.locator(".message", { has: page.locator(".content", { hasText: text }) });

/** Opens a message's actions and clicks one of them. */
export async function act(page, text, action) {
  const m = message(page, text);
  await m.getByRole("button", { name: /^Actions for/ }).click();
  await m.getByRole("button", { name: action, exact: true }).click();
}

/** Creates a group from the page: the dialog's name and member ids. */
export async function newGroup(page, name, memberIds) {
  await page.getByRole("button", { name: "New group" }).click();
  await page.getByLabel("Group name").fill(name);
  await page.getByLabel("Member ids, comma-separated").fill(memberIds.join(", "));
  await page.getByRole("button", { name: "OK", exact: true }).click();
  await page.getByRole("heading", { name }).waitFor();
}

/** A room's button in the list (not a notification naming it). */
export const roomButton = (page, name) => page.locator("#room-list").getByRole("button", { name: new RegExp(name) });

export async function openRoom(page, name) {
  await roomButton(page, name).first().click();
  await page.getByRole("heading", { name }).waitFor();
}

/**
 * A network switch for one browser context: its WebSockets go through Playwright's
 * WebSocket routing to the real server, so `cut()` can drop them (the page sees the
 * connection die and cannot open another) and `setOffline` fails its HTTP; `restore()`
 * lets it reconnect. Install before the page opens its socket.
 */
export async function networkSwitch(ctx) {
  let down = false;
  const live = new Set();
  await ctx.routeWebSocket(/\/socket\.io\//, (ws) => {
    if (down) return ws.close({ code: 1011, reason: "network down" });
    const server = ws.connectToServer();
    const pair = { ws, server };
    live.add(pair);
    ws.onClose(() => live.delete(pair));
  });
  return {
    async cut() {
      down = true;
      await ctx.setOffline(true);
      for (const { ws, server } of [...live]) {
        await server.close().catch(() => {});
        await ws.close({ code: 1011, reason: "network down" }).catch(() => {});
      }
      live.clear();
    },
    async restore() {
      down = false;
      await ctx.setOffline(false);
    },
  };
}

/** Meeting peers of a page (from window.classchatMeeting) with their state and inbound video bytes. */
export function meetingStats(page) {
  return page.evaluate(async () => {
    const out = [];
    for (const [peerId, p] of window.classchatMeeting.pcs) {
      let bytes = 0;
      (await p.pc.getStats()).forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "video") bytes += r.bytesReceived;
      });
      out.push({ peerId, name: p.name, state: p.pc.connectionState, bytes });
    }
    return out;
  });
}

/** axe-core's serious and critical violations on the page (WCAG 2 A and AA rules). */
export async function axeViolations(page) {
  const require = createRequire(import.meta.url);
  await page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const result = await page.evaluate(() => window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa"] }));
  return result.violations
    .filter((v) => ["serious", "critical"].includes(v.impact))
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}
