//! The SSRF guard: keygate calls integrators' URLs from inside AWS — webhook deliveries, OAuth
//! 2.0 callbacks' token requests, OAuth clients' published keys (`jwksUri`) — so such a URL must
//! never reach the VPC, the instance metadata service or the host itself. Every client that
//! calls one is built by [`guarded_builder`].
//!
//! Two checks, both before any byte is sent:
//! - [`check_target`] on the URL: `https` only (local mode: `http` to a loopback host too), and an
//!   IP-literal host is classified at once (hyper never asks the resolver about literals);
//! - [`GuardedResolver`], the client's only resolver, classifies every address a name resolves
//!   to and hands the connector exactly those it checked, so a name that resolves to a public
//!   address when saved and to `169.254.169.254` at delivery (DNS rebinding) is refused at
//!   delivery. (svix-webhooks `webhook_http_client.rs` does the same.)
//!
//! Policy: a name is refused if *any* of its addresses is refused (a public name has no business
//! resolving into a private range; refusing all is clearer than quietly dialling a subset).
//! Refused is a failed attempt (`errorClass: blocked_address`), retried on the schedule like any
//! other failure and so, if it lasts, disabling the endpoint after the configured time: DNS can be
//! wrong for a while, so one refusal does not disable at once. Local mode allows loopback only,
//! never the private ranges.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

/// What kind of address an IP is, for the guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    Public,
    Loopback,
    /// RFC 1918, IPv6 unique-local, site-local, local-use NAT64.
    Private,
    LinkLocal,
    /// Cloud instance metadata (`169.254.169.254`, `fd00:ec2::254`, …).
    Metadata,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    SharedCgnat,
    Multicast,
    Unspecified,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// Everything else special-purpose: benchmarking, protocol assignments, 240/4, broadcast,
    /// deprecated transition prefixes, IPv6 outside global unicast.
    Reserved,
}

impl AddressClass {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "metadata",
            AddressClass::SharedCgnat => "shared (CGNAT)",
            AddressClass::Multicast => "multicast",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Documentation => "documentation",
            AddressClass::Reserved => "reserved",
        }
    }
}

impl std::fmt::Display for AddressClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    match ip.octets() {
        [169, 254, 169, 254] | [168, 63, 129, 16] => Metadata,
        [0, ..] => Unspecified,
        [127, ..] => Loopback,
        [10, ..] | [192, 168, ..] => Private,
        [172, b, ..] if (16..=31).contains(&b) => Private,
        [169, 254, ..] => LinkLocal,
        [100, b, ..] if (64..=127).contains(&b) => SharedCgnat,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => Documentation,
        [192, 0, 0, _] | [192, 88, 99, _] | [198, 18..=19, ..] => Reserved,
        [224..=239, ..] => Multicast,
        [240..=255, ..] => Reserved,
        _ => Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded_v4 = || Ipv4Addr::from((u32::from(s[6]) << 16) | u32::from(s[7]));
    match s {
        [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254] => Metadata,
        // NAT64 (AWS offers DNS64): the IPv4 address inside decides.
        [0x0064, 0xff9b, 0, 0, 0, 0, _, _] => classify_v4(embedded_v4()),
        [0x0064, 0xff9b, 0x0001, ..] => Private,
        [a, ..] if a & 0xfe00 == 0xfc00 => Private,
        [a, ..] if a & 0xffc0 == 0xfe80 => LinkLocal,
        [a, ..] if a & 0xffc0 == 0xfec0 => Private,
        [a, ..] if a & 0xff00 == 0xff00 => Multicast,
        [0x2001, 0x0db8, ..] => Documentation,
        [0x3fff, b, ..] if b < 0x1000 => Documentation,
        // 2001::/23 (Teredo and IETF assignments), 2002::/16 (6to4): both smuggle IPv4.
        [0x2001, b, ..] if b < 0x0200 => Reserved,
        [0x2002, ..] => Reserved,
        [a, ..] if a & 0xe000 == 0x2000 => Public,
        _ => Reserved,
    }
}

/// Whether keygate may call this address.
pub fn allowed(class: AddressClass, local_mode: bool) -> bool {
    class == AddressClass::Public || (local_mode && class == AddressClass::Loopback)
}

