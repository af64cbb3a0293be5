//! The OpenAPI 3.1 document of the REST API, made from the handlers' `#[utoipa::path]`
//! annotations and the schemas derived on the types they answer; served at
//! `GET /openapi.json` (no token). `errors.rs` adds what every operation shares.

mod errors;
pub mod params;

#[cfg(test)]
mod check;

use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi;

use errors::Shared;

use super::{admin, health, meetings, messages, reactions, rooms, search, status, uploads, web};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "classchat REST API",
        description = "Chat, meetings and uploads for education platforms. Every success \
            body is `{ \"data\": … }` (lists: `{ \"data\": [ … ], \"nextCursor\" }`), every \
            error `{ \"error\": { \"code\", \"message\" } }`. The reference with every rule, \
            and the Socket.IO events, is docs/API.md.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        health::healthz, health::readyz, serve,
        rooms::open_personal, rooms::create_group, rooms::list_rooms, rooms::detail,
        rooms::members, rooms::add_members, rooms::remove_member, rooms::block, rooms::unblock,
        messages::send, messages::history, messages::delete, messages::edit,
        messages::seen, messages::seen_by,
        reactions::react_add, reactions::react_remove, reactions::reactors,
        reactions::replies, reactions::pins, reactions::pin, reactions::unpin,
        meetings::start, meetings::get, meetings::end, meetings::history, meetings::ice_servers,
        uploads::upload, uploads::download, search::search,
        status::set, status::get, status::stats, admin::webhooks,
        web::redirect, web::index, web::asset, web::config, web::try_token,
    ),
    components(schemas(
        super::ErrorBody,
        crate::domain::events::ChatMessageReaction,
        super::Data<crate::domain::events::ChatMessageReaction>
    )),
    modifiers(&Bearer, &Shared),
    tags(
        (name = "rooms", description = "Rooms and members"),
        (name = "messages", description = "Messages, edits, reactions, replies, pins, read receipts"),
        (name = "meetings", description = "Video meetings of a room (signalling is over Socket.IO)"),
        (name = "uploads", description = "Files, voice and video messages"),
        (name = "search", description = "Full-text message search"),
        (name = "presence", description = "Status and connection figures"),
        (name = "admin", description = "Platform admins"),
        (name = "probes", description = "Liveness and readiness, no token"),
        (name = "web client", description = "The page at /app/, no token"),
        (name = "meta", description = "This document"),
    ),
)]
pub struct ApiDoc;

/// The `bearer` security scheme: the platform's JWT.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A JWT of the platform: `sub`, `role` (student, teacher, admin), `exp`, \
                 optional `name` (docs/API.md, Authentication)",
            ))
            .build();
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, made once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .expect("the document serialises")
    })
}

/// This document (OpenAPI 3.1).
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn serve() -> Response {
    let mut resp = document().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
