//! What every port shares: one connection limit (refused at accept with a 503, counted),
//! the header read / keep-alive idle timeout, the client address resolved from trusted
//! proxies, and a deadline for REST requests.

use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use socketio_server::{ConnectionLimit, ServeOptions};

use crate::config::NetConfig;
use crate::forwarded::{resolve, TrustedProxies};

/// The REST, Socket.IO and metrics routers with the shared layers, and how their ports
/// serve connections.
pub fn wire(
    net: &NetConfig,
    rest: Router,
    socket: Router,
    prometheus: PrometheusHandle,
) -> (Router, Router, Router, ServeOptions) {
    let refused = metrics::counter!("classchat_connections_refused_total");
    refused.increment(0);
    let limit = ConnectionLimit::new(net.max_connections, refused);
    metrics::gauge!("classchat_connections_max").set(net.max_connections as f64);
    let trusted = Arc::new(TrustedProxies::new(net.trusted_proxies.clone()));
    let client = axum::middleware::from_fn_with_state(trusted, resolve);
    let deadline = axum::middleware::from_fn_with_state(
        (net.request_timeout, net.upload_timeout),
        crate::http::timeout::deadline,
    );
    let rest = rest.layer(deadline).layer(client.clone());
    let socket = socket.layer(client);
    let open = limit.clone();
    let metrics = crate::metrics::router(prometheus).layer(axum::middleware::map_request(
        move |req: axum::extract::Request| {
            let n = open.open();
            async move {
                metrics::gauge!("classchat_connections_open").set(n as f64);
                req
            }
        },
    ));
    let options = ServeOptions {
        header_read_timeout: net.header_read_timeout,
        limit: Some(limit),
    };
    (rest, socket, metrics, options)
}