/// A refused address; found in a request error's source chain to classify the attempt.
#[derive(Debug, thiserror::Error)]
#[error("{host} is a {class} address, which callbacks may not reach")]
pub struct Blocked {
    pub host: String,
    pub class: AddressClass,
}

/// Why a URL is not called at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("{0}")]
    InvalidUrl(&'static str),
    #[error("the host is a {0} address, which callbacks may not reach")]
    Blocked(AddressClass),
}

/// Checks a URL before connecting: scheme, credentials, and an IP-literal host.
pub fn check_target(url: &Url, local_mode: bool) -> Result<(), TargetError> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::InvalidUrl("credentials in the URL"));
    }
    let literal = match url.host() {
        None => return Err(TargetError::InvalidUrl("no host")),
        Some(Host::Domain(_)) => None,
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
    };
    let loopback_host = match (url.host(), literal) {
        (Some(Host::Domain(d)), _) => d.eq_ignore_ascii_case("localhost"),
        (_, Some(ip)) => classify(ip) == AddressClass::Loopback,
        _ => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if local_mode && loopback_host => {}
        _ => return Err(TargetError::InvalidUrl("not an https URL")),
    }
    if let Some(ip) = literal {
        let class = classify(ip);
        if !allowed(class, local_mode) {
            return Err(TargetError::Blocked(class));
        }
    }
    Ok(())
}

/// Refuses the whole name if any address is refused.
pub fn check_resolved(host: &str, addrs: &[SocketAddr], local_mode: bool) -> Result<(), Blocked> {
    match addrs
        .iter()
        .map(|a| classify(a.ip()))
        .find(|c| !allowed(*c, local_mode))
    {
        Some(class) => Err(Blocked {
            host: host.to_owned(),
            class,
        }),
        None => Ok(()),
    }
}

/// The delivery client's resolver: the system's (`getaddrinfo`), then [`check_resolved`].
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub local_mode: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let local_mode = self.local_mode;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            check_resolved(&host, &addrs, local_mode)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A resolver for tests: each name pinned to addresses (as `curl --resolve` does), which are
/// then checked exactly as [`GuardedResolver`] checks what DNS answers; a name not pinned does
/// not resolve. With it a test sees a name that resolves to a private address refused, without
/// a DNS server that answers one.
#[derive(Debug, Clone)]
pub struct PinnedResolver {
    pub local_mode: bool,
    pub names: Vec<(String, IpAddr)>,
}

impl Resolve for PinnedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let addrs: Vec<SocketAddr> = self
            .names
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&host))
            .map(|(_, ip)| SocketAddr::new(*ip, 0))
            .collect();
        let checked = if addrs.is_empty() {
            Err(format!("{host} is not pinned").into())
        } else {
            check_resolved(&host, &addrs, self.local_mode)
                .map(|()| Box::new(addrs.into_iter()) as Addrs)
                .map_err(Into::into)
        };
        Box::pin(std::future::ready(checked))
    }
}

/// A client for integrators' URLs, to finish with its timeouts: rustls on aws-lc-rs (the
/// provider the AWS SDK links already) with the Mozilla roots, no redirects (a redirect would
/// be a second URL the guard never saw), no proxy (a proxy would resolve names past the guard),
/// and [`GuardedResolver`] as its only resolver.
pub fn guarded_builder(local_mode: bool) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls_config())
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver { local_mode }))
}

