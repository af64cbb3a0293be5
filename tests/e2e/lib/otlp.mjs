// A tiny OTLP/HTTP trace receiver for the tests: a Node http server that takes
// POST /v1/traces (protobuf, uncompressed or gzip), decodes the spans with a minimal
// protobuf reader, and keeps them with their resource attributes.

import { createServer } from "node:http";
import { gunzipSync } from "node:zlib";

/** The fields of one protobuf message: field number -> [values] (varints as BigInt). */
export function fields(buf) {
  const out = new Map();
  let i = 0;
  const varint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const [no, type] = [key >> 3, key & 7];
    let value;
    if (type === 0) value = varint();
    else if (type === 1) (value = buf.subarray(i, i + 8)), (i += 8);
    else if (type === 5) (value = buf.subarray(i, i + 4)), (i += 4);
    else if (type === 2) {
      const len = Number(varint());
      value = buf.subarray(i, i + len);
      i += len;
    } else throw new Error(`wire type ${type} at ${i}`);
    if (!out.has(no)) out.set(no, []);
    out.get(no).push(value);
  }
  return out;
}

const text = (b) => (b ? Buffer.from(b).toString("utf8") : undefined);

/** An AnyValue: string, bool, int or double. */
function anyValue(buf) {
  const f = fields(buf);
  if (f.has(1)) return text(f.get(1)[0]);
  if (f.has(2)) return f.get(2)[0] !== 0n;
  if (f.has(3)) return Number(BigInt.asIntN(64, f.get(3)[0]));
  if (f.has(4)) return Buffer.from(f.get(4)[0]).readDoubleLE(0);
  return undefined;
}

/** Repeated KeyValue -> object. */
function attributes(list = []) {
  const out = {};
  for (const kv of list) {
    const f = fields(kv);
    out[text(f.get(1)?.[0])] = f.has(2) ? anyValue(f.get(2)[0]) : undefined;
  }
  return out;
}

/** The spans of an ExportTraceServiceRequest: { name, kind, attributes, resource, events, status }. */
export function decodeTraces(body) {
  const spans = [];
  for (const rs of fields(body).get(1) ?? []) {
    const r = fields(rs);
    const resource = r.has(1) ? attributes(fields(r.get(1)[0]).get(1)) : {};
    for (const ss of r.get(2) ?? []) {
      for (const sp of fields(ss).get(2) ?? []) {
        const s = fields(sp);
        spans.push({
          name: text(s.get(5)?.[0]),
          kind: Number(s.get(6)?.[0] ?? 0n),
          attributes: attributes(s.get(9)),
          events: (s.get(11) ?? []).map((e) => text(fields(e).get(2)?.[0])),
          status: s.has(15) ? Number(fields(s.get(15)[0]).get(3)?.[0] ?? 0n) : 0,
          resource,
        });
      }
    }
  }
  return spans;
}

/** Starts the receiver on a free loopback port: { url, spans, requests, stop() }. */
export async function startOtlpReceiver() {
  const spans = [];
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      requests.push({ method: req.method, path: req.url, type: req.headers["content-type"] });
      if (req.method === "POST" && req.url === "/v1/traces") {
        try {
          spans.push(...decodeTraces(body));
        } catch (e) {
          requests.at(-1).error = e.message;
        }
      }
      res.writeHead(200, { "content-type": "application/x-protobuf" });
      res.end();
    });
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    stop: () => new Promise((r) => server.close(r)),
  };
}
