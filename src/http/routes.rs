//! Every REST route, written once: the router is built from this table, and the
//! OpenAPI test (`openapi/check.rs`) holds the document to the same table, so a route
//! without its documentation fails the tests.

use std::sync::Arc;

use axum::Router;

use super::{
    admin, health, meetings, messages, openapi, reactions, rooms, search, status, uploads, web,
};
use crate::app::AppState;

/// `path => method(handler).method(handler)…;` adds each route to a router and lists
/// it in `ROUTES`.
macro_rules! routes {
    ($($path:literal => $m:ident($h:path) $(.$more:ident($hh:path))*;)+) => {
        /// The router with every route of the table.
        pub(super) fn add(r: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
            r$(.route($path, axum::routing::$m($h)$(.$more($hh))*))+
        }

        /// Each route's path template (axum's syntax) and its methods, lower case.
        #[cfg_attr(not(test), allow(dead_code))]
        pub const ROUTES: &[(&str, &[&str])] = &[$(($path, &[stringify!($m) $(, stringify!($more))*])),+];
    };
}

routes! {
    "/healthz" => get(health::healthz);
    "/readyz" => get(health::readyz);
    "/openapi.json" => get(openapi::serve);
    "/chat/rooms/personal" => post(rooms::open_personal);
    "/chat/rooms/group" => post(rooms::create_group);
    "/chat/rooms" => get(rooms::list_rooms);
    "/chat/rooms/{roomId}" => get(rooms::detail);
    "/chat/rooms/{roomId}/members" => post(rooms::add_members).get(rooms::members);
    "/chat/rooms/{roomId}/block" => post(rooms::block).delete(rooms::unblock);
    "/chat/rooms/{roomId}/members/{userId}" => delete(rooms::remove_member);
    "/chat/rooms/{roomId}/messages" => post(messages::send).get(messages::history);
    "/chat/rooms/{roomId}/messages/{messageId}" => delete(messages::delete).patch(messages::edit);
    "/chat/rooms/{roomId}/messages/{messageId}/reactions/{emoji}" =>
        put(reactions::react_add).delete(reactions::react_remove).get(reactions::reactors);
    "/chat/rooms/{roomId}/messages/{messageId}/replies" => get(reactions::replies);
    "/chat/rooms/{roomId}/pins" => get(reactions::pins);
    "/chat/rooms/{roomId}/pins/{messageId}" => put(reactions::pin).delete(reactions::unpin);
    "/chat/rooms/{roomId}/messages/{messageId}/seen-by" => get(messages::seen_by);
    "/chat/rooms/{roomId}/seen" => post(messages::seen);
    "/chat/rooms/{roomId}/meeting" => post(meetings::start).get(meetings::get).delete(meetings::end);
    "/chat/rooms/{roomId}/meetings" => get(meetings::history);
    "/chat/meetings/ice-servers" => get(meetings::ice_servers);
    "/chat/uploads" => post(uploads::upload);
    "/chat/uploads/{uploadId}" => get(uploads::download);
    "/chat/search" => get(search::search);
    "/app" => get(web::redirect);
    "/app/" => get(web::index);
    "/app/config.json" => get(web::config);
    "/app/try-token" => post(web::try_token);
    "/app/{*path}" => get(web::asset);
    "/chat/status" => put(status::set);
    "/chat/users/{userId}/status" => get(status::get);
    "/chat/ws/stats" => get(status::stats);
    "/chat/admin/webhooks" => get(admin::webhooks);
}
