//! Client→server events: the one list of their names and payload types, parsed once
//! into an enum (unknown names and bad payloads become the contract's error codes).

use serde_json::Value;

use crate::domain::error::{AppError, AppResult};
use crate::domain::requests::{
    parse, JoinRooms, MeetingHostActionReq, MeetingJoin, MeetingMedia, MeetingSignalReq, RoomRef,
    SetStatus, SocketEdit, SocketReact, SocketSeen, SocketSend, Typing,
};

macro_rules! client_events {
    ($($variant:ident = $name:literal ($payload:ty),)+) => {
        /// A client→server event with its payload, parsed.
        #[derive(Debug)]
        pub enum ClientEvent {
            $($variant($payload),)+
        }

        /// Which client→server event (also a bounded metric label).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum ClientEventName {
            $($variant,)+
        }

        impl ClientEventName {
            /// Every client→server event of the contract.
            pub const ALL: &'static [ClientEventName] = &[$(ClientEventName::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(ClientEventName::$variant => $name,)+
                }
            }

            /// The event of this name, if the contract has one.
            pub fn of(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(ClientEventName::$variant),)+
                    _ => None,
                }
            }

            /// Parses the event's payload (its first argument, a JSON object).
            pub fn parse(self, payload: Option<Value>) -> AppResult<ClientEvent> {
                let v = payload.ok_or_else(|| {
                    AppError::bad_request("invalid_payload", "the event needs a JSON object payload")
                })?;
                Ok(match self {
                    $(ClientEventName::$variant => ClientEvent::$variant(parse(v)?),)+
                })
            }
        }
    };
}

client_events! {
    JoinChatRooms = "join-chat-rooms" (JoinRooms),
    LeaveChatRoom = "leave-chat-room" (RoomRef),
    ChatTyping = "chat-typing" (Typing),
    MarkMessagesSeen = "mark-messages-seen" (SocketSeen),
    UpdateChatStatus = "update-chat-status" (SetStatus),
    GetRoomOnlineUsers = "get-room-online-users" (RoomRef),
    SendChatMessage = "send-chat-message" (SocketSend),
    EditChatMessage = "edit-chat-message" (SocketEdit),
    ReactChatMessage = "react-chat-message" (SocketReact),
    MeetingJoin = "meeting-join" (MeetingJoin),
    MeetingLeave = "meeting-leave" (RoomRef),
    MeetingSignal = "meeting-signal" (MeetingSignalReq),
    MeetingMediaState = "meeting-media-state" (MeetingMedia),
    MeetingHostAction = "meeting-host-action" (MeetingHostActionReq),
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_name_maps_back_to_its_event() {
        for e in ClientEventName::ALL {
            assert_eq!(ClientEventName::of(e.as_str()), Some(*e));
        }
        assert_eq!(ClientEventName::of("chat-user-typing"), None);
    }

    #[test]
    fn payloads_parse_into_their_event_or_name_the_problem() {
        let typing = ClientEventName::ChatTyping
            .parse(Some(json!({ "roomId": "r", "isTyping": true })))
            .unwrap();
        assert!(matches!(typing, ClientEvent::ChatTyping(t) if t.is_typing && t.room_id == "r"));
        let e = ClientEventName::ChatTyping.parse(None).unwrap_err();
        assert_eq!(e.code, "invalid_payload");
        let e = ClientEventName::LeaveChatRoom
            .parse(Some(json!("r")))
            .unwrap_err();
        assert_eq!(e.code, "invalid_payload");
    }
}
