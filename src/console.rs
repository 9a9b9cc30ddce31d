//! The Console client: asks the token factory for an `aws-id` Canarytoken.
//!
//! It owns the HTTP exchange (form-encoded POST, no redirects followed, a capped answer
//! body), checking the answer, and retrying what can heal within the run's deadline. Its
//! errors are typed so callers know whether a failure is worth retrying; none of them ever
//! carries the factory auth string or a secret key.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tracing::{debug, info, warn};
use zeroize::Zeroizing;

use crate::config::Console;
use crate::secret::Secret;

/// The path `factory-api.md` documents.
pub const LEGACY_PATH: &str = "/api/v1/canarytoken/factory";
/// The path today's Consoles document; tried once when the legacy one answers 404.
pub const CURRENT_PATH: &str = "/api/v1/canarytoken/factory/create";

/// Answers larger than this are refused; a real token answer is about 1 KiB.
const MAX_BODY: usize = 256 * 1024;
/// The longest a single request may take, unless the deadline is nearer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Backoff between attempts: full jitter over an exponential window with this base and cap.
const BACKOFF_BASE: Duration = Duration::from_secs(1);
const BACKOFF_CAP: Duration = Duration::from_secs(60);
const MAX_ATTEMPTS: u32 = 12;

/// What to ask the factory for.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    pub memo: &'a str,
    pub flock_id: Option<&'a str>,
    pub aws_id_username: Option<&'a str>,
}

/// A token the Console issued.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The Canarytoken's id (`canarytoken` in the answer).
    pub token_id: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
}

/// Why a request to the Console failed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("could not reach the Console at '{url}': {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the Console answered HTTP {status} at '{url}'{}", detail(.message))]
    Status {
        url: String,
        status: u16,
        message: Option<String>,
        retry_after: Option<Duration>,
    },
    #[error("the Console refused the request at '{url}': {message}")]
    Refused { url: String, message: String },
    #[error("the Console's answer at '{url}' is not usable: {reason}")]
    Malformed { url: String, reason: String },
    #[error(
        "the Console at '{url}' redirected to '{location}'; \
         redirects are not followed, set 'console' to the final address"
    )]
    Redirected { url: String, location: String },
    #[error("gave up after {attempts} attempts as the deadline passed; last error: {last}")]
    Deadline {
        attempts: u32,
        last: Box<ConsoleError>,
    },
}

fn detail(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(": {m}"))
        .unwrap_or_default()
}

impl ConsoleError {
    /// Whether a later attempt might succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            ConsoleError::Unreachable { .. } | ConsoleError::Deadline { .. } => true,
            ConsoleError::Status { status, .. } => *status >= 500 || matches!(status, 408 | 429),
            _ => false,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            ConsoleError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// A client for one Console.
pub struct Client {
    http: reqwest::Client,
    console: Console,
}

impl Client {
    /// Builds the HTTP client: rustls, no redirects, timeouts, proxies from the environment.
    pub fn new(console: Console, tls: rustls::ClientConfig) -> anyhow::Result<Client> {
        let http = http_client(tls)?;
        Ok(Client { http, console })
    }

