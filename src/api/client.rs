//! Who is calling the public route, as its rate limit counts clients.

use std::net::{IpAddr, Ipv6Addr};

/// The key the public route's rate limit counts a client under, from the
/// address the edge saw (`cf-connecting-ip`).
///
/// An IPv4 address is one client. An IPv6 client is its /64: one host gets
/// a whole /64 to pick addresses from, so counting single addresses would
/// let it take a fresh limit with every request. An IPv4 address written
/// as IPv6 (`::ffff:198.51.100.7`) is the IPv4 address. Anything that is
/// not an address shares one key, `unknown`.
pub fn rate_limit_key(address: Option<&str>) -> String {
    let Some(address) = address.and_then(|a| a.trim().parse::<IpAddr>().ok()) else {
        return "unknown".to_owned();
    };
    match address {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                let prefix = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
                format!("{prefix}/64")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> String {
        rate_limit_key(Some(address))
    }

    #[test]
    fn an_ipv6_client_is_its_slash_64() {
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2::1"),
            key("2001:db8:1:2:ffff:ffff:ffff:fffe")
        );
        assert_eq!(
            key("2001:db8:1:2:a:b:c:d"),
            key("2001:0db8:0001:0002:0000::")
        );
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db9:1:2::1"));
    }

    #[test]
    fn an_ipv4_client_is_its_address() {
        assert_eq!(key("198.51.100.7"), "198.51.100.7");
        assert_ne!(key("198.51.100.7"), key("198.51.100.8"));
        assert_eq!(key(" 198.51.100.7 "), "198.51.100.7");
        assert_eq!(key("::ffff:198.51.100.7"), "198.51.100.7");
    }

    #[test]
    fn anything_else_shares_one_key() {
        assert_eq!(rate_limit_key(None), "unknown");
        for other in [
            "",
            "unknown",
            "198.51.100.7:443",
            "[2001:db8::1]",
            "example.com",
        ] {
            assert_eq!(key(other), "unknown", "{other:?}");
        }
    }
}
