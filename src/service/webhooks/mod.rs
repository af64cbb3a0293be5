//! Offline notifications: each mention, 1:1 message, group invite and meeting start for
//! a user with no live socket on any node is queued in the outbox (before the operation
//! answers) and POSTed to `CLASSCHAT_WEBHOOK_URL` by `dispatch`. Who is online is looked
//! up once, when the event happens; nothing is rechecked at delivery.

mod admin;
mod dispatch;
mod metrics_;

use crate::domain::error::AppResult;
use crate::domain::events::By;
use crate::domain::meeting::Meeting;
use crate::domain::time::now_ms;
use crate::domain::webhook::{preview, WebhookConfig, WebhookData, WebhookEvent, WebhookKind};
use crate::domain::{Message, Principal, RoomKind, RoomSummary};
use crate::storage::NewOutboxRow;

pub use admin::WebhookDelivery;
pub use dispatch::run as run_webhooks;
pub use metrics_::{
    describe_metrics as describe_webhook_metrics, zero_metrics as zero_webhook_metrics,
};

use super::Chat;

/// The webhook settings and this node's HTTP client; disabled without a URL.
#[derive(Default)]
pub struct Webhooks {
    config: WebhookConfig,
    client: Option<reqwest::Client>,
    /// Wakes this node's dispatcher when it queued something.
    wake: tokio::sync::Notify,
}

impl Webhooks {
    /// Checks the settings (a URL needs a secret of 32 bytes or more) and builds the client.
    pub fn new(config: WebhookConfig) -> Result<Self, String> {
        config.check()?;
        let client = match &config.url {
            None => None,
            Some(_) => Some(
                reqwest::Client::builder()
                    .timeout(config.timeout)
                    .connect_timeout(config.timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("classchat-webhooks/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| format!("CLASSCHAT_WEBHOOK_URL: {e}"))?,
            ),
        };
        Ok(Webhooks {
            config,
            client,
            wake: Default::default(),
        })
    }

    pub fn enabled(&self) -> bool {
        self.client.is_some()
    }
}

/// What one event says, before it is addressed to each user.
struct Draft<'a> {
    kind: WebhookKind,
    room: &'a RoomSummary,
    message_id: Option<String>,
    data: WebhookData,
}

impl Chat {
    /// Sends offline notifications through `webhooks` (checked at start-up).
    pub fn with_webhooks(mut self, webhooks: Webhooks) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// A stored message: in a 1:1 room the other member gets `direct-message`; in a
    /// group room each mentioned member gets `mention`.
    pub(super) async fn webhook_message(&self, p: &Principal, message: &Message) {
        if !self.webhooks.enabled() {
            return;
        }
        let queued = async {
            let Some(room) = self.store.get_room(&message.room_id).await? else {
                return Ok(());
            };
            let (kind, users) = match room.kind {
                RoomKind::Personal => (
                    WebhookKind::DirectMessage,
                    self.other_members(&room.id, &p.user_id).await?,
                ),
                RoomKind::Group => (WebhookKind::Mention, message.mentions.clone()),
            };
            let mut data = WebhookData::new(&room, By::of(p));
            data.preview = Some(preview(message.content.as_deref().unwrap_or("")));
            let draft = Draft {
                kind,
                room: &room,
                message_id: Some(message.id.clone()),
                data,
            };
            self.queue_offline(users, draft).await
        };
        self.log_failure(queued.await);
    }

    /// New members of a group room get `group-invite`.
    pub(super) async fn webhook_invite(
        &self,
        p: &Principal,
        room: &RoomSummary,
        invited: &[String],
    ) {
        if !self.webhooks.enabled() || invited.is_empty() {
            return;
        }
        let draft = Draft {
            kind: WebhookKind::GroupInvite,
            room,
            message_id: None,
            data: WebhookData::new(room, By::of(p)),
        };
        let result = self.queue_offline(invited.to_vec(), draft).await;
        self.log_failure(result);
    }

    /// Every member of the room but its starter gets `meeting-started`.
    pub(super) async fn webhook_meeting(
        &self,
        p: &Principal,
        room: &RoomSummary,
        meeting: &Meeting,
    ) {
        if !self.webhooks.enabled() {
            return;
        }
        let queued = async {
            let mut data = WebhookData::new(room, By::of(p));
            data.meeting_id = Some(meeting.id.clone());
            data.title = Some(meeting.title.clone());
            let draft = Draft {
                kind: WebhookKind::MeetingStarted,
                room,
                message_id: None,
                data,
            };
            self.queue_offline(self.other_members(&room.id, &p.user_id).await?, draft)
                .await
        };
        self.log_failure(queued.await);
    }

    /// Queues `draft` for each of `users` with no live socket on any node.
    async fn queue_offline(&self, users: Vec<String>, draft: Draft<'_>) -> AppResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let states = self.presence.states(&users).await;
        let now = now_ms();
        let mut rows = Vec::new();
        for (user_id, (connected, _)) in users.into_iter().zip(states) {
            if connected {
                continue;
            }
            let event = WebhookEvent {
                id: super::rooms::new_id(),
                kind: draft.kind,
                user_id,
                room_id: draft.room.id.clone(),
                message_id: draft.message_id.clone(),
                created_at: now,
                data: draft.data.clone(),
            };
            let body = serde_json::to_string(&event).unwrap_or_default();
            rows.push(NewOutboxRow {
                id: event.id,
                kind: draft.kind.as_str(),
                user_id: event.user_id,
                room_id: event.room_id,
                message_id: event.message_id,
                body,
                created_at: now,
            });
        }
        if rows.is_empty() {
            return Ok(());
        }
        self.store.queue_webhooks(&rows).await?;
        metrics::counter!("classchat_webhooks_queued_total", "type" => draft.kind.as_str())
            .increment(rows.len() as u64);
        self.webhooks.wake.notify_one();
        Ok(())
    }

    /// The operation stands (its event happened); the notification is lost and logged.
    fn log_failure(&self, result: AppResult<()>) {
        if let Err(e) = result {
            metrics::counter!("classchat_webhooks_queue_errors_total").increment(1);
            tracing::error!(error = ?e, "offline notification not queued");
        }
    }
}
