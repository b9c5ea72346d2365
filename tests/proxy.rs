//! A small fault-injecting HTTP/1.1 proxy between exstack and LocalStack (issue 7, points 3
//! and 4). std::net and one thread per connection: the crate's tokio has no `net` feature.
//!
//! Framing is kept trivial: one request per client connection (every answer carries
//! `Connection: close` and the connection is closed after it), and one fresh upstream
//! connection per request, sent with `Connection: close` and read to EOF.
//!
//! Faults are injected *before* the request reaches LocalStack, so a retried call never
//! creates anything twice: a reset connection, an HTTP 500/503, or a throttling answer in the
//! request's own protocol (query → XML `Throttling`, JSON → `ThrottlingException`, S3 → 503
//! `SlowDown`). A delay is the only fault that forwards (late). Which request gets which fault
//! is drawn from a seeded xorshift, in arrival order; `rule`s target named requests.
//! `/_localstack/health` (and `/_ministack/health`) is never faulted unless `fault_health` is set.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::util::Rng;

/// What the proxy does to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close the connection without answering (a TCP reset on Linux).
    Reset,
    /// Wait this long, then forward.
    Delay(Duration),
    /// Answer 500 (InternalFailure / InternalError) without forwarding.
    Status500,
    /// Answer 503 (ServiceUnavailable) without forwarding.
    Status503,
    /// Answer 429 with the protocol's throttling error (S3: 503 SlowDown).
    Throttle,
    /// Answer `status` with the error `code` and `message` in the request's protocol.
    Error {
        status: u16,
        code: &'static str,
        message: &'static str,
    },
    /// Answer this HTTP status with an empty body (a load balancer's bare 502/503, say).
    Bare(u16),
    /// LocalStack dies: this request is dropped and the proxy stops accepting connections.
    Die,
}

impl Fault {
    fn kind(&self) -> &'static str {
        match self {
            Fault::Reset => "reset",
            Fault::Delay(_) => "delay",
            Fault::Status500 => "500",
            Fault::Status503 => "503",
            Fault::Throttle => "throttle",
            Fault::Error { .. } => "error",
            Fault::Bare(_) => "bare",
            Fault::Die => "die",
        }
    }
}

/// Probabilities per request (each in 0..=1, summed at most 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct Rates {
    pub reset: f64,
    pub delay: f64,
    pub status500: f64,
    pub status503: f64,
    pub throttle: f64,
}

impl Rates {
    pub const NONE: Rates = Rates {
        reset: 0.0,
        delay: 0.0,
        status500: 0.0,
        status503: 0.0,
        throttle: 0.0,
    };

    /// `failing` split evenly over reset, 500, 503 and 429; `delay` on top.
    pub fn mixed(failing: f64, delay: f64) -> Rates {
        let each = failing / 4.0;
        Rates {
            reset: each,
            delay,
            status500: each,
            status503: each,
            throttle: each,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    pub rates: Rates,
    /// Delays are drawn from 10 ms up to this.
    pub max_delay: Duration,
    /// Transient means transient: a random fault hits the same call (the SDK's
    /// `amz-sdk-invocation-id`, else the same operation and body) at most this many times in a
    /// row. `None`: no limit.
    pub max_consecutive: Option<u32>,
    /// Also fault `/_localstack/health` (never, by default).
    pub fault_health: bool,
    /// Die (stop accepting) when this many non-health requests have been answered.
    pub die_after: Option<u64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            seed: 1,
            rates: Rates::NONE,
            max_delay: Duration::from_millis(500),
            max_consecutive: None,
            fault_health: false,
            die_after: None,
        }
    }
}

/// Injects `fault` into requests whose `service:Operation\nbody` contains every one of
/// `needles`, the first `times` of them.
#[derive(Debug, Clone)]
struct Rule {
    needles: Vec<String>,
    fault: Fault,
    times: u64,
}

/// One request as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `service:Operation` (X-Amz-Target or Action=), else `service:METHOD /path?query`.
    pub label: String,
    pub text: String,
    pub fault: Option<&'static str>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests other than the health check.
    pub requests: u64,
    pub health: u64,
    /// Injected faults by kind (`reset`, `delay`, `500`, `503`, `throttle`, `error`, `die`).
    pub faults: BTreeMap<&'static str, u64>,
    /// Connections dropped because the proxy was dead.
    pub dropped_dead: u64,
}

impl Stats {
    /// Faults that make the attempt fail (everything but delays).
    pub fn failing(&self) -> u64 {
        self.faults
            .iter()
            .filter(|(k, _)| **k != "delay")
            .map(|(_, n)| n)
            .sum()
    }
}

