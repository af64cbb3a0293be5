// Shim of k6/experimental/websockets for tests (see runtime.mjs): the browser-style
// WebSocket of the `ws` package, counted as pending work until closed, listeners guarded.
// Message events carry `data` (text frames as strings); error events carry `error`. Where
// k6's implementation is stricter, so is this: send() throws unless OPEN, messages are
// dropped once not OPEN, and close() while CONNECTING throws (k6 would block its event
// loop on it: its write queue starts only once the connection is up).
import { WebSocket as WS } from "ws";

import { guard, rt } from "../runtime.mjs";

export class WebSocket {
  constructor(url, protocols, params = {}) {
    this.url = url;
    this.ws = new WS(url, protocols || [], { headers: params.headers });
    rt.pending++;
    let open = true;
    this.ws.on("close", () => {
      if (open) rt.pending--;
      open = false;
    });
    this.ws.on("error", () => {}); // reported to listeners; never an unhandled 'error'
  }
  get readyState() {
    return this.ws.readyState;
  }
  send(data) {
    if (this.ws.readyState !== 1) throw new Error("InvalidStateError");
    this.ws.send(data);
  }
  close(code) {
    if (this.ws.readyState === 0) throw new Error("close() while CONNECTING blocks k6's event loop");
    if (this.ws.readyState === 1) this.ws.close(code);
  }
  addEventListener(type, fn) {
    const g = guard(fn);
    this.ws.on(type, (...a) => {
      if (type === "message") {
        if (this.ws.readyState === 1) g({ type, data: a[1] ? a[0] : a[0].toString() });
      }
      else if (type === "error") g({ type, error: String(a[0]?.message ?? a[0]) });
      else if (type === "close") g({ type, code: a[0], reason: String(a[1] ?? "") });
      else g({ type });
    });
  }
}

export default { WebSocket };
