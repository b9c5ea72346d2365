//! An endpoint URL read once, by the `url` crate (the parser reqwest uses): its scheme, host
//! and port however it is spelled. Bottom layer: it knows nothing else of exstack.

use std::net::IpAddr;

use anyhow::{Result, bail};
use url::{Host, Url};

/// An `http`/`https` endpoint: scheme, host (lower-case, no trailing dot) and port.
/// Userinfo, path, query and fragment are read past and dropped.
#[derive(Debug, Clone)]
pub struct Endpoint {
    scheme: String,
    host: Host<String>,
    port: u16,
    /// The port as written, when it is not the scheme's default (`url` drops default ports).
    explicit_port: Option<u16>,
}

impl Endpoint {
    /// Parses `text`; a bare `host:port` means `http`, as everywhere else in exstack.
    pub fn parse(text: &str) -> Result<Endpoint> {
        let text = text.trim();
        // `localhost:4566` would otherwise parse as scheme `localhost`.
        let has_scheme = text.find("://").is_some_and(|i| {
            i > 0
                && text[..i]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let url = if has_scheme {
            Url::parse(text)
        } else {
            Url::parse(&format!("http://{text}"))
        };
        let url = match url {
            Ok(url) => url,
            Err(e) => bail!("`{text}` is not an endpoint URL: {e}"),
        };
        let scheme = url.scheme().to_owned();
        if scheme != "http" && scheme != "https" {
            bail!("`{text}` is not an endpoint URL: the scheme must be http or https");
        }
        let host = match url.host() {
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d.is_empty() {
                    bail!("`{text}` is not an endpoint URL: it names no host");
                }
                Host::Domain(d)
            }
            Some(Host::Ipv4(ip)) => Host::Ipv4(ip),
            Some(Host::Ipv6(ip)) => Host::Ipv6(ip),
            None => bail!("`{text}` is not an endpoint URL: it names no host"),
        };
        let Some(port) = url.port_or_known_default() else {
            bail!("`{text}` is not an endpoint URL: it has no port");
        };
        Ok(Endpoint {
            scheme,
            host,
            port,
            explicit_port: url.port(),
        })
    }

    /// The port connected to: the one written, else the scheme's (80, 443).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `scheme://host:port`, every loopback spelling as `loopback`: equal for one target.
    pub fn canonical(&self) -> String {
        let host = if self.is_loopback() {
            "loopback".to_owned()
        } else {
            self.host.to_string()
        };
        format!("{}://{host}:{}", self.scheme, self.port)
    }

    /// Host, and port when one other than the default is written: `lab-07:4566`.
    pub fn short_name(&self) -> String {
        match self.explicit_port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.to_string(),
        }
    }

    /// Whether the host is one of `domains` or a subdomain of one (an IP address never is).
    pub fn is_within(&self, domains: &[&str]) -> bool {
        let Host::Domain(host) = &self.host else {
            return false;
        };
        domains.iter().any(|d| {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            *host == d || host.strip_suffix(&d).is_some_and(|h| h.ends_with('.'))
        })
    }

    /// This machine, however named: LocalStack also answers at `localhost.localstack.cloud`.
    fn is_loopback(&self) -> bool {
        match &self.host {
            Host::Domain(d) => {
                d == "localhost"
                    || d.ends_with(".localhost")
                    || self.is_within(&["localhost.localstack.cloud"])
            }
            Host::Ipv4(ip) => is_loopback_ip(IpAddr::V4(*ip)),
            Host::Ipv6(ip) => is_loopback_ip(IpAddr::V6(*ip)),
        }
    }
}

