//! The Console's admin calls for factory auth strings: create, delete and list.
//!
//! It owns these three HTTP exchanges and the checks on their answers; the connection
//! settings and the answer reading are shared with the token client in `console`. One
//! attempt per call: creating a factory twice would leave an orphan, and a person or a
//! pipeline step is there to retry. The admin API key travels in the form body, or for the
//! one GET in the query string; no error or log line ever carries it, nor a factory auth
//! string (URLs in messages never have a query, and the Console's own words are redacted).

use serde::Deserialize;
use tracing::debug;
use zeroize::Zeroizing;

use crate::config::Console;
use crate::console::{self, Answer, ConsoleError};
use crate::secret::{self, Secret};

/// `create_factory`: a new factory auth string.
pub const CREATE_PATH: &str = "/api/v1/canarytoken/create_factory";
/// `delete_factory`: DELETE with a form body.
pub const DELETE_PATH: &str = "/api/v1/canarytoken/delete_factory";
/// `list_factories`: GET with the admin key as a query parameter.
pub const LIST_PATH: &str = "/api/v1/canarytoken/list_factories";

/// A factory auth string the Console just created.
#[derive(Debug)]
pub struct NewFactory {
    pub factory_auth: Secret,
    /// The token path the Console named (`factory_url`), if it named one.
    pub factory_url: Option<String>,
}

/// One factory as `list_factories` describes it.
#[derive(Debug, Deserialize)]
pub struct FactoryInfo {
    pub factory_auth: Secret,
    #[serde(default)]
    pub memo: Option<String>,
    #[serde(default)]
    pub flock_id: Option<String>,
}

/// A client holding the admin API key for one Console.
pub struct AdminClient {
    http: reqwest::Client,
    console: Console,
    key: Secret,
}

/// What `delete_factory` says it did (`msg`, or `message` on some Consoles).
#[derive(Deserialize)]
struct Envelope {
    message: Option<String>,
    msg: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CreateAnswer {
    factory_auth: Option<Secret>,
    factory_url: Option<String>,
}

#[derive(Deserialize)]
struct ListAnswer {
    factories: Option<Vec<FactoryInfo>>,
}

impl AdminClient {
    /// Builds the client with the same TLS and HTTP settings as the token client.
    pub fn new(console: Console, tls: rustls::ClientConfig, key: Secret) -> anyhow::Result<Self> {
        let http = console::http_client(tls)?;
        Ok(AdminClient { http, console, key })
    }

    /// Creates a factory auth string with `memo`, in `flock_id` or the default flock.
    pub async fn create_factory(
        &self,
        memo: &str,
        flock_id: Option<&str>,
    ) -> Result<NewFactory, ConsoleError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("auth_token", self.key.expose());
        form.append_pair("memo", memo);
        if let Some(flock) = flock_id {
            form.append_pair("flock_id", flock);
        }
        let body = Zeroizing::new(form.finish());
        let url = self.console.url(CREATE_PATH);
        let request = self.http.post(&url).body(body.as_bytes().to_vec());
        let answer = self.send(&url, with_form(request), &[]).await?;
        let fields: CreateAnswer = parse(&url, &answer)?;
        let raw = fields
            .factory_auth
            .ok_or_else(|| malformed(&url, "no 'factory_auth'".to_owned()))?;
        let factory_auth = secret::parse_secret(raw.expose().as_bytes())
            .map_err(|e| malformed(&url, format!("'factory_auth' is not usable: {e}")))?;
        Ok(NewFactory {
            factory_auth,
            factory_url: fields.factory_url.map(|u| console::clean_text(&u)),
        })
    }

    /// Deletes `factory_auth`; returns the Console's message.
    pub async fn delete_factory(&self, factory_auth: &Secret) -> Result<String, ConsoleError> {
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("auth_token", self.key.expose());
        form.append_pair("factory_auth", factory_auth.expose());
        let body = Zeroizing::new(form.finish());
        let url = self.console.url(DELETE_PATH);
        let request = self.http.delete(&url).body(body.as_bytes().to_vec());
        let answer = self.send(&url, with_form(request), &[factory_auth]).await?;
        let envelope: Envelope = parse(&url, &answer)?;
        let message = envelope.msg.or(envelope.message).unwrap_or_default();
        Ok(console::clean_text(&self.redact(&message, &[factory_auth])))
    }

