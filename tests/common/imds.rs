//! A mock EC2 instance metadata service (IMDSv2) on 127.0.0.1, for the tests.
//!
//! It hands out a session token on `PUT /latest/api/token` (only with the TTL header),
//! answers the metadata paths only when that token comes back in the token header, and
//! records every request so tests can count them. It can be told to answer 503 for a while.
//! One thread, one connection at a time, `Connection: close`; stopped when dropped.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The session token the mock hands out.
pub const TOKEN: &str = "mock-imds-session-token-5f2a";

/// One request the mock saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    /// The TTL header on a token request, if sent.
    pub ttl: Option<String>,
    /// Whether the request carried the session token.
    pub token_ok: bool,
}

/// What the mock knows, and what it saw.
struct Shared {
    facts: Vec<(String, String)>,
    seen: Mutex<Vec<Seen>>,
    fail: AtomicUsize,
    stop: AtomicBool,
}

/// A running mock; stopped when dropped.
pub struct MockImds {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockImds {
    /// Starts a mock for the instance `instance_id` in eu-west-1b.
    pub fn start(instance_id: &str) -> MockImds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let facts = [
            ("instance-id", instance_id),
            ("ami-id", "ami-0mock0123456789"),
            ("placement/region", "eu-west-1"),
            ("placement/availability-zone", "eu-west-1b"),
        ];
        let shared = Arc::new(Shared {
            facts: facts
                .iter()
                .map(|(k, v)| (format!("/latest/meta-data/{k}"), v.to_string()))
                .collect(),
            seen: Mutex::new(Vec::new()),
            fail: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        let addr = listener.local_addr().unwrap();
        let serving = shared.clone();
        let thread = std::thread::spawn(move || serve(&listener, &serving));
        MockImds {
            addr,
            shared,
            thread: Some(thread),
        }
    }

    /// The base URL, by address.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Answers the next `n` requests with 503.
    pub fn fail_next(&self, n: usize) {
        self.shared.fail.store(n, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}

impl Drop for MockImds {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: &TcpListener, shared: &Shared) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Ok(stream) = stream {
            let _ = handle(stream, shared);
        }
    }
}

fn handle(mut stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let (mut ttl, mut token) = (None, None);
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or((&header, ""));
        match name.trim().to_ascii_lowercase().as_str() {
            "x-aws-ec2-metadata-token-ttl-seconds" => ttl = Some(value.trim().to_owned()),
            "x-aws-ec2-metadata-token" => token = Some(value.trim().to_owned()),
            _ => {}
        }
    }
    let seen = Seen {
        method,
        path,
        ttl,
        token_ok: token.as_deref() == Some(TOKEN),
    };
    let (status, body) = answer(shared, &seen);
    shared.seen.lock().unwrap().push(seen);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(reply.as_bytes())
}

fn answer(shared: &Shared, seen: &Seen) -> (&'static str, String) {
    let failing = shared
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return ("503 Service Unavailable", String::new());
    }
    match (seen.method.as_str(), seen.path.as_str()) {
        ("PUT", "/latest/api/token") if seen.ttl.is_some() => ("200 OK", TOKEN.to_owned()),
        ("PUT", "/latest/api/token") => ("400 Bad Request", String::new()),
        ("GET", _) if !seen.token_ok => ("401 Unauthorized", String::new()),
        ("GET", path) => match shared.facts.iter().find(|(p, _)| p == path) {
            Some((_, value)) => ("200 OK", value.clone()),
            None => ("404 Not Found", String::new()),
        },
        _ => ("405 Method Not Allowed", String::new()),
    }
}
