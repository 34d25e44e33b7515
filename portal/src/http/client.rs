//! Where a request comes from: the peer address, or behind a configured proxy the address
//! that proxy reports; and the browser's User-Agent, trimmed for the audit trail.

use crate::audit::Client;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use std::net::{IpAddr, SocketAddr};

/// The client of a request. `X-Forwarded-For` is believed only from `trusted_proxies`, and
/// then only its last entry not itself a trusted proxy (earlier entries are the client's to
/// write).
pub fn client_of(parts: &Parts, trusted_proxies: &[IpAddr]) -> Client {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = match peer {
        Some(p) if trusted_proxies.contains(&p) => parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|s| s.trim().parse::<IpAddr>().ok())
            .rev()
            .find(|ip| !trusted_proxies.contains(ip))
            .or(Some(p)),
        other => other,
    };
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| {
            ua.chars()
                .filter(|c| !c.is_control())
                .take(300)
                .collect::<String>()
        })
        .filter(|ua| !ua.is_empty());
    Client {
        ip: ip.map(|i| i.to_string()),
        user_agent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(peer: &str, xff: Option<&str>) -> Parts {
        let mut b = Request::builder()
            .uri("/")
            .header("user-agent", "Test\tAgent");
        if let Some(x) = xff {
            b = b.header("x-forwarded-for", x);
        }
        let (mut parts, ()) = b.body(()).unwrap().into_parts();
        parts
            .extensions
            .insert(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
        parts
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let c = client_of(
            &parts("10.0.0.1:5000", Some("6.6.6.6, 203.0.113.7")),
            &[proxy],
        );
        assert_eq!(
            c.ip.as_deref(),
            Some("203.0.113.7"),
            "the proxy's own entry"
        );
        let c = client_of(&parts("198.51.100.2:5000", Some("6.6.6.6")), &[proxy]);
        assert_eq!(
            c.ip.as_deref(),
            Some("198.51.100.2"),
            "not a proxy: header ignored"
        );
        let c = client_of(&parts("10.0.0.1:5000", None), &[proxy]);
        assert_eq!(c.ip.as_deref(), Some("10.0.0.1"));
        assert_eq!(c.user_agent.as_deref(), Some("TestAgent"));
    }
}
