// JSON logs (CLASSCHAT_LOG_FORMAT=json) and the spans of requests and client events.
//
// A node logs at debug level for classchat::http and classchat::realtime (an access log of
// every request and event). Every line of its stderr must be one JSON object; the line of a
// REST request carries its `http_request` span (method, the matched route template, never
// the raw path, and the status); the line of a client event carries its `socket_event` span
// (event name, room id, user id, and the error code when refused).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";

import { ack, ackOk, closeAll, connectUser, join } from "./lib/client.mjs";
import { startServer, withServerLogs } from "./lib/server.mjs";
import { eventually, uid } from "./lib/util.mjs";

const NO_ROOM = "00000000000000000000000000000000";

describe("JSON logs carry the fields of request and event spans", () => {
  let server;
  const clients = [];
  let room;
  let teacher;
  const logged = () => server.logs.map((line) => JSON.parse(line));
  /** The log lines whose current span is `name` and matches `fields`. */
  const inSpan = (name, fields) =>
    logged().filter((l) => l.span?.name === name && Object.entries(fields).every(([k, v]) => l.span[k] === v));

  before(async () => {
    server = await startServer({
      env: { CLASSCHAT_LOG_FORMAT: "json", RUST_LOG: "info,classchat::http=debug,classchat::realtime=debug" },
    });
    teacher = server.user(uid("teacher"), "teacher");
    const student = server.user(uid("student"));
    room = await server.group(teacher, [student]);
    await server.ok("GET", `/chat/rooms/${room.id}`, teacher);
    await server.rest("GET", "/no/such/path", teacher);
    const c = await connectUser(server, teacher);
    clients.push(c);
    await join(c, [room.id]);
    await ackOk(c.socket, "send-chat-message", { roomId: room.id, content: "logged" });
    await ack(c.socket, "send-chat-message", { roomId: NO_ROOM, content: "refused" });
  });
  after(async () => {
    closeAll(clients);
    await server?.stop();
  });

  test(
    "every stderr line is one JSON object with a level, a target and a message",
    withServerLogs(() => server, () => {
      assert.ok(server.logs.length > 5, server.logs.join("\n"));
      for (const line of server.logs) {
        const l = JSON.parse(line);
        assert.equal(typeof l.level, "string", line);
        assert.equal(typeof l.target, "string", line);
        assert.equal(typeof l.fields?.message, "string", line);
      }
    }),
  );

  test(
    "a REST request is logged in its span with the route template and the status",
    withServerLogs(() => server, async () => {
      await eventually("the request's log line", () => inSpan("http_request", { route: "/chat/rooms/{roomId}" }).length > 0);
      const detail = inSpan("http_request", { method: "GET", route: "/chat/rooms/{roomId}", status: 200 });
      assert.equal(detail.length, 1, JSON.stringify(logged().filter((l) => l.span)));
      assert.match(detail[0].fields.message, /^answered 200$/);
      assert.equal(typeof detail[0].fields.elapsed_ms, "number");
      assert.equal(inSpan("http_request", { method: "POST", route: "/chat/rooms/group", status: 201 }).length, 1);
      assert.equal(inSpan("http_request", { route: "other", status: 404 }).length, 1, "an unmatched path is `other`");
      const spans = logged().filter((l) => l.span?.name === "http_request");
      assert.ok(!spans.some((l) => JSON.stringify(l.spans).includes(room.id)), "a raw path in a span");
    }),
  );

  test(
    "a client event is logged in its span with the event name, the room id and the user",
    withServerLogs(() => server, async () => {
      const sent = { event: "send-chat-message", room_id: room.id, user_id: teacher.id };
      await eventually("the event's log line", () => inSpan("socket_event", sent).length > 0);
      const [line] = inSpan("socket_event", sent);
      assert.equal(line.fields.message, "answered");
      assert.equal(line.span.code, undefined);
      const joined = inSpan("socket_event", { event: "join-chat-rooms", user_id: teacher.id });
      assert.equal(joined.length, 1, "join-chat-rooms names no single room");
      assert.equal(joined[0].span.room_id, undefined);
    }),
  );

  test(
    "a refused client event carries its error code",
    withServerLogs(() => server, async () => {
      const refused = { event: "send-chat-message", room_id: NO_ROOM };
      await eventually("the refusal's log line", () => inSpan("socket_event", refused).length > 0);
      const [line] = inSpan("socket_event", refused);
      assert.equal(line.span.code, "room_not_found");
      assert.equal(line.fields.message, "refused room_not_found");
    }),
  );
});
