// Parses the ```mermaid blocks of the files it is given with Mermaid's parser (see diagrams.sh).
import { JSDOM } from "jsdom";
import fs from "node:fs";
const dom = new JSDOM("<!doctype html><html><body></body></html>");
globalThis.window = dom.window; globalThis.document = dom.window.document;
globalThis.DOMPurify = undefined;
const { default: mermaid } = await import("mermaid");
mermaid.initialize({ startOnLoad: false });
let bad = 0;
for (const f of process.argv.slice(2)) {
  const text = fs.readFileSync(f, "utf8");
  const blocks = [...text.matchAll(/```mermaid\n([\s\S]*?)```/g)].map((m) => m[1]);
  for (const [i, b] of blocks.entries()) {
    try { await mermaid.parse(b); console.log(`${f} #${i + 1}: ok`); }
    catch (e) { bad++; console.log(`${f} #${i + 1}: ${e.message.split("\n").slice(0, 4).join(" | ")}`); }
  }
}
process.exit(bad ? 1 : 0);
