//! The Lua scripts that keep cluster presence consistent: each changes one user's
//! counts and answers `"<sockets across nodes>|<chosen status>"` atomically.

use crate::domain::Status;

const SUM: &str = "local flat = redis.call('HGETALL', KEYS[1]) local total, status = 0, 'online' \
for i = 1, #flat, 2 do if flat[i] == 'status' then status = flat[i+1] else total = total + tonumber(flat[i+1]) end end";

pub fn connect_script() -> String {
    format!(
        "redis.call('HINCRBY', KEYS[1], ARGV[1], 1) redis.call('PEXPIRE', KEYS[1], ARGV[2]) \
         redis.call('SADD', KEYS[2], ARGV[3]) redis.call('SADD', KEYS[3], ARGV[3]) {SUM} \
         return total .. '|' .. status"
    )
}

pub fn disconnect_script() -> String {
    format!(
        "local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1) \
         if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) redis.call('SREM', KEYS[2], ARGV[2]) end {SUM} \
         if total <= 0 then redis.call('DEL', KEYS[1]) redis.call('SREM', KEYS[3], ARGV[2]) \
         redis.call('HSET', KEYS[4], ARGV[2], ARGV[3]) end return total .. '|' .. status"
    )
}

pub fn drop_node_script() -> String {
    format!(
        "redis.call('HDEL', KEYS[1], ARGV[1]) {SUM} \
         if total <= 0 then redis.call('DEL', KEYS[1]) redis.call('SREM', KEYS[2], ARGV[2]) \
         redis.call('HSET', KEYS[3], ARGV[2], ARGV[3]) end return total .. '|' .. status"
    )
}

pub fn set_status_script() -> String {
    format!(
        "{SUM} if total <= 0 then return '0|offline' end \
         redis.call('HSET', KEYS[1], 'status', ARGV[1]) return total .. '|' .. status"
    )
}

pub const STATES: &str = "local out = {} for k = 1, #KEYS do \
local flat = redis.call('HGETALL', KEYS[k]) local total, status = 0, 'online' \
for i = 1, #flat, 2 do if flat[i] == 'status' then status = flat[i+1] else total = total + tonumber(flat[i+1]) end end \
out[k] = total .. '|' .. status end return out";

pub const REFRESH: &str = "for k = 1, #KEYS do \
if ARGV[k + 2] ~= '' then redis.call('HSET', KEYS[k], ARGV[1], ARGV[k + 2]) end \
redis.call('PEXPIRE', KEYS[k], ARGV[2]) end return #KEYS";

/// `"<sockets>|<status>"` as the scripts answer.
pub fn parse(s: &str) -> (i64, Status) {
    let (n, st) = s.split_once('|').unwrap_or(("0", "offline"));
    (
        n.parse().unwrap_or(0),
        Status::parse(st).unwrap_or(Status::Online),
    )
}