    /// Lists the Console's factories, with their auth strings.
    pub async fn list_factories(&self) -> Result<Vec<FactoryInfo>, ConsoleError> {
        let url = self.console.url(LIST_PATH);
        let request = self
            .http
            .get(&url)
            .query(&[("auth_token", self.key.expose())]);
        let answer = self.send(&url, request, &[]).await?;
        let fields: ListAnswer = parse(&url, &answer)?;
        fields
            .factories
            .ok_or_else(|| malformed(&url, "no 'factories' list".to_owned()))
    }

    /// Sends one request and checks for a 2xx `result: success` answer. `url` is the
    /// address without any query: the only one that goes into messages.
    async fn send(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
        secrets: &[&Secret],
    ) -> Result<Answer, ConsoleError> {
        debug!(url, "calling the Console's admin API");
        let response = request
            .timeout(console::REQUEST_TIMEOUT)
            .send()
            .await
            .map_err(|e| console::unreachable_error(url, &e.without_url()))?;
        let answer = console::read_answer(url, response)
            .await
            .map_err(|e| self.redact_error(e, secrets))?;
        self.check(url, &answer, secrets)?;
        Ok(answer)
    }

    /// Turns an error status or a `result` other than `success` into a typed error that
    /// carries the Console's message, redacted.
    fn check(&self, url: &str, answer: &Answer, secrets: &[&Secret]) -> Result<(), ConsoleError> {
        console::check_verdict(url, answer, &|m| self.redact(m, secrets))
    }

    /// Removes the admin key and `secrets` from a redirect's `Location`.
    fn redact_error(&self, error: ConsoleError, secrets: &[&Secret]) -> ConsoleError {
        let error = console::redact_location(error, &self.key);
        secrets.iter().fold(error, |error, secret| {
            console::redact_location(error, secret)
        })
    }

    /// Removes the admin key and `secrets` from text the Console sent.
    fn redact(&self, text: &str, secrets: &[&Secret]) -> String {
        redact_all(text, &self.key, secrets)
    }
}

fn redact_all(text: &str, key: &Secret, secrets: &[&Secret]) -> String {
    let text = console::redact(text, key);
    secrets
        .iter()
        .fold(text, |text, secret| console::redact(&text, secret))
}

fn with_form(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("content-type", "application/x-www-form-urlencoded")
}

fn parse<'a, T: Deserialize<'a>>(url: &str, answer: &'a Answer) -> Result<T, ConsoleError> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| malformed(url, format!("unexpected answer: {}", shape_error(&e))))
}

fn malformed(url: &str, reason: String) -> ConsoleError {
    ConsoleError::Malformed {
        url: url.to_owned(),
        reason,
    }
}

/// A short name for a factory auth string that reveals nothing usable: `fa-` and the first
/// 8 hex digits of its SHA-256 (the same name the bundled emulator logs).
pub fn fingerprint(factory_auth: &Secret) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, factory_auth.expose().as_bytes());
    let hex: String = digest.as_ref()[..4]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("fa-{hex}")
}

/// A JSON error by kind only: serde_json's own messages quote the offending value.
fn shape_error(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "a field is missing or has the wrong type",
        serde_json::error::Category::Eof => "truncated JSON",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_sha256_prefix() {
        // SHA-256("abc") starts with ba7816bf.
        assert_eq!(fingerprint(&Secret::new("abc".into())), "fa-ba7816bf");
    }

    #[test]
    fn echoed_key_and_factory_auth_are_redacted() {
        let key = Secret::new("adminkey".into());
        let auth = Secret::new("factoryauth".into());
        let text = redact_all("bad adminkey for factoryauth", &key, &[&auth]);
        assert_eq!(text, "bad <redacted> for <redacted>");
    }

    #[test]
    fn wrong_typed_field_error_does_not_quote_the_answer() {
        let answer = Answer {
            status: 200,
            body: Zeroizing::new(br#"{"factory_auth": 12345678}"#.to_vec()),
            retry_after: None,
        };
        let err = parse::<CreateAnswer>("u", &answer).unwrap_err().to_string();
        assert!(!err.contains("12345678"), "{err}");
    }
}
