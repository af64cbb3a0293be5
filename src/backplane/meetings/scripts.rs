//! The Lua scripts of the Redis meeting store: each change of a meeting's hash is one
//! script, so a join's limit and lock checks and its write happen as one step. Every
//! script but `META` runs after `META` (which finds the hash's meta for meeting ARGV[1]).
//! Each touches the meeting's hash only (one slot on Redis Cluster: the room's).

/// A meeting's hash outlives its last write by this much at most (a safety net: ended
/// meetings are deleted).
pub const KEY_TTL_MS: &str = "86400000";

/// Shared by the scripts: `meta` is the hash's meeting meta if it is of meeting ARGV[1].
pub const META: &str = r"
local m = redis.call('HGET', KEYS[1], '_m')
local meta = nil
if m then
  meta = cjson.decode(m)
  if meta.id ~= ARGV[1] then meta = nil end
end
";

/// KEYS: hash. ARGV: meeting id, peer id, record, max, host, key TTL.
pub const JOIN: &str = r"
if not meta then
  redis.call('DEL', KEYS[1])
  meta = { id = ARGV[1], locked = false }
end
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then
  if meta.locked and ARGV[5] ~= '1' then return { 'locked' } end
  local n = redis.call('HLEN', KEYS[1]) - redis.call('HEXISTS', KEYS[1], '_m')
  if n >= tonumber(ARGV[4]) then return { 'full' } end
end
meta.empty_since = nil
redis.call('HSET', KEYS[1], '_m', cjson.encode(meta), ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
local out = { 'ok' }
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '_m' then table.insert(out, all[i + 1]) end
end
return out
";

/// KEYS: hash. ARGV: meeting id ('' for whichever), peer id, now. Returns
/// `{ meeting id, record }` or nothing.
pub const LEAVE: &str = r"
if ARGV[1] == '' and m then meta = cjson.decode(m) end
if not meta then return false end
local rec = redis.call('HGET', KEYS[1], ARGV[2])
if not rec then return false end
redis.call('HDEL', KEYS[1], ARGV[2])
if redis.call('HLEN', KEYS[1]) <= 1 then
  meta.empty_since = tonumber(ARGV[3])
  redis.call('HSET', KEYS[1], '_m', cjson.encode(meta))
end
return { meta.id, rec }
";

/// KEYS: hash. ARGV: meeting id, peer id, patch (record fields).
pub const UPDATE: &str = r"
if not meta then return false end
local rec = redis.call('HGET', KEYS[1], ARGV[2])
if not rec then return false end
local r = cjson.decode(rec)
for k, v in pairs(cjson.decode(ARGV[3])) do r[k] = v end
rec = cjson.encode(r)
redis.call('HSET', KEYS[1], ARGV[2], rec)
return rec
";

/// KEYS: hash. ARGV: meeting id, locked ('1'/'0') or '' to leave it, now, key TTL.
/// Creates the meta (empty since now) if there is none for this meeting.
pub const META_SET: &str = r"
if not meta then
  redis.call('DEL', KEYS[1])
  meta = { id = ARGV[1], locked = false, empty_since = tonumber(ARGV[3]) }
end
if ARGV[2] ~= '' then meta.locked = (ARGV[2] == '1') end
redis.call('HSET', KEYS[1], '_m', cjson.encode(meta))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";