    /// Asks for a token, retrying transient failures with backoff until `deadline`.
    pub async fn issue_token(
        &self,
        auth: &Secret,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        let mut attempt = 1;
        loop {
            let error = match self.issue_once(auth, request, deadline).await {
                Ok(token) => return Ok(token),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => e,
            };
            let delay = next_delay(attempt, error.retry_after());
            if attempt >= MAX_ATTEMPTS || Instant::now() + delay >= deadline {
                let last = Box::new(error);
                return Err(ConsoleError::Deadline {
                    attempts: attempt,
                    last,
                });
            }
            warn!(attempt, cause = %error, next_delay_ms = delay.as_millis() as u64, "retrying");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    /// One attempt: the legacy path, then the current one if the legacy path is gone.
    async fn issue_once(
        &self,
        auth: &Secret,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        match self
            .post_factory(LEGACY_PATH, auth, request, deadline)
            .await
        {
            Err(ConsoleError::Status { status: 404, .. }) => {
                info!(
                    path = CURRENT_PATH,
                    "legacy factory path answered 404, trying current"
                );
                self.post_factory(CURRENT_PATH, auth, request, deadline)
                    .await
            }
            other => other,
        }
    }

    async fn post_factory(
        &self,
        path: &str,
        auth: &Secret,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        let url = self.console.url(path);
        let body = form_body(auth, request);
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .min(REQUEST_TIMEOUT);
        debug!(url = %url, "requesting a token");
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let answer = read_answer(&url, response).await?;
        parse_token(&url, &answer, auth)
    }
}

/// The HTTP client every Console request uses: rustls, no redirects, a connect timeout,
/// proxies from the environment.
pub(crate) fn http_client(tls: rustls::ClientConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("canary-bootstrap/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The form body; held zeroizing because it carries the factory auth string.
fn form_body(auth: &Secret, request: &TokenRequest<'_>) -> Zeroizing<String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("factory_auth", auth.expose());
    form.append_pair("memo", request.memo);
    form.append_pair("kind", "aws-id");
    if let Some(flock) = request.flock_id {
        form.append_pair("flock_id", flock);
    }
    if let Some(name) = request.aws_id_username {
        form.append_pair("aws_id_username", name);
    }
    Zeroizing::new(form.finish())
}

/// An HTTP answer: status, capped body, and headers we act on.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Zeroizing<Vec<u8>>,
    pub(crate) retry_after: Option<Duration>,
}

pub(crate) async fn read_answer(
    url: &str,
    mut response: reqwest::Response,
) -> Result<Answer, ConsoleError> {
    let status = response.status();
    debug!(status = status.as_u16(), "the Console answered");
    if status.is_redirection() {
        let location = header_text(&response, "location").unwrap_or_default();
        let url = url.to_owned();
        return Err(ConsoleError::Redirected { url, location });
    }
    let retry_after = header_text(&response, "retry-after").and_then(|v| parse_retry_after(&v));
    let mut body = Zeroizing::new(Vec::new());
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unreachable_error(url, &e))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            let reason = format!("the answer is larger than {} KiB", MAX_BODY / 1024);
            return Err(ConsoleError::Malformed {
                url: url.to_owned(),
                reason,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer {
        status: status.as_u16(),
        body,
        retry_after,
    })
}

fn header_text(response: &reqwest::Response, name: &str) -> Option<String> {
    let value = response.headers().get(name)?.to_str().ok()?;
    Some(clean_text(value))
}

/// `Retry-After` in seconds; the HTTP-date form is rare from APIs and treated as absent.
fn parse_retry_after(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The fields of an answer we read; everything else is ignored.
#[derive(Deserialize)]
struct Envelope {
    result: Option<String>,
    message: Option<String>,
    canarytoken: Option<TokenFields>,
}

#[derive(Deserialize)]
struct TokenFields {
    canarytoken: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<Secret>,
}

/// Accepts only a 2xx answer with `result: success` and a well-formed key pair.
fn parse_token(url: &str, answer: &Answer, auth: &Secret) -> Result<IssuedToken, ConsoleError> {
    let envelope: Option<Envelope> = serde_json::from_slice(&answer.body).ok();
    let message = envelope
        .as_ref()
        .and_then(|e| e.message.as_deref())
        .map(|m| redact(&clean_text(m), auth));
    if !(200..300).contains(&answer.status) {
        return Err(ConsoleError::Status {
            url: url.to_owned(),
            status: answer.status,
            message,
            retry_after: answer.retry_after,
        });
    }
    let malformed = |reason: &str| ConsoleError::Malformed {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let envelope = envelope.ok_or_else(|| malformed("the answer is not JSON"))?;
    if envelope.result.as_deref() != Some("success") {
        let message = message.unwrap_or_else(|| "no message given".to_owned());
        return Err(ConsoleError::Refused {
            url: url.to_owned(),
            message,
        });
    }
    let fields = envelope
        .canarytoken
        .ok_or_else(|| malformed("no 'canarytoken' object"))?;
    check_token(fields).map_err(malformed)
}

fn check_token(fields: TokenFields) -> Result<IssuedToken, &'static str> {
    let token_id = fields.canarytoken.ok_or("no token id ('canarytoken')")?;
    let access_key_id = fields.access_key_id.ok_or("no 'access_key_id'")?;
    let secret = fields.secret_access_key.ok_or("no 'secret_access_key'")?;
    if !valid_token_id(&token_id) {
        return Err("the token id is not a plain identifier");
    }
    if !valid_access_key_id(&access_key_id) {
        return Err("'access_key_id' is not 16 to 128 upper-case letters and digits");
    }
    if !valid_secret_key(secret.expose()) {
        return Err("'secret_access_key' is not 16 to 128 printable characters without spaces");
    }
    Ok(IssuedToken {
        token_id,
        access_key_id,
        secret_access_key: secret,
    })
}

fn valid_token_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// AWS access key ids are upper-case letters and digits (`AKIA...`, 20 in practice).
pub fn valid_access_key_id(id: &str) -> bool {
    (16..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Secrets are base64-like; anything printable without spaces is accepted, nothing that
/// could break a line or start a comment.
fn valid_secret_key(secret: &str) -> bool {
    (16..=128).contains(&secret.len())
        && secret.bytes().all(|b| b.is_ascii_graphic())
        && !secret.starts_with(['#', ';', '['])
}

/// Text from the Console made safe for one log line: no control characters, bounded.
pub(crate) fn clean_text(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cleaned.chars().take(200).collect()
}

/// A Console that echoes the factory auth string back must not get it into a log.
pub(crate) fn redact(text: &str, auth: &Secret) -> String {
    text.replace(auth.expose(), "<redacted>")
}

pub(crate) fn unreachable_error(url: &str, err: &reqwest::Error) -> ConsoleError {
    ConsoleError::Unreachable {
        url: url.to_owned(),
        reason: error_chain(err),
    }
}

/// reqwest's own message is terse; its sources say what actually failed.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Full-jitter exponential backoff; a `Retry-After` from the Console is a floor, with
/// jitter on top so a fleet told the same value does not come back in one wave.
pub fn next_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    let window = BACKOFF_BASE
        .saturating_mul(1 << attempt.min(16))
        .min(BACKOFF_CAP);
    let jitter = window.mul_f64(random_fraction());
    match retry_after {
        Some(floor) => floor.min(BACKOFF_CAP * 5) + jitter / 2,
        None => jitter,
    }
}

/// A random number in [0, 1), from the standard library's per-process random keys.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            body: Zeroizing::new(body.as_bytes().to_vec()),
            retry_after: None,
        }
    }

    fn auth() -> Secret {
        Secret::new("f4ct0ry".into())
    }

    const GOOD: &str = r#"{"result":"success","canarytoken":{"canarytoken":"abc123",
        "access_key_id":"AKIAIOSFODNN7EXAMPLE",
        "secret_access_key":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}"#;

    #[test]
    fn accepts_a_well_formed_token() {
        let token = parse_token("u", &answer(200, GOOD), &auth()).unwrap();
        assert_eq!(token.token_id, "abc123");
        assert_eq!(token.access_key_id, "AKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn refuses_a_secret_with_a_newline() {
        let body = GOOD.replace("EXAMPLEKEY", "EXAMPLEKEY\\n[default]");
        let err = parse_token("u", &answer(200, &body), &auth()).unwrap_err();
        assert!(matches!(err, ConsoleError::Malformed { .. }), "{err}");
        assert!(!err.to_string().contains("wJalr"));
    }

    #[test]
    fn result_error_with_200_is_a_refusal_with_the_message() {
        let body = r#"{"result":"error","message":"Invalid factory_auth"}"#;
        let err = parse_token("u", &answer(200, body), &auth()).unwrap_err();
        assert!(!err.is_transient());
        assert!(err.to_string().contains("Invalid factory_auth"), "{err}");
    }

    #[test]
    fn status_decides_what_is_transient() {
        for (status, transient) in [
            (500, true),
            (503, true),
            (429, true),
            (400, false),
            (403, false),
        ] {
            let err = parse_token("u", &answer(status, "{}"), &auth()).unwrap_err();
            assert_eq!(err.is_transient(), transient, "status {status}");
        }
    }

    #[test]
    fn echoed_factory_auth_is_redacted() {
        let body = r#"{"result":"error","message":"bad auth f4ct0ry"}"#;
        let err = parse_token("u", &answer(403, body), &auth()).unwrap_err();
        assert!(!err.to_string().contains("f4ct0ry"), "{err}");
    }

    #[test]
    fn backoff_stays_within_the_window_and_honours_retry_after() {
        for attempt in 1..20 {
            assert!(next_delay(attempt, None) <= BACKOFF_CAP);
        }
        let floor = Duration::from_secs(7);
        assert!(next_delay(1, Some(floor)) >= floor);
    }

    #[test]
    fn form_body_is_url_encoded() {
        let request = TokenRequest {
            memo: "web 1&x",
            flock_id: None,
            aws_id_username: None,
        };
        let body = form_body(&auth(), &request);
        assert_eq!(
            body.as_str(),
            "factory_auth=f4ct0ry&memo=web+1%26x&kind=aws-id"
        );
    }
}
