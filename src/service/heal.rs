//! The database side of healing live delivery: the backplane's `History`, read from the
//! store and encoded as the events live delivery carries.

use futures_util::future::BoxFuture;
use futures_util::FutureExt;

use crate::backplane::heal::Missed;
use crate::backplane::History;
use crate::domain::events::NewChatMessage;
use crate::storage::Store;

/// `History` over the store: missed messages become `new-chat-message` packets.
pub struct StoreHistory(pub Store);

impl History for StoreHistory {
    fn messages(
        &self,
        room: String,
        after: i64,
        upto: i64,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<Missed>, String>> {
        let store = self.0.clone();
        async move {
            let found = store
                .messages_between(&room, after, upto, i64::from(limit))
                .await
                .map_err(|e| e.to_string())?;
            Ok(found
                .iter()
                .map(|m| (m.seq, super::encode(&NewChatMessage(m))))
                .collect())
        }
        .boxed()
    }

    fn heads(&self, rooms: Vec<String>) -> BoxFuture<'static, Result<Vec<(String, i64)>, String>> {
        let store = self.0.clone();
        async move { store.room_heads(&rooms).await.map_err(|e| e.to_string()) }.boxed()
    }
}
