//! Application services: the operations REST and socket handlers share.

mod announce;
pub mod batch;
mod forward;
mod heal;
mod meetings;
mod members;
mod messages;
mod online_cache;
mod personal;
mod presence;
pub mod ratelimit;
mod reactions;
mod room_counts;
mod rooms;
mod search;
mod shared_rate;
mod threads;
pub mod typing;
pub mod uploads;
mod webhooks;

use std::sync::Arc;

use bytes::Bytes;
use dashmap::DashMap;

use crate::backplane::meetings::MeetingStore;
use crate::backplane::{Backplane, Envelope, Payload, Presence, Seq, Target};
use crate::domain::error::{AppError, AppResult};
use crate::domain::events::{ServerEvent, Timestamped};
use crate::domain::ice::IceConfig;
use crate::domain::limits::Limits;
use crate::domain::permissions;
use crate::domain::time::now_ms;
use crate::domain::{Principal, Role, RoomRole, RoomSummary};
use crate::storage::Store;

pub use heal::{change_packet, StoreHistory};
pub use meetings::{
    describe_metrics as describe_meeting_metrics, not_in_meeting, run_upkeep as meeting_upkeep,
    zero_metrics as zero_meeting_metrics, HostActionDone, JoinAck, Relayed,
};
pub use messages::SeenBy;
pub use personal::BlockState;
pub use presence::{ClusterStats, NodeStats};
pub use ratelimit::RateLimits;
pub use reactions::Reacted;
pub use room_counts::{room_counts, status_options};
pub use rooms::format_cursor;
pub use typing::TypingTimers;
pub use webhooks::{
    describe_webhook_metrics, run_webhooks, zero_webhook_metrics, WebhookDelivery, Webhooks,
};

/// Everything a chat operation needs.
pub struct Chat {
    pub store: Store,
    pub backplane: Backplane,
    pub presence: Arc<Presence>,
    /// Who is in each running meeting.
    pub meetings: Arc<MeetingStore>,
    /// STUN/TURN servers handed to meeting peers.
    pub ice: IceConfig,
    /// Where uploads are stored, and how their urls are signed.
    pub files: uploads::Files,
    pub limits: Limits,
    pub node_id: String,
    pub rate: RateLimits,
    pub typing: TypingTimers,
    pub io: socketio_server::Server,
    /// Set on SIGTERM: presence is handed over (see `HANDOVER`) instead of dropped.
    pub draining: std::sync::atomic::AtomicBool,
    /// Name and role last written per user, so tokens cost a write only on change.
    known_users: DashMap<String, (Option<String>, Role)>,
    /// Token names and roles to store, written together.
    user_writes: batch::Batcher<(String, Option<String>, Role), ()>,
    /// Rooms of users coming online on this node, read together.
    room_loads: batch::Batcher<String, Vec<String>>,
    /// Status announcements in flight, and the latest change waiting behind each.
    announcing: announce::Announcements,
    /// Recent `get-room-online-users` answers per room.
    online_cache: online_cache::OnlineCache,
    /// Member ids of rooms, for room sizes and large rooms' online counts.
    room_members: room_counts::RoomMembers,
    /// Offline notifications (disabled unless `with_webhooks` set a URL).
    pub webhooks: Webhooks,
}

/// While draining, a closed socket's presence is released this much later, so a
/// client that reconnects to another node is never seen going offline.
pub const HANDOVER: std::time::Duration = std::time::Duration::from_secs(3);

/// A server event as the Socket.IO packet sockets receive: encoded once, whatever the
/// number of sockets and nodes it reaches. The body passes through `serde_json::Value`
/// so its keys come out in the same (sorted) order as in acks and REST answers, which
/// do too: a client may compare an event's `data` with an ack's text for text.
pub fn encode<E: ServerEvent>(event: &E) -> Bytes {
    let body = serde_json::to_value(Timestamped::now(event)).unwrap_or_default();
    socketio_server::packet::event(E::NAME, &body)
}

