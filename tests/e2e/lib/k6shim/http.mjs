// Shim of k6/http for tests: k6's requests are synchronous, so each one is made by a worker
// thread with fetch while this thread waits on a shared buffer (Atomics.wait).
import { Worker } from "node:worker_threads";

const SIZE = 8 << 20;
let worker = null;
let ctl = null;
let buf = null;

function start() {
  const sab = new SharedArrayBuffer(8 + SIZE);
  ctl = new Int32Array(sab, 0, 2);
  buf = new Uint8Array(sab, 8);
  worker = new Worker(new URL("./http-worker.mjs", import.meta.url), { workerData: sab });
  worker.unref();
}

export function request(method, url, body, params = {}) {
  if (!worker) start();
  Atomics.store(ctl, 0, 0);
  worker.postMessage({ method, url, body: body ?? null, headers: params.headers || {} });
  if (Atomics.wait(ctl, 0, 0, 60_000) === "timed-out") throw new Error(`k6/http shim: ${method} ${url} timed out`);
  const r = JSON.parse(new TextDecoder().decode(buf.slice(0, ctl[1])));
  return {
    status: r.status,
    body: r.body,
    headers: r.headers,
    error: r.error || "",
    timings: { duration: r.ms },
    json() {
      return JSON.parse(this.body);
    },
  };
}

export const get = (url, params) => request("GET", url, null, params);
export const post = (url, body, params) => request("POST", url, body, params);
export const put = (url, body, params) => request("PUT", url, body, params);
export const del = (url, body, params) => request("DELETE", url, body, params);

/** Requests one after the other (k6 runs them in parallel); array or object forms. */
export function batch(reqs) {
  return reqs.map((q) => (Array.isArray(q) ? request(q[0], q[1], q[2], q[3]) : request(q.method || "GET", q.url, q.body, q.params)));
}

export default { request, get, post, put, del, batch };
