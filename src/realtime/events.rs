//! Socket.IO event names of the contract, both directions.

// Client → server.
pub const JOIN_CHAT_ROOMS: &str = "join-chat-rooms";
pub const LEAVE_CHAT_ROOM: &str = "leave-chat-room";
pub const CHAT_TYPING: &str = "chat-typing";
pub const MARK_MESSAGES_SEEN: &str = "mark-messages-seen";
pub const UPDATE_CHAT_STATUS: &str = "update-chat-status";
pub const GET_ROOM_ONLINE_USERS: &str = "get-room-online-users";
pub const SEND_CHAT_MESSAGE: &str = "send-chat-message";

// Server → client.
pub const CHAT_ROOMS_JOINED: &str = "chat-rooms-joined";
pub const NEW_CHAT_MESSAGE: &str = "new-chat-message";
pub const CHAT_USER_TYPING: &str = "chat-user-typing";
pub const MESSAGES_SEEN: &str = "messages-seen";
pub const CHAT_MESSAGE_DELETED: &str = "chat-message-deleted";
pub const CHAT_USER_STATUS_UPDATE: &str = "chat-user-status-update";
pub const CHAT_NOTIFICATION: &str = "chat-notification";
pub const ROOM_ONLINE_USERS: &str = "room-online-users";

/// `chat-notification` types.
pub mod notification {
    pub const NEW_CHAT: &str = "new-chat";
    pub const GROUP_INVITE: &str = "group-invite";
    pub const MEMBER_ADDED: &str = "member-added";
    pub const MENTION: &str = "mention";
}

/// The `'static` name of a server→client event, for names read off the backplane.
pub fn server_event(name: &str) -> Option<&'static str> {
    [
        CHAT_ROOMS_JOINED,
        NEW_CHAT_MESSAGE,
        CHAT_USER_TYPING,
        MESSAGES_SEEN,
        CHAT_MESSAGE_DELETED,
        CHAT_USER_STATUS_UPDATE,
        CHAT_NOTIFICATION,
        ROOM_ONLINE_USERS,
    ]
    .into_iter()
    .find(|n| *n == name)
}
