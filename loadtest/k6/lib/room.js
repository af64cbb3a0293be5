// Sockets for the members of one classchat room (used by fanout and typing-storm): each
// member connects with its own token to node (firstConn + i) % nodes, joins the room with
// `join-chat-rooms` (ack `{ ok: true, data: { roomIds, rejected } }`) and gets the given
// event listeners. `onReady(members)` runs once every member has joined or failed.

import { check } from 'k6';
import { Rate } from 'k6/metrics';

import { isOk, Socket } from './sio.js';
import { socketUrlFor, token } from './setup.js';

export const joinErrors = new Rate('room_join_errors');

/**
 * `users`: user ids; `listeners`: `{ eventName: fn(member, body) }`. Each member is
 * `{ user, socket, joined, index }`, with room for the scenario's own per-member state.
 */
export function openMembers(roomId, users, firstConn, listeners, onReady) {
  const members = [];
  let pending = users.length;
  const settle = (m, ok) => {
    m.joined = ok;
    joinErrors.add(!ok);
    check(ok, { 'member joined its room': (v) => v === true });
    if (--pending === 0) onReady(members);
  };
  users.forEach((user, i) => {
    const socket = new Socket(socketUrlFor(firstConn + i), token(user, 'student'));
    const m = { user: user, socket: socket, joined: false, index: i };
    Object.keys(listeners).forEach((ev) => socket.on(ev, (body) => listeners[ev](m, body)));
    socket.on('connect', () =>
      socket.emit('join-chat-rooms', { roomIds: [roomId] }, (ack) =>
        settle(m, isOk(ack) && ack.data.roomIds.indexOf(roomId) >= 0),
      ),
    );
    socket.on('connect_error', () => settle(m, false));
    members.push(m);
  });
  if (users.length === 0) onReady(members);
  return members;
}

export function closeAll(members) {
  members.forEach((m) => m.socket.close());
}