impl Chat {
    pub fn new(
        store: Store,
        backplane: Backplane,
        presence: Arc<Presence>,
        limits: Limits,
        node_id: String,
        io: socketio_server::Server,
        typing_timeout: std::time::Duration,
    ) -> Self {
        let (writer, reader) = (store.clone(), store.clone());
        Chat {
            user_writes: batch::Batcher::spawn(
                move |users: Vec<(String, Option<String>, Role)>| {
                    let store = writer.clone();
                    async move {
                        store.upsert_users(&users, now_ms()).await?;
                        Ok(Default::default())
                    }
                },
            ),
            room_loads: batch::Batcher::spawn(move |ids: Vec<String>| {
                let store = reader.clone();
                async move { store.rooms_of_many(&ids).await }
            }),
            rate: RateLimits::new(&limits),
            typing: TypingTimers::new(typing_timeout),
            store,
            backplane,
            presence,
            meetings: Arc::new(MeetingStore::Local(Default::default())),
            ice: IceConfig::default(),
            files: uploads::Files::in_memory(),
            limits,
            node_id,
            io,
            draining: std::sync::atomic::AtomicBool::new(false),
            known_users: DashMap::new(),
            announcing: Default::default(),
            online_cache: Default::default(),
            room_members: Default::default(),
            webhooks: Default::default(),
        }
    }

    /// Where meetings keep their peers (in process until set), and the ICE servers.
    pub fn with_meetings(mut self, meetings: Arc<MeetingStore>, ice: IceConfig) -> Self {
        self.meetings = meetings;
        self.ice = ice;
        self
    }

    /// Where uploads are stored (in memory until set).
    pub fn with_files(mut self, files: uploads::Files) -> Self {
        self.files = files;
        self
    }

    /// Records the caller's name and role as their token tells (once per change).
    pub async fn remember(&self, p: &Principal) -> AppResult<()> {
        let fresh = (p.name.clone(), p.role);
        if self
            .known_users
            .get(&p.user_id)
            .is_some_and(|v| *v == fresh)
        {
            return Ok(());
        }
        self.user_writes
            .get((p.user_id.clone(), p.name.clone(), p.role))
            .await?;
        self.known_users.insert(p.user_id.clone(), fresh);
        Ok(())
    }

    /// Every room of a user (read together with other users coming online).
    pub async fn rooms_of(&self, user_id: &str) -> AppResult<Vec<String>> {
        self.room_loads.get(user_id.to_string()).await
    }

    /// Publishes a server→client event to its target's sockets on every node.
    pub async fn emit<E: ServerEvent>(&self, target: Target, except_user: Option<&str>, event: &E) {
        metrics::counter!("classchat_events_emitted_total", "event" => E::NAME).increment(1);
        self.backplane
            .publish(Envelope {
                target,
                except_user: except_user.map(Into::into),
                except_peer: None,
                payload: Payload::Packet {
                    packet: encode(event),
                    seq: (event.seq().map(Seq::Message)).or(event.change_seq().map(Seq::Change)),
                },
            })
            .await;
    }

    /// Publishes a server→client event to a target's sockets but one meeting peer's.
    pub async fn emit_except_peer<E: ServerEvent>(&self, target: Target, peer_id: &str, event: &E) {
        metrics::counter!("classchat_events_emitted_total", "event" => E::NAME).increment(1);
        self.backplane
            .publish(Envelope {
                target,
                except_user: None,
                except_peer: Some(peer_id.to_string()),
                payload: Payload::Packet {
                    packet: encode(event),
                    seq: None,
                },
            })
            .await;
    }

    /// A message of a room the caller may see (else `room_not_found`), or
    /// `message_not_found`.
    pub async fn message_of(
        &self,
        p: &Principal,
        room_id: &str,
        message_id: &str,
    ) -> AppResult<crate::domain::Message> {
        self.access(p, room_id).await?;
        self.store
            .get_message(room_id, message_id)
            .await?
            .map(|(m, _)| m)
            .ok_or_else(AppError::message_not_found)
    }

    /// The members of a room but `user_id`.
    pub async fn other_members(&self, room_id: &str, user_id: &str) -> AppResult<Vec<String>> {
        Ok(self
            .store
            .members(room_id)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .filter(|u| u != user_id)
            .collect())
    }

    /// The room and the caller's membership, if the caller may see the room
    /// (members; admins anywhere). Otherwise `room_not_found`.
    pub async fn access(
        &self,
        p: &Principal,
        room_id: &str,
    ) -> AppResult<(RoomSummary, Option<RoomRole>)> {
        let membership = self.store.membership(room_id, &p.user_id).await?;
        if !permissions::can_access_room(p, membership) {
            return Err(AppError::room_not_found());
        }
        let room = self
            .store
            .get_room(room_id)
            .await?
            .ok_or_else(AppError::room_not_found)?;
        Ok((room, membership))
    }
}
