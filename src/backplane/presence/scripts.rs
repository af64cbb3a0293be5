//! The Lua scripts that keep cluster presence consistent: each changes one user's
//! presence hash (one key, so one slot on Redis Cluster) and answers
//! `"<sockets across nodes>|<chosen status>"` atomically; the node-level sets are updated
//! after them with plain commands (see `redis.rs`).

use std::collections::HashMap;

use crate::domain::Status;

const SUM: &str = "local flat = redis.call('HGETALL', KEYS[1]) local total, status = 0, 'online' \
for i = 1, #flat, 2 do if flat[i] == 'status' then status = flat[i+1] else total = total + tonumber(flat[i+1]) end end";

/// KEYS: presence. ARGV: node, key TTL (ms).
pub fn connect_script() -> String {
    format!(
        "redis.call('HINCRBY', KEYS[1], ARGV[1], 1) redis.call('PEXPIRE', KEYS[1], ARGV[2]) {SUM} \
         return total .. '|' .. status"
    )
}

/// KEYS: presence. ARGV: node. Answers `"<sockets on this node>|<total>|<status>"`.
pub fn disconnect_script() -> String {
    format!(
        "local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1) \
         if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end {SUM} \
         if total <= 0 then redis.call('DEL', KEYS[1]) end return n .. '|' .. total .. '|' .. status"
    )
}

/// KEYS: presence. ARGV: the dead node.
pub fn drop_node_script() -> String {
    format!(
        "redis.call('HDEL', KEYS[1], ARGV[1]) {SUM} \
         if total <= 0 then redis.call('DEL', KEYS[1]) end return total .. '|' .. status"
    )
}

/// KEYS: presence. ARGV: the status.
pub fn set_status_script() -> String {
    format!(
        "{SUM} if total <= 0 then return '0|offline' end \
         redis.call('HSET', KEYS[1], 'status', ARGV[1]) return total .. '|' .. status"
    )
}

/// KEYS: a node's user set (replaced). ARGV: its users.
pub const NODE_USERS: &str = "redis.call('DEL', KEYS[1]) \
for i = 1, #ARGV, 1000 do redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV))) end \
return #ARGV";

/// KEYS: the union's scratch key, then the node user sets (one slot). The number of
/// users on any of them.
pub const UNION_COUNT: &str = "if #KEYS < 2 then return 0 end \
local n = redis.call('SUNIONSTORE', KEYS[1], unpack(KEYS, 2)) redis.call('DEL', KEYS[1]) return n";

/// `"<sockets>|<status>"` as the scripts answer.
pub fn parse(s: &str) -> (i64, Status) {
    let (n, st) = s.split_once('|').unwrap_or(("0", "offline"));
    (
        n.parse().unwrap_or(0),
        Status::parse(st).unwrap_or(Status::Online),
    )
}

/// Sockets and status of a presence hash as HGETALL answers it (what `SUM` computes).
pub fn sum(h: &HashMap<String, String>) -> (i64, Status) {
    let mut total = 0;
    let mut status = Status::Online;
    for (k, v) in h {
        if k == "status" {
            status = Status::parse(v).unwrap_or(Status::Online);
        } else {
            total += v.parse::<i64>().unwrap_or(0);
        }
    }
    (total, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_presence_hash_sums_its_node_counts_and_keeps_its_status() {
        let h = HashMap::from([
            ("n1".to_string(), "2".to_string()),
            ("n2".to_string(), "1".to_string()),
            ("status".to_string(), "busy".to_string()),
        ]);
        assert_eq!(sum(&h), (3, Status::Busy));
        assert_eq!(sum(&HashMap::new()), (0, Status::Online));
        assert_eq!(parse("2|away"), (2, Status::Away));
        assert_eq!(parse("garbage"), (0, Status::Offline));
    }
}