/// rustls on aws-lc-rs with the Mozilla roots.
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("aws-lc-rs supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// The [`Blocked`] somewhere in an error's source chain.
pub fn blocked_in<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a Blocked> {
    let mut cur: Option<&'a (dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(b) = e.downcast_ref::<Blocked>() {
            return Some(b);
        }
        cur = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use AddressClass::*;

    fn c(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        for (ip, class) in [
            ("93.184.216.34", Public),
            ("8.8.8.8", Public),
            ("127.0.0.1", Loopback),
            ("127.255.0.9", Loopback),
            ("10.1.2.3", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.168.1.1", Private),
            ("169.254.169.254", Metadata),
            ("169.254.170.2", LinkLocal),
            ("100.64.0.1", SharedCgnat),
            ("100.100.100.200", SharedCgnat),
            ("100.128.0.1", Public),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("192.0.2.10", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.99", Documentation),
            ("198.18.0.1", Reserved),
            ("192.0.0.170", Reserved),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Reserved),
        ] {
            assert_eq!(c(ip), class, "{ip}");
        }
    }

    #[test]
    fn ipv6_ranges_and_embedded_ipv4() {
        for (ip, class) in [
            ("2606:4700::6810:85e5", Public),
            ("::1", Loopback),
            ("::", Unspecified),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:8.8.8.8", Public),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::a00:1", Private),
            ("64:ff9b::808:808", Public),
            ("64:ff9b:1::1", Private),
            ("fd00:ec2::254", Metadata),
            ("fd00:ec2::23", Private),
            ("fc00::1", Private),
            ("fe80::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001::1", Reserved),
            ("2002:a9fe:a9fe::1", Reserved),
            ("::a9fe:a9fe", Reserved),
            ("::ffff:0:a9fe:a9fe", Reserved),
            ("100::1", Reserved),
            ("4000::1", Reserved),
        ] {
            assert_eq!(c(ip), class, "{ip}");
        }
    }

    #[test]
    fn only_public_addresses_and_loopback_in_local_mode() {
        assert!(allowed(Public, false));
        assert!(!allowed(Loopback, false));
        assert!(allowed(Loopback, true));
        for class in [
            Private,
            LinkLocal,
            Metadata,
            SharedCgnat,
            Multicast,
            Unspecified,
            Documentation,
            Reserved,
        ] {
            assert!(!allowed(class, true) && !allowed(class, false), "{class}");
        }
    }

    #[test]
    fn targets_need_https_and_a_callable_literal() {
        let t = |u: &str, local: bool| check_target(&Url::parse(u).unwrap(), local);
        assert_eq!(t("https://example.com/h", false), Ok(()));
        assert_eq!(t("https://8.8.8.8/h", false), Ok(()));
        assert!(matches!(
            t("http://example.com/h", false),
            Err(TargetError::InvalidUrl(_))
        ));
        assert!(matches!(
            t("http://example.com/h", true),
            Err(TargetError::InvalidUrl(_))
        ));
        assert_eq!(t("http://127.0.0.1:9/h", true), Ok(()));
        assert_eq!(t("http://localhost:9/h", true), Ok(()));
        assert_eq!(t("http://[::1]:9/h", true), Ok(()));
        assert!(matches!(
            t("http://127.0.0.1:9/h", false),
            Err(TargetError::InvalidUrl(_))
        ));
        assert_eq!(
            t("https://127.0.0.1/h", false),
            Err(TargetError::Blocked(Loopback))
        );
        // The URL parser normalises odd IPv4 spellings before we look.
        assert_eq!(
            t("https://0xa9fea9fe/latest", false),
            Err(TargetError::Blocked(Metadata))
        );
        assert_eq!(
            t("https://[fd00:ec2::254]/", true),
            Err(TargetError::Blocked(Metadata))
        );
        assert_eq!(
            t("https://10.0.0.1/", true),
            Err(TargetError::Blocked(Private))
        );
        assert!(matches!(
            t("https://u:p@example.com/", false),
            Err(TargetError::InvalidUrl(_))
        ));
        assert!(matches!(
            t("ftp://example.com/", true),
            Err(TargetError::InvalidUrl(_))
        ));
    }

    #[test]
    fn one_refused_address_refuses_the_name() {
        let a = |s: &str| SocketAddr::new(s.parse().unwrap(), 443);
        assert!(check_resolved("x", &[a("8.8.8.8"), a("2606:4700::1")], false).is_ok());
        let e = check_resolved("x", &[a("8.8.8.8"), a("10.0.0.1")], false).unwrap_err();
        assert_eq!(e.class, Private);
        assert!(check_resolved("x", &[a("127.0.0.1")], true).is_ok());
    }

    #[tokio::test]
    async fn the_resolver_refuses_names_that_resolve_to_loopback() {
        let name: Name = "localhost".parse().unwrap();
        let err = match (GuardedResolver { local_mode: false }).resolve(name).await {
            Ok(_) => panic!("localhost must be refused outside local mode"),
            Err(e) => e,
        };
        let blocked = blocked_in(err.as_ref()).expect("a Blocked error");
        assert_eq!(blocked.class, Loopback);
        let name: Name = "localhost".parse().unwrap();
        let addrs: Vec<SocketAddr> = (GuardedResolver { local_mode: true })
            .resolve(name)
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()) && !addrs.is_empty());
    }
}
