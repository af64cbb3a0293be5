//! What every operation shares, added to the document after the annotations: the errors
//! of the extractors and of authentication (401, 503, a JSON body's 400 / 408 / 413, a
//! query's 400, a path's 404), the error body on every 4xx and 5xx with `code` limited to
//! the codes its description names, `Retry-After` on 429, and operation ids.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};

/// The `Modify` that adds the shared errors.
pub struct Shared;

impl utoipa::Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                shared_errors(op);
                for (status, resp) in op.responses.responses.iter_mut() {
                    if let RefOr::T(resp) = resp {
                        if status.as_str() >= "400" {
                            error_body(status, resp);
                        }
                    }
                }
                let tag = op.tags.as_ref().and_then(|t| t.first()).cloned();
                if let (Some(tag), Some(id)) = (tag, op.operation_id.as_mut()) {
                    *id = format!("{}.{id}", tag.replace(' ', "-"));
                }
            }
        }
    }
}

/// The operations of a path item.
pub fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.patch,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn shared_errors(op: &mut Operation) {
    let secured = op
        .security
        .iter()
        .flatten()
        .any(|r| serde_json::to_value(r).is_ok_and(|v| v.get("bearer").is_some()));
    if secured {
        add(
            op,
            "401",
            "`unauthorized`: a missing, malformed, expired or wrongly signed token",
        );
        add(op, "503", "`database_unavailable`: the database does not answer; `shutting_down`: the node is stopping (retry later)");
    }
    let body = op
        .request_body
        .as_ref()
        .map(|b| b.content.keys().cloned().collect::<Vec<_>>());
    if let Some(types) = body {
        if types.iter().any(|t| t == "application/json") {
            add(op, "400", "`invalid_json`: an empty or malformed body; `invalid_payload`: not an object, a missing or mistyped field, an id not 1–128 characters, a NUL character");
            add(
                op,
                "413",
                "`payload_too_large`: a body over `CLASSCHAT_MAX_BODY_BYTES`",
            );
        }
        add(
            op,
            "408",
            "`request_timeout`: the body did not arrive in time",
        );
    }
    let params = op.parameters.iter().flatten();
    let (mut query, mut path) = (false, false);
    for p in params {
        query |= p.parameter_in == ParameterIn::Query;
        path |= p.parameter_in == ParameterIn::Path;
    }
    if query {
        add(
            op,
            "400",
            "`invalid_query`: a bad `limit`, `before` or `after`, or a malformed query string",
        );
    }
    if path {
        add(op, "404", "`not_found`: a path segment that is no text");
    }
}

/// Adds a response, or appends to the description of the one with that status.
fn add(op: &mut Operation, status: &str, text: &str) {
    match op.responses.responses.get_mut(status) {
        Some(RefOr::T(r)) => {
            if !r.description.contains(text) {
                r.description = format!("{}; {text}", r.description);
            }
        }
        _ => {
            op.responses
                .responses
                .insert(status.into(), RefOr::T(Response::new(text)));
        }
    }
}

/// The codes a description names: the backquoted words before each `:`, in entries
/// separated by `; `.
pub fn codes(description: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in description.split("; ") {
        let head = entry.split(':').next().unwrap_or("");
        for (i, word) in head.split('`').enumerate() {
            let quoted = i % 2 == 1 && !word.is_empty();
            let is_code = quoted && word.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if is_code && !out.iter().any(|c| c == word) {
                out.push(word.to_string());
            }
        }
    }
    out
}

/// The error body, with `code` one of the codes the description names.
fn error_body(status: &str, resp: &mut Response) {
    let codes = codes(&resp.description);
    let code = ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes));
    let narrowed =
        ObjectBuilder::new().property("error", ObjectBuilder::new().property("code", code));
    let schema = AllOfBuilder::new()
        .item(Ref::from_schema_name("ErrorBody"))
        .item(narrowed)
        .build();
    let content = ContentBuilder::new()
        .schema(Some(Schema::AllOf(schema)))
        .build();
    resp.content.clear();
    resp.content.insert("application/json".into(), content);
    if status == "429" {
        let header = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some("Seconds to wait before trying again"))
            .build();
        resp.headers.insert("Retry-After".into(), header);
    }
}
