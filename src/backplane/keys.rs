//! Every name a broadcast or presence record lives under: Socket.IO room names on a
//! node, and all Redis channels and keys (under one configurable prefix).
//!
//! One layout for a single Redis and for Redis Cluster: the `{…}` hash tag of each name
//! decides its slot. A room's channel and its meeting share the room's slot; a user's
//! channel and presence share the user's; the node-level records (registry, node stats,
//! node user sets, online set, last seen) share the prefix's slot, so each script and
//! each multi-key command touches one slot.

use super::Target;

/// The Socket.IO room holding a chat room's joined sockets.
pub fn room(room_id: &str) -> String {
    format!("r:{room_id}")
}

/// The Socket.IO room holding every socket of one user (their private channel).
pub fn user(user_id: &str) -> String {
    format!("u:{user_id}")
}

/// The Socket.IO room holding a user's sockets that take status changes one event at a
/// time (`batched == false`) or in batches.
pub fn user_status(user_id: &str, batched: bool) -> String {
    if batched {
        format!("ub:{user_id}")
    } else {
        format!("us:{user_id}")
    }
}

/// The Socket.IO room holding the one socket of a meeting peer.
pub fn peer(peer_id: &str) -> String {
    format!("p:{peer_id}")
}

/// The chat room id of a Socket.IO room name, if it is one.
pub fn room_id_of(name: &str) -> Option<&str> {
    name.strip_prefix("r:")
}

/// Redis names, all under `prefix` so several deployments (or tests) share one Redis.
#[derive(Clone, Debug)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_string(),
        }
    }

    /// The pub/sub channel of a broadcast target: `<prefix>:r:{<room>}` (joined sockets),
    /// `<prefix>:u:{<user>}` or `<prefix>:m:{<room>}` (the room's members, for contacts).
    pub fn channel(&self, target: &Target) -> String {
        match target {
            Target::Room(id) => format!("{}:r:{{{id}}}", self.prefix),
            // A peer's signals go through its user's channel (the header names the peer).
            Target::User(id) | Target::Peer { user: id, .. } => {
                format!("{}:u:{{{id}}}", self.prefix)
            }
            Target::Members(id) => format!("{}:m:{{{id}}}", self.prefix),
        }
    }

    /// The target a channel name stands for.
    pub fn target_of(&self, channel: &str) -> Option<Target> {
        let rest = channel.strip_prefix(&self.prefix)?.strip_prefix(':')?;
        let (kind, id) = rest.split_once(':')?;
        let id = id.strip_prefix('{')?.strip_suffix('}')?.to_string();
        match kind {
            "r" => Some(Target::Room(id)),
            "u" => Some(Target::User(id)),
            "m" => Some(Target::Members(id)),
            _ => None,
        }
    }

    /// The hash tag of the node-level records: `{<prefix>}`.
    fn nodes_tag(&self) -> String {
        format!("{{{}}}", self.prefix)
    }

    /// Hash of one user's presence: a socket count per node id, and `status`. In the
    /// user's slot.
    pub fn presence(&self, user_id: &str) -> String {
        format!("{}:presence:{{{user_id}}}", self.prefix)
    }

    /// Hash of user id → last seen (Unix ms). In the node-level slot.
    pub fn last_seen(&self) -> String {
        format!("{}:lastseen", self.nodes_tag())
    }

    /// Set of users online anywhere in the cluster. In the node-level slot.
    pub fn online(&self) -> String {
        format!("{}:online", self.nodes_tag())
    }

    /// Sorted set of node id → last heartbeat (Unix ms). In the node-level slot.
    pub fn nodes(&self) -> String {
        format!("{}:nodes", self.nodes_tag())
    }

    /// Set of users with at least one socket on a node. In the node-level slot.
    pub fn node_users(&self, node: &str) -> String {
        format!("{}:node-users:{node}", self.nodes_tag())
    }

    /// Hash of a node's own figures (connections, active rooms), for cluster stats. In
    /// the node-level slot.
    pub fn node_stats(&self, node: &str) -> String {
        format!("{}:node-stats:{node}", self.nodes_tag())
    }

    /// A user's token bucket of one kind of call (cluster-wide rate limits): the GCRA's
    /// theoretical arrival time, in ms, expiring once the bucket is full again. In the
    /// user's slot.
    pub fn rate(&self, kind: &str, id: &str) -> String {
        format!("{}:rate:{kind}:{{{id}}}", self.prefix)
    }

    /// Hash of a room's running meeting: `_m` its meta (id, locked, empty since), then
    /// one field per peer (its record as JSON). In the room's slot.
    pub fn meeting(&self, room_id: &str) -> String {
        format!("{}:meeting:{{{room_id}}}", self.prefix)
    }

    /// Set of the meeting peers a node hosts (`["room","peer"]`), for its sweep. In the
    /// node-level slot.
    pub fn meeting_peers(&self, node: &str) -> String {
        format!("{}:meeting-peers:{node}", self.nodes_tag())
    }

    /// Lock taken by the node that cleans up after a dead node. In the node-level slot.
    pub fn sweep_lock(&self, node: &str) -> String {
        format!("{}:sweep:{node}", self.nodes_tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_round_trip() {
        assert_eq!(room_id_of(&room("abc")), Some("abc"));
        assert_eq!(room_id_of(&user("abc")), None);
    }

    #[test]
    fn channels_round_trip_to_targets() {
        let k = Keys::new("cc");
        for t in [
            Target::Room("r:1".into()),
            Target::User("u 2".into()),
            Target::Members("m".into()),
        ] {
            assert_eq!(k.target_of(&k.channel(&t)), Some(t));
        }
        assert_eq!(k.target_of("other:r:{1}"), None);
        assert_eq!(k.target_of("cc:r:1"), None);
    }

    /// The hash tag (what Redis Cluster hashes) of a name: between the first `{` and the
    /// next `}`.
    fn tag(name: &str) -> &str {
        let open = name.find('{').expect("a hash tag");
        let close = name[open..].find('}').expect("a closed hash tag");
        &name[open + 1..open + close]
    }

    #[test]
    fn names_are_hash_tagged_by_room_user_or_node_level_slot() {
        let k = Keys::new("cc");
        assert_eq!(tag(&k.channel(&Target::Room("r1".into()))), "r1");
        assert_eq!(tag(&k.meeting("r1")), "r1");
        assert_eq!(tag(&k.channel(&Target::Members("r1".into()))), "r1");
        assert_eq!(tag(&k.channel(&Target::User("u1".into()))), "u1");
        assert_eq!(tag(&k.presence("u1")), "u1");
        assert_eq!(tag(&k.rate("send", "u1")), "u1");
        for name in [
            k.online(),
            k.last_seen(),
            k.nodes(),
            k.node_users("n1"),
            k.node_stats("n1"),
            k.meeting_peers("n1"),
            k.sweep_lock("n1"),
        ] {
            assert_eq!(tag(&name), "cc", "{name}");
        }
    }
}