/// 127/8, `::1`, and the unspecified addresses (`0.0.0.0`, `::`), which reach this machine.
fn is_loopback_ip(ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    ip.is_loopback() || ip.is_unspecified()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Endpoint::parse(text).unwrap().canonical()
    }

    #[test]
    fn loopback_spellings_are_one_endpoint() {
        for text in [
            "http://localhost:4566",
            "http://127.0.0.1:4566/",
            "http://127.1.2.3:4566",
            "http://[::1]:4566",
            "http://[::ffff:127.0.0.1]:4566",
            "http://0.0.0.0:4566",
            "http://LOCALHOST:4566",
            "http://localhost.:4566",
            "http://lab.localhost:4566",
            "http://localhost.localstack.cloud:4566",
            "http://sqs.us-east-1.localhost.localstack.cloud:4566",
            "localhost:4566",
            "HTTP://localhost:4566/_localstack/health?x=1#y",
            "http://user:pass@localhost:4566",
            "  http://localhost:4566  ",
        ] {
            assert_eq!(canonical(text), "http://loopback:4566", "{text}");
        }
        assert_eq!(canonical("http://localhost:4567"), "http://loopback:4567");
        assert_eq!(canonical("https://localhost:4566"), "https://loopback:4566");
        // Only LocalStack's own name under localstack.cloud is this machine.
        assert_eq!(
            canonical("http://notlocalhost.localstack.cloud:4566"),
            "http://notlocalhost.localstack.cloud:4566"
        );
    }

    #[test]
    fn default_ports_come_from_the_scheme() {
        assert_eq!(canonical("https://example.com"), "https://example.com:443");
        assert_eq!(
            canonical("https://example.com:443/"),
            "https://example.com:443"
        );
        assert_eq!(canonical("http://example.com"), "http://example.com:80");
        assert_eq!(canonical("http://example.com:80"), "http://example.com:80");
        assert_eq!(canonical("example.com"), "http://example.com:80");
        assert_eq!(Endpoint::parse("https://example.com").unwrap().port(), 443);
        assert_eq!(Endpoint::parse("http://h:4566/x").unwrap().port(), 4566);
    }

    #[test]
    fn hosts_are_lower_case_without_a_trailing_dot() {
        assert_eq!(
            canonical("http://Lab-07.Example.:4566/"),
            "http://lab-07.example:4566"
        );
        assert_eq!(canonical("http://[FE80::1]:4566"), "http://[fe80::1]:4566");
    }

    #[test]
    fn short_names_are_host_and_written_port() {
        let short = |t: &str| Endpoint::parse(t).unwrap().short_name();
        assert_eq!(short("http://lab-07:4566"), "lab-07:4566");
        assert_eq!(short("http://127.0.0.1:4601/"), "127.0.0.1:4601");
        assert_eq!(short("http://LAB-07:4566/path?q"), "lab-07:4566");
        assert_eq!(short("http://user:secret@lab-07:4566"), "lab-07:4566");
        assert_eq!(short("http://[::1]:4566"), "[::1]:4566");
        assert_eq!(short("https://lab-07"), "lab-07");
        assert_eq!(short("https://lab-07:443"), "lab-07");
    }

    #[test]
    fn domains_match_whole_labels() {
        let aws = ["amazonaws.com", "api.aws"];
        let within = |t: &str| Endpoint::parse(t).unwrap().is_within(&aws);
        assert!(within("https://sqs.us-east-1.amazonaws.com"));
        assert!(within("https://SQS.US-EAST-1.AMAZONAWS.COM."));
        assert!(within("https://amazonaws.com"));
        assert!(within("https://sts.us-east-1.api.aws:443/x"));
        assert!(within("sqs.us-east-1.amazonaws.com"));
        // Userinfo is not the host: this request goes to AWS.
        assert!(within("https://a:b@sqs.us-east-1.amazonaws.com"));
        assert!(within("https://127.0.0.1@sqs.us-east-1.amazonaws.com"));
        assert!(!within("http://sqs.amazonaws.com@127.0.0.1:5000"));
        assert!(!within("http://notamazonaws.com:5000"));
        assert!(!within("http://amazonaws.com.evil.example"));
        assert!(!within("http://127.0.0.1:5000"));
        assert!(!within("http://[::1]:5000"));
    }

    #[test]
    fn garbage_is_an_error() {
        for text in [
            "",
            "   ",
            "http://",
            "http://:4566",
            "http://.",
            "http://localhost:99999",
            "http://local host:4566",
            "ftp://localhost:21",
            "file:///tmp/x",
            "http://[::1:4566",
        ] {
            assert!(Endpoint::parse(text).is_err(), "{text:?}");
        }
    }
}
