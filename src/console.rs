//! The Console client: asks the Console for an `aws-id` Canarytoken.
//!
//! It owns the HTTP exchange (form-encoded POST, no redirects followed, a capped answer
//! body), checking the answer, and deciding which failures are worth another attempt; how
//! long to wait between attempts is `retry`'s business. Two kinds of secret are spoken: a
//! factory auth string (sent as the `factory_auth` form field to the factory paths) and a
//! Canarytoken Deploy key (sent in the `X-Canary-Auth-Token` header to `/canarytoken/create`).
//! Its errors are typed so callers know whether a failure is worth retrying; none of them
//! ever carries a secret.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};
use zeroize::Zeroizing;

mod answer;

pub(crate) use answer::{Answer, check_verdict, clean_text, read_answer, redact, redact_location};

use crate::config::Console;
use crate::retry::{self, Next};
use crate::secret::Secret;

/// The path `factory-api.md` documents.
pub const LEGACY_PATH: &str = "/api/v1/canarytoken/factory";
/// The path today's Consoles document; tried once when the legacy one answers 404.
pub const CURRENT_PATH: &str = "/api/v1/canarytoken/factory/create";
/// The path for Canarytoken Deploy keys.
pub const DEPLOY_PATH: &str = "/api/v1/canarytoken/create";
/// The header that carries a Deploy key, so it is never in a form body a proxy might log.
const DEPLOY_HEADER: &str = "x-canary-auth-token";

/// Answers larger than this are refused; a real token answer is about 1 KiB.
const MAX_BODY: usize = 256 * 1024;
/// The default longest a request may take (the factory admin commands use it).
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The secret that lets this host create tokens.
#[derive(Debug)]
pub enum Credential {
    /// A factory auth string, for `/canarytoken/factory` (or `/factory/create`).
    Factory(Secret),
    /// A Canarytoken Deploy key, for `/canarytoken/create`.
    Deploy(Secret),
}

impl Credential {
    fn secret(&self) -> &Secret {
        match self {
            Credential::Factory(s) | Credential::Deploy(s) => s,
        }
    }
}

/// What to ask the Console for.
#[derive(Debug)]
pub struct TokenRequest<'a> {
    pub memo: &'a str,
    pub flock_id: Option<&'a str>,
    pub aws_id_username: Option<&'a str>,
    /// How long the token lives, such as `12h` or `6mo`. Default: the Console's choice.
    pub expiry: Option<&'a str>,
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
    #[error("gave up after {attempts} attempt(s) in {secs}s because {why}; last error: {last}")]
    Deadline {
        attempts: u32,
        secs: u64,
        why: String,
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
    request_timeout: Duration,
}

impl Client {
    /// Builds the HTTP client: rustls, no redirects, timeouts, proxies from the environment
    /// (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, as curl reads them).
    pub fn new(
        console: Console,
        tls: rustls::ClientConfig,
        request_timeout: Duration,
    ) -> anyhow::Result<Client> {
        let http = http_client(tls)?;
        Ok(Client {
            http,
            console,
            request_timeout,
        })
    }

    /// Asks for a token, retrying transient failures with backoff until `deadline`.
    pub async fn issue_token(
        &self,
        auth: &Credential,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let error = match self.issue_once(auth, request, deadline).await {
                Ok(token) => return Ok(token),
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => e,
            };
            match retry::next(attempt, error.retry_after(), deadline) {
                Next::Wait(delay) => {
                    let next_delay_ms = delay.as_millis() as u64;
                    warn!(attempt, cause = %error, next_delay_ms, "attempt failed, retrying");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Next::GiveUp(why) => {
                    return Err(ConsoleError::Deadline {
                        attempts: attempt,
                        secs: started.elapsed().as_secs(),
                        why,
                        last: Box::new(error),
                    });
                }
            }
        }
    }

    /// One attempt. A factory string tries the legacy path, then the current one if the
    /// legacy path is gone; a Deploy key has one path.
    async fn issue_once(
        &self,
        auth: &Credential,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        if let Credential::Deploy(_) = auth {
            return self.post(DEPLOY_PATH, auth, request, deadline).await;
        }
        match self.post(LEGACY_PATH, auth, request, deadline).await {
            Err(ConsoleError::Status { status: 404, .. }) => {
                info!(
                    path = CURRENT_PATH,
                    "legacy factory path answered 404, trying current"
                );
                self.post(CURRENT_PATH, auth, request, deadline).await
            }
            other => other,
        }
    }

    async fn post(
        &self,
        path: &str,
        auth: &Credential,
        request: &TokenRequest<'_>,
        deadline: Instant,
    ) -> Result<IssuedToken, ConsoleError> {
        let url = self.console.url(path);
        let body = form_body(auth, request);
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .min(self.request_timeout);
        debug!(url = %url, timeout_ms = timeout.as_millis() as u64, "requesting a token");
        let mut builder = self
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .timeout(timeout);
        if let Credential::Deploy(key) = auth {
            builder = builder.header(DEPLOY_HEADER, sensitive_header(key, &url)?);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| unreachable_error(&url, &e))?;
        let answer = answer::read_answer(&url, response)
            .await
            .map_err(|e| answer::redact_location(e, auth.secret()))?;
        answer::parse_token(&url, &answer, auth.secret())
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

/// A header value that HTTP libraries know not to print.
fn sensitive_header(key: &Secret, url: &str) -> Result<reqwest::header::HeaderValue, ConsoleError> {
    let mut value = reqwest::header::HeaderValue::from_str(key.expose()).map_err(|_| {
        ConsoleError::Malformed {
            url: url.to_owned(),
            reason: "the Deploy key holds characters a header cannot carry".to_owned(),
        }
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// The form body; held zeroizing because it may carry the factory auth string.
fn form_body(auth: &Credential, request: &TokenRequest<'_>) -> Zeroizing<String> {
    let mut form = form_urlencoded::Serializer::new(String::new());
    if let Credential::Factory(secret) = auth {
        form.append_pair("factory_auth", secret.expose());
    }
    form.append_pair("memo", request.memo);
    form.append_pair("kind", "aws-id");
    if let Some(flock) = request.flock_id {
        form.append_pair("flock_id", flock);
    }
    if let Some(name) = request.aws_id_username {
        form.append_pair("aws_id_username", name);
    }
    if let Some(expiry) = request.expiry {
        form.append_pair("expiry", expiry);
    }
    Zeroizing::new(form.finish())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Secret {
        Secret::new("f4ct0ry".into())
    }
    #[test]
    fn form_body_is_url_encoded() {
        let request = TokenRequest {
            memo: "web 1&x",
            flock_id: None,
            aws_id_username: None,
            expiry: None,
        };
        let body = form_body(&Credential::Factory(auth()), &request);
        assert_eq!(
            body.as_str(),
            "factory_auth=f4ct0ry&memo=web+1%26x&kind=aws-id"
        );
    }

    #[test]
    fn deploy_key_stays_out_of_the_form_and_expiry_is_sent() {
        let request = TokenRequest {
            memo: "m",
            flock_id: None,
            aws_id_username: None,
            expiry: Some("12h"),
        };
        let body = form_body(&Credential::Deploy(auth()), &request);
        assert_eq!(body.as_str(), "memo=m&kind=aws-id&expiry=12h");
    }
}
