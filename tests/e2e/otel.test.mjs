// OpenTelemetry export (the `otel` cargo feature, off by default): a node built with it and
// given OTEL_EXPORTER_OTLP_ENDPOINT sends its request and client-event spans over OTLP/HTTP
// (protobuf) to a tiny receiver this test starts (lib/otlp.mjs), and sends what is still
// queued when it stops.
//
// The binary: CLASSCHAT_OTEL_BIN, else target/debug/classchat-otel. tests/run.sh builds it
// (`cargo build --features otel`, copied aside). Without it the test is skipped, except
// under CI (CI=true), where it fails: the feature must be built and tested there.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

import { ackOk, closeAll, connectUser, join as joinRooms } from "./lib/client.mjs";
import { startOtlpReceiver } from "./lib/otlp.mjs";
import { BIN, startServer, withServerLogs } from "./lib/server.mjs";
import { eventually, uid } from "./lib/util.mjs";

const OTEL_BIN = process.env.CLASSCHAT_OTEL_BIN || join(dirname(BIN), "classchat-otel");
const HAVE = existsSync(OTEL_BIN);
const SKIP = !HAVE && !process.env.CI && `no ${OTEL_BIN}: cargo build --features otel, then copy target/debug/classchat there`;
const SERVER = 2; // SPAN_KIND_SERVER

describe("OpenTelemetry export of spans", { skip: SKIP }, () => {
  let otlp;
  let server;
  const clients = [];
  const start = (env) =>
    startServer({ bin: OTEL_BIN, env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: "100", ...env } });
  /** The spans received named `name` (and matching `pred`), or null while there are none. */
  const named = (name, pred = () => true) => {
    const found = otlp.spans.filter((s) => s.name === name && pred(s));
    return found.length > 0 ? found : null;
  };

  before(async () => {
    assert.ok(HAVE, `no ${OTEL_BIN}: tests/run.sh builds it with --features otel`);
    otlp = await startOtlpReceiver();
    server = await start({});
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
    await otlp?.stop();
  });

  test(
    "a REST request arrives as a server span named by its method and route template",
    withServerLogs(() => server, async () => {
      const teacher = server.user(uid("teacher"), "teacher");
      const room = await server.group(teacher, [uid("student")]);
      await server.ok("GET", `/chat/rooms/${room.id}`, teacher);
      const spans = await eventually("the request's span", () => named("GET /chat/rooms/{roomId}"));
      const [span] = spans;
      assert.equal(span.kind, SERVER);
      assert.equal(span.attributes.route, "/chat/rooms/{roomId}");
      assert.equal(span.attributes.method, "GET");
      assert.equal(span.attributes.status, 200);
      assert.equal(span.resource["service.name"], "classchat");
      assert.ok(!JSON.stringify(otlp.spans).includes(`/chat/rooms/${room.id}`), "a raw path was exported");
      assert.ok(otlp.requests.every((r) => r.path === "/v1/traces" && r.type === "application/x-protobuf" && !r.error), JSON.stringify(otlp.requests));
    }),
  );

  test(
    "a client event arrives as a span named by the event, with the room id",
    withServerLogs(() => server, async () => {
      const teacher = server.user(uid("teacher"), "teacher");
      const room = await server.group(teacher, [uid("student")]);
      const c = await connectUser(server, teacher);
      clients.push(c);
      await joinRooms(c, [room.id]);
      await ackOk(c.socket, "send-chat-message", { roomId: room.id, content: "traced" });
      const spans = await eventually("the event's span", () =>
        named("send-chat-message", (s) => s.attributes.room_id === room.id),
      );
      assert.equal(spans[0].kind, SERVER);
      assert.equal(spans[0].attributes.event, "send-chat-message");
      assert.equal(spans[0].attributes.user_id, teacher.id);
    }),
  );

  test(
    "spans still queued when the node stops are sent before it exits",
    withServerLogs(() => server, async () => {
      const late = await start({ OTEL_BSP_SCHEDULE_DELAY: "600000", OTEL_SERVICE_NAME: "classchat-late", CLASSCHAT_DRAIN_DELAY_MS: "0" });
      try {
        assert.equal(await late.healthz(), 200);
      } finally {
        await late.stop();
      }
      const mine = otlp.spans.filter((s) => s.resource["service.name"] === "classchat-late");
      assert.ok(mine.some((s) => s.name === "GET /healthz"), JSON.stringify(mine.map((s) => s.name)));
    }),
  );
});
