//! Every name a broadcast travels under: Socket.IO rooms here, Redis channels and keys later.

/// The Socket.IO room holding a chat room's joined sockets.
pub fn room(room_id: &str) -> String {
    format!("r:{room_id}")
}

/// The Socket.IO room holding every socket of one user (their private channel).
pub fn user(user_id: &str) -> String {
    format!("u:{user_id}")
}

/// The chat room id of a Socket.IO room name, if it is one.
pub fn room_id_of(name: &str) -> Option<&str> {
    name.strip_prefix("r:")
}

#[cfg(test)]
mod tests {
    #[test]
    fn room_names_round_trip() {
        assert_eq!(super::room_id_of(&super::room("abc")), Some("abc"));
        assert_eq!(super::room_id_of(&super::user("abc")), None);
    }
}
