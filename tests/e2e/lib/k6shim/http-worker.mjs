// The worker thread of the k6/http shim: does one fetch per message and hands the answer
// back through the shared buffer.
import { parentPort, workerData } from "node:worker_threads";

const ctl = new Int32Array(workerData, 0, 2);
const buf = new Uint8Array(workerData, 8);

parentPort.on("message", async (m) => {
  let out;
  const t0 = Date.now();
  try {
    const res = await fetch(m.url, { method: m.method, headers: m.headers, body: m.body ?? undefined });
    out = { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers), ms: Date.now() - t0 };
  } catch (e) {
    out = { status: 0, body: null, headers: {}, error: String(e), ms: Date.now() - t0 };
  }
  const bytes = new TextEncoder().encode(JSON.stringify(out));
  if (bytes.length > buf.length) throw new Error("k6/http shim: answer too large");
  buf.set(bytes);
  Atomics.store(ctl, 1, bytes.length);
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
});
