//! Whether `podgate proxy` may listen where it was told to: without client authentication it
//! serves loopback only (and unix sockets, guarded by file permissions), unless
//! `--allow-unauthenticated` says the exposure is intended.

use std::net::{IpAddr, SocketAddr};

/// The address to listen on for `--address` and `--port` (`localhost` and other names are
/// resolved; the first address is used, as Go's `net.Listen` does).
pub async fn resolve_address(address: &str, port: u16) -> anyhow::Result<SocketAddr> {
    if let Ok(ip) = address.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let host = if address.is_empty() {
        "0.0.0.0"
    } else {
        address
    };
    let mut addrs = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| anyhow::anyhow!("listen tcp {host}:{port}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| anyhow::anyhow!("listen tcp {host}:{port}: no addresses"))
}

/// Refuses an address beyond loopback without client authentication, unless allowed.
pub fn check(ip: IpAddr, unauthenticated: bool, allow_unauthenticated: bool) -> anyhow::Result<()> {
    if ip.is_loopback() || !unauthenticated {
        return Ok(());
    }
    if allow_unauthenticated {
        tracing::warn!(
            address = %ip,
            "serving without client authentication beyond loopback: anyone who can reach this address acts with the proxy's credentials"
        );
        return Ok(());
    }
    anyhow::bail!(
        "refusing to serve on {ip} without client authentication: anyone who can reach it would act with the proxy's credentials; use --token-auth-file or --delegated-auth, or --allow-unauthenticated to accept that"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposure_rules() {
        // (address, unauthenticated, allowed, ok)
        let table = [
            ("127.0.0.1", true, false, true),
            ("127.0.0.2", true, false, true),
            ("::1", true, false, true),
            ("0.0.0.0", true, false, false),
            ("::", true, false, false),
            ("10.1.2.3", true, false, false),
            ("0.0.0.0", true, true, true),
            ("0.0.0.0", false, false, true),
        ];
        for (ip, unauth, allowed, ok) in table {
            let got = check(ip.parse().unwrap(), unauth, allowed);
            assert_eq!(
                got.is_ok(),
                ok,
                "{ip} unauthenticated={unauth} allowed={allowed}"
            );
        }
        let err = check("0.0.0.0".parse().unwrap(), true, false)
            .unwrap_err()
            .to_string();
        assert!(err.contains("--allow-unauthenticated"), "{err}");
    }

    #[tokio::test]
    async fn addresses_resolve() {
        assert_eq!(
            resolve_address("127.0.0.1", 8001).await.unwrap(),
            "127.0.0.1:8001".parse().unwrap()
        );
        assert_eq!(
            resolve_address("::1", 0).await.unwrap(),
            "[::1]:0".parse().unwrap()
        );
        assert!(
            resolve_address("localhost", 1)
                .await
                .unwrap()
                .ip()
                .is_loopback()
        );
    }
}
