//! Who the client is: the TCP peer, unless the peer is a trusted proxy
//! (`CLASSCHAT_TRUSTED_PROXIES`); then `X-Forwarded-For` is read from the right, past
//! the hops that are trusted proxies too, and the first other address is the client.
//! Every request of the three ports carries the answer as a `ClientAddress` extension.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use socketio_server::ClientAddress;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies(nets)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request that came from `peer` with `headers`. A hop that is not
    /// an address ends the walk: the last trusted hop before it is the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Header lines in order, each a comma-separated list: the last hop is the
        // one our nearest proxy appended.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// Middleware: puts the request's `ClientAddress` in its extensions.
pub async fn resolve(
    State(trusted): State<Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    if let Some(peer) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        let addr = trusted.client(peer.0.ip(), req.headers());
        req.extensions_mut().insert(ClientAddress(addr));
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(trusted: &[&str], peer: &str, xff: &[&str]) -> String {
        let t = TrustedProxies::new(trusted.iter().map(|s| s.parse().unwrap()).collect());
        let mut h = HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        t.client(peer.parse().unwrap(), &h).to_string()
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_is_the_client_whatever_it_forwards() {
        assert_eq!(client(&[], "203.0.113.7", &["10.9.9.9"]), "203.0.113.7");
        assert_eq!(
            client(&["10.0.0.0/8"], "203.0.113.7", &["10.9.9.9"]),
            "203.0.113.7"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_last_untrusted_hop_is_the_client() {
        let t = &["10.0.0.0/8"];
        assert_eq!(client(t, "10.0.0.2", &["198.51.100.1"]), "198.51.100.1");
        // The client's own (forged) hops come before the one the proxy appended.
        assert_eq!(
            client(t, "10.0.0.2", &["1.2.3.4, 198.51.100.1"]),
            "198.51.100.1"
        );
        assert_eq!(
            client(t, "10.0.0.2", &["1.2.3.4", "198.51.100.1, 10.0.0.3"]),
            "198.51.100.1"
        );
        // Garbage ends the walk at the last trusted hop; no header: the proxy itself.
        assert_eq!(client(t, "10.0.0.2", &["junk, 10.0.0.3"]), "10.0.0.3");
        assert_eq!(client(t, "10.0.0.2", &[]), "10.0.0.2");
        assert_eq!(
            client(t, "::ffff:10.0.0.2", &["198.51.100.1"]),
            "198.51.100.1"
        );
    }
}