struct Shared {
    upstream: SocketAddr,
    config: Mutex<Config>,
    rules: Mutex<Vec<Rule>>,
    rng: Mutex<Rng>,
    streaks: Mutex<HashMap<u64, u32>>,
    seen: Mutex<Vec<Seen>>,
    stats: Mutex<Stats>,
    dead: AtomicBool,
    stop: AtomicBool,
}

pub struct Proxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Starts on 127.0.0.1:<free port>, forwarding to `upstream` (`http://host:port`).
    pub fn start(upstream: &str, config: Config) -> Proxy {
        let host = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .replace("localhost", "127.0.0.1");
        let upstream: SocketAddr = host.parse().expect("upstream is http://<ip>:<port>");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(Rng::new(config.seed)),
            config: Mutex::new(config),
            rules: Mutex::new(Vec::new()),
            streaks: Mutex::new(HashMap::new()),
            seen: Mutex::new(Vec::new()),
            stats: Mutex::new(Stats::default()),
            dead: AtomicBool::new(false),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let accept = thread::spawn(move || accept_loop(Some(listener), addr, s));
        Proxy {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Injects `fault` into the first `times` requests whose `service:Operation\nbody`
    /// contains all of `needles` (`u64::MAX` times: every one). Rules win over random faults.
    pub fn rule(&self, needles: &[&str], fault: Fault, times: u64) {
        self.shared.rules.lock().unwrap().push(Rule {
            needles: needles.iter().map(|n| (*n).to_owned()).collect(),
            fault,
            times,
        });
    }

    /// Dead: the listening socket is closed (connection refused) and requests in flight are
    /// dropped unanswered. Alive again: the same port is bound again.
    pub fn set_dead(&self, dead: bool) {
        if !dead {
            self.shared.config.lock().unwrap().die_after = None;
        }
        self.shared.dead.store(dead, Ordering::SeqCst);
        if !dead {
            // Wait until the port answers again.
            for _ in 0..500 {
                if TcpStream::connect(self.addr).is_ok() {
                    return;
                }
                thread::sleep(Duration::from_millis(2));
            }
            panic!("proxy did not come back on {}", self.addr);
        }
    }

    pub fn is_dead(&self) -> bool {
        self.shared.dead.load(Ordering::SeqCst)
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats.lock().unwrap().clone()
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }

    /// How many requests (health checks excluded) contained all of `needles`.
    pub fn count(&self, needles: &[&str]) -> usize {
        self.seen()
            .iter()
            .filter(|s| needles.iter().all(|n| s.text.contains(n)))
            .count()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(mut listener: Option<TcpListener>, addr: SocketAddr, shared: Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.dead.load(Ordering::SeqCst) {
            // Closing the socket resets whatever waits in its backlog; new connects are refused.
            listener = None;
            thread::sleep(Duration::from_millis(2));
            continue;
        }
        let Some(l) = &listener else {
            // std sets SO_REUSEADDR, so the port is ours again at once.
            listener = TcpListener::bind(addr).ok();
            if let Some(l) = &listener {
                l.set_nonblocking(true).unwrap();
            } else {
                thread::sleep(Duration::from_millis(2));
            }
            continue;
        };
        l.set_nonblocking(true).unwrap();
        match l.accept() {
            Ok((stream, _)) => {
                let s = shared.clone();
                thread::spawn(move || {
                    let _ = stream.set_nonblocking(false);
                    let _ = handle(stream, &s);
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(1)),
            Err(_) => thread::sleep(Duration::from_millis(1)),
        }
    }
}

struct Request {
    method: String,
    path: String,
    /// The request line and headers as received, without the blank line.
    head_lines: Vec<String>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// From SigV4's credential scope: `Credential=<key>/<date>/<region>/<service>/aws4_request`.
    fn service(&self) -> String {
        self.header("authorization")
            .and_then(|a| a.split("Credential=").nth(1))
            .and_then(|c| c.split('/').nth(3))
            .unwrap_or("-")
            .to_owned()
    }

    fn is_query_protocol(&self) -> bool {
        self.header("content-type")
            .is_some_and(|c| c.contains("x-www-form-urlencoded"))
    }

    fn label(&self) -> String {
        let service = self.service();
        if let Some(target) = self.header("x-amz-target") {
            let op = target.rsplit('.').next().unwrap_or(target);
            return format!("{service}:{op}");
        }
        if self.is_query_protocol() {
            let body = String::from_utf8_lossy(&self.body);
            if let Some(action) = body.split('&').find_map(|kv| kv.strip_prefix("Action=")) {
                return format!("{service}:{action}");
            }
        }
        format!("{service}:{} {}", self.method, self.path)
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut head_lines = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        if line.is_empty() {
            if head_lines.is_empty() {
                continue;
            }
            break;
        }
        head_lines.push(line);
    }
    let mut parts = head_lines[0].split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = head_lines[1..]
        .iter()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut req = Request {
        method,
        path,
        head_lines,
        headers,
        body: Vec::new(),
    };
    if req
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"))
    {
        // Kept as received (framing included) and forwarded as is.
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            req.body.extend_from_slice(line.as_bytes());
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                loop {
                    let mut trailer = String::new();
                    reader.read_line(&mut trailer)?;
                    req.body.extend_from_slice(trailer.as_bytes());
                    if trailer.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size + 2];
            reader.read_exact(&mut chunk)?;
            req.body.extend_from_slice(&chunk);
        }
    } else if let Some(n) = req.header("content-length") {
        let n: usize = n.parse().unwrap_or(0);
        req.body = vec![0; n];
        reader.read_exact(&mut req.body)?;
    }
    Ok(Some(req))
}

fn handle(client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let mut reader = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut reader)? else {
        return Ok(());
    };
    // Both emulators' health checks: exstack asks them at once to tell the two apart.
    let is_health = ["/_localstack/health", "/_ministack/health"]
        .iter()
        .any(|p| req.path.starts_with(p));
    let fault = if is_health && !shared.config.lock().unwrap().fault_health {
        shared.stats.lock().unwrap().health += 1;
        None
    } else {
        choose(&req, is_health, shared)
    };
    if fault == Some(Fault::Die) {
        shared.dead.store(true, Ordering::SeqCst);
    }
    if shared.dead.load(Ordering::SeqCst) {
        shared.stats.lock().unwrap().dropped_dead += 1;
        reset(client);
        return Ok(());
    }
    match fault {
        Some(Fault::Reset) => {
            reset(client);
            return Ok(());
        }
        Some(Fault::Delay(d)) => thread::sleep(d),
        Some(Fault::Bare(status)) => {
            let mut client = client;
            let head = format!(
                "HTTP/1.1 {status} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                reason(status)
            );
            client.write_all(head.as_bytes())?;
            let _ = client.shutdown(Shutdown::Both);
            return Ok(());
        }
        Some(f @ (Fault::Status500 | Fault::Status503 | Fault::Throttle | Fault::Error { .. })) => {
            return answer_error(client, &req, &f);
        }
        _ => {}
    }
    let response = match forward(&req, shared.upstream) {
        Ok(r) => r,
        Err(_) => {
            reset(client);
            return Ok(());
        }
    };
    // LocalStack died while this request was in flight: its answer is lost.
    if shared.dead.load(Ordering::SeqCst) {
        shared.stats.lock().unwrap().dropped_dead += 1;
        reset(client);
        return Ok(());
    }
    let mut client = client;
    client.write_all(&response)?;
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

/// Picks this request's fault (rules first, then the seeded draw) and records it.
fn choose(req: &Request, is_health: bool, shared: &Shared) -> Option<Fault> {
    let label = req.label();
    let text = format!("{label}\n{}", String::from_utf8_lossy(&req.body));
    let mut fault = None;
    {
        let mut rules = shared.rules.lock().unwrap();
        if let Some(rule) = rules
            .iter_mut()
            .find(|r| r.times > 0 && r.needles.iter().all(|n| text.contains(n.as_str())))
        {
            rule.times -= 1;
            fault = Some(rule.fault.clone());
        }
    }
    let config = shared.config.lock().unwrap().clone();
    let mut stats = shared.stats.lock().unwrap();
    if !is_health {
        stats.requests += 1;
        if config.die_after.is_some_and(|n| stats.requests > n) {
            fault = Some(Fault::Die);
        }
    }
    if fault.is_none() {
        let (draw, extra) = {
            let mut rng = shared.rng.lock().unwrap();
            (rng.unit(), rng.unit())
        };
        let r = config.rates;
        let mut edge = 0.0;
        let mut pick = |rate: f64| {
            let hit = draw >= edge && draw < edge + rate;
            edge += rate;
            hit
        };
        fault = if pick(r.reset) {
            Some(Fault::Reset)
        } else if pick(r.status500) {
            Some(Fault::Status500)
        } else if pick(r.status503) {
            Some(Fault::Status503)
        } else if pick(r.throttle) {
            Some(Fault::Throttle)
        } else if pick(r.delay) {
            let max = config.max_delay.as_millis().max(10) as f64;
            Some(Fault::Delay(Duration::from_millis(
                (10.0 + extra * (max - 10.0)) as u64,
            )))
        } else {
            None
        };
        // A random failing fault hits the same request at most `max_consecutive` times in a row.
        if let Some(cap) = config.max_consecutive {
            // The SDK names each call (same id on every retry of it); two identical calls in
            // flight at once must not share a streak.
            let mut h = DefaultHasher::new();
            match req.header("amz-sdk-invocation-id") {
                Some(id) => id.hash(&mut h),
                None => text.hash(&mut h),
            }
            let key = h.finish();
            let mut streaks = shared.streaks.lock().unwrap();
            let streak = streaks.entry(key).or_default();
            let failing = fault
                .as_ref()
                .is_some_and(|f| !matches!(f, Fault::Delay(_)));
            if failing && *streak >= cap {
                fault = None;
            }
            let failing = fault
                .as_ref()
                .is_some_and(|f| !matches!(f, Fault::Delay(_)));
            *streak = if failing { *streak + 1 } else { 0 };
        }
    }
    if let Some(f) = &fault {
        *stats.faults.entry(f.kind()).or_default() += 1;
    }
    if !is_health {
        shared.seen.lock().unwrap().push(Seen {
            label,
            text,
            fault: fault.as_ref().map(Fault::kind),
        });
    }
    fault
}

/// One fresh upstream connection, `Connection: close`, read to EOF; the answer's own
/// connection headers are replaced by `Connection: close`.
fn forward(req: &Request, upstream: SocketAddr) -> std::io::Result<Vec<u8>> {
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    up.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut head = String::new();
    head.push_str(&req.head_lines[0]);
    head.push_str("\r\n");
    for line in &req.head_lines[1..] {
        let name = line.split(':').next().unwrap_or_default().trim();
        if ["connection", "keep-alive", "proxy-connection", "expect"]
            .iter()
            .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        head.push_str(line);
        head.push_str("\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    up.flush()?;
    let mut raw = Vec::new();
    up.read_to_end(&mut raw)?;
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Err(std::io::Error::other("no response head from upstream"));
    };
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut out = Vec::with_capacity(raw.len() + 32);
    for line in head.split("\r\n") {
        let name = line.split(':').next().unwrap_or_default().trim();
        if name.eq_ignore_ascii_case("connection") || name.eq_ignore_ascii_case("keep-alive") {
            continue;
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&raw[end + 4..]);
    Ok(out)
}

/// An AWS error answer in the request's protocol, as the SDK expects to parse it.
fn answer_error(mut client: TcpStream, req: &Request, fault: &Fault) -> std::io::Result<()> {
    let s3 = req.service() == "s3";
    let query = req.is_query_protocol();
    let (status, code, message) = match fault {
        Fault::Status500 if s3 || query => (500, "InternalError", "injected 500"),
        Fault::Status500 => (500, "InternalFailure", "injected 500"),
        Fault::Status503 => (503, "ServiceUnavailable", "injected 503"),
        Fault::Throttle if s3 => (503, "SlowDown", "injected: please reduce your request rate"),
        Fault::Throttle if query => (429, "Throttling", "injected: rate exceeded"),
        Fault::Throttle => (429, "ThrottlingException", "injected: rate exceeded"),
        Fault::Error {
            status,
            code,
            message,
        } => (*status, *code, *message),
        _ => unreachable!("not an answered fault: {fault:?}"),
    };
    let request_id = "00000000-0000-0000-0000-00000fa017ed";
    let mut extra = String::new();
    let (content_type, body) = if s3 {
        (
            "application/xml".to_owned(),
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
            ),
        )
    } else if query {
        let kind = if status < 500 { "Sender" } else { "Receiver" };
        (
            "text/xml".to_owned(),
            format!(
                "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
            ),
        )
    } else {
        extra.push_str(&format!("x-amzn-ErrorType: {code}\r\n"));
        let ct = req
            .header("content-type")
            .filter(|c| c.starts_with("application/x-amz-json"))
            .unwrap_or("application/json")
            .to_owned();
        let body = serde_json::json!({ "__type": code, "message": message }).to_string();
        (ct, body)
    };
    let body = if req.method == "HEAD" { "" } else { &body };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nx-amzn-RequestId: {request_id}\r\n{extra}Connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    client.write_all(head.as_bytes())?;
    client.write_all(body.as_bytes())?;
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// Closes with a TCP reset where we can (SO_LINGER 0), a plain close elsewhere.
fn reset(stream: TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        unsafe extern "C" {
            fn setsockopt(
                fd: i32,
                level: i32,
                name: i32,
                value: *const std::ffi::c_void,
                len: u32,
            ) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid open socket and a correctly sized `struct linger`.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                (&raw const linger).cast(),
                size_of::<Linger>() as u32,
            );
        }
    }
    drop(stream);
}

#[test]
fn xorshift_is_seeded_and_uniform_enough() {
    let mut a = Rng::new(7);
    let mut b = Rng::new(7);
    let xs: Vec<f64> = (0..10_000).map(|_| a.unit()).collect();
    assert!(xs.iter().zip((0..).map(|_| b.unit())).all(|(x, y)| *x == y));
    let low = xs.iter().filter(|x| **x < 0.2).count();
    assert!((1_700..2_300).contains(&low), "{low}");
    assert_ne!(Rng::new(8).unit(), xs[0]);
}
