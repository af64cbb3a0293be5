//! Settings of rooms and presence queries (issue 11): the member cap, how many members a
//! room detail lists, the cache of online-user answers, and who may open a 1:1 room.

use clap::Args;

use super::parse::{non_negative, positive};
use crate::domain::limits::PersonalRooms;

/// Parses `anyone`, `shared-room` or `staff-only`.
fn personal_rooms(s: &str) -> Result<PersonalRooms, String> {
    PersonalRooms::parse(s.trim())
        .ok_or_else(|| "must be anyone, shared-room or staff-only".to_string())
}

#[derive(Args, Clone, Debug)]
#[command(next_help_heading = "Rooms")]
pub struct RoomArgs {
    /// Members of one room at most (the owner included); creating or adding past it is refused with 409 room_full
    #[arg(long, env = "CLASSCHAT_MAX_ROOM_MEMBERS", value_name = "N", default_value = "5000", value_parser = positive::<usize>)]
    pub max_room_members: usize,
    /// Members listed in a room detail (GET /chat/rooms/{id}, and the answers of group creation and member adds); the rest are paged with GET /chat/rooms/{id}/members
    #[arg(long, env = "CLASSCHAT_ROOM_DETAIL_MEMBERS", value_name = "N", default_value = "500", value_parser = positive::<usize>)]
    pub room_detail_members: usize,
    /// How long one answer of get-room-online-users is reused for the same room (0: never)
    #[arg(long, env = "CLASSCHAT_ONLINE_USERS_CACHE_MS", value_name = "MS", default_value = "1000", value_parser = non_negative)]
    pub online_users_cache_ms: u64,
    /// Window of presence fan-out: sockets that opted into batches get at most one chat-users-status-update per window, and a large room's room-online-count goes out at most once per window
    #[arg(long, env = "CLASSCHAT_PRESENCE_WINDOW_MS", value_name = "MS", default_value = "250", value_parser = positive::<u64>)]
    pub presence_window_ms: u64,
    /// Rooms with more members than this tell their members room-online-count instead of one chat-user-status-update per member coming or going (0: never)
    #[arg(long, env = "CLASSCHAT_PRESENCE_COUNT_ABOVE", value_name = "N", default_value = "200", value_parser = non_negative)]
    pub presence_count_above: u64,
    /// Who may open a 1:1 room with whom: anyone; shared-room (the two already share a group room, or the opener is an admin); staff-only (the opener or the other user is a teacher or admin). An existing 1:1 room can always be reopened by its members
    #[arg(long, env = "CLASSCHAT_PERSONAL_ROOMS", value_name = "POLICY", default_value = "anyone", value_parser = personal_rooms)]
    pub personal_rooms: PersonalRooms,
}
