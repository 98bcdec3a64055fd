//! Which network addresses the server connects to when a user's input names
//! the destination (`run/url` script downloads, notification webhooks).
//!
//! Never: link-local addresses (where cloud metadata services answer,
//! `169.254.169.254`, also `fd00:ec2::254`), unspecified (`0.0.0.0`, `::`,
//! which reach the server itself), multicast and broadcast; IPv4-mapped IPv6
//! addresses are judged as the IPv4 address they carry. Loopback and private
//! networks stay allowed: hooks and script servers often live there.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// AWS's IPv6 instance metadata address (`fd00:ec2::254`).
const AWS_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Whether the server may connect to `ip` on a user's behalf.
pub fn outbound_allowed(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => allowed_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => allowed_v4(v4),
            None => allowed_v6(v6),
        },
    }
}

fn allowed_v4(ip: Ipv4Addr) -> bool {
    !(ip.octets()[0] == 0 || ip.is_link_local() || ip.is_multicast() || ip.is_broadcast())
}

fn allowed_v6(ip: Ipv6Addr) -> bool {
    let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
    !(ip.is_unspecified() || ip.is_multicast() || link_local || ip == AWS_METADATA_V6)
}

/// Checks a destination before any connection: the scheme must be `http`
/// or `https`, and a host that is an address literal (`10.0.0.1`, `[::1]`)
/// must be [allowed](outbound_allowed). Host names pass: they are checked
/// on the addresses they resolve to, when connecting.
pub fn check_outbound(scheme: &str, host: &str) -> Result<(), String> {
    if !matches!(scheme, "http" | "https") {
        return Err(format!("only http and https are allowed, not {scheme}:"));
    }
    if host.is_empty() {
        return Err("the URL has no host".into());
    }
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        if !outbound_allowed(ip) {
            return Err(format!(
                "the server does not connect to address {ip} (link-local, metadata, unspecified, multicast or broadcast)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_schemes() {
        for (scheme, host, ok) in [
            ("http", "127.0.0.1", true),
            ("https", "scripts.example.com", true),
            ("http", "10.1.2.3", true),
            ("http", "[::1]", true),
            ("http", "169.254.169.254", false),
            ("http", "[::ffff:169.254.169.254]", false),
            ("http", "[::ffff:a9fe:a9fe]", false),
            ("http", "[fe80::1]", false),
            ("http", "[febf::1]", false),
            ("http", "[fd00:ec2::254]", false),
            ("http", "0.0.0.0", false),
            ("http", "[::]", false),
            ("http", "224.0.0.1", false),
            ("http", "[ff02::1]", false),
            ("http", "255.255.255.255", false),
            ("http", "", false),
            ("file", "", false),
            ("ftp", "example.com", false),
            ("gopher", "example.com", false),
        ] {
            assert_eq!(
                check_outbound(scheme, host).is_ok(),
                ok,
                "{scheme}://{host}"
            );
        }
    }
}
