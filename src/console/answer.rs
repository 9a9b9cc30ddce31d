//! Reading and checking the Console's answer: a capped body, the headers acted on, and a
//! token accepted only when it is whole and well formed.
//!
//! Nothing here sends a request or decides about retrying; it turns one HTTP answer into an
//! [`IssuedToken`] or a [`ConsoleError`] that never carries a secret.

use std::time::Duration;

use serde::Deserialize;
use tracing::debug;
use zeroize::Zeroizing;

use super::{ConsoleError, IssuedToken, MAX_BODY, unreachable_error};
use crate::secret::Secret;

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

/// What every Console answer says about itself.
#[derive(Deserialize)]
struct Verdict {
    result: Option<String>,
    message: Option<String>,
}

/// The checks every Console answer gets: a status other than 2xx is a `Status` error, a
/// body that is not JSON is malformed, and a `result` other than `success` is a refusal.
/// Both errors carry the Console's message after `redact` (applied before the message is
/// cut short, so no prefix of a secret survives the cut).
pub(crate) fn check_verdict(
    url: &str,
    answer: &Answer,
    redact: &dyn Fn(&str) -> String,
) -> Result<(), ConsoleError> {
    let verdict: Option<Verdict> = serde_json::from_slice(&answer.body).ok();
    let message = verdict
        .as_ref()
        .and_then(|v| v.message.as_deref())
        .map(|m| clean_text(&redact(m)));
    if !(200..300).contains(&answer.status) {
        return Err(ConsoleError::Status {
            url: url.to_owned(),
            status: answer.status,
            message,
            retry_after: answer.retry_after,
        });
    }
    let verdict = verdict.ok_or_else(|| ConsoleError::Malformed {
        url: url.to_owned(),
        reason: "the answer is not JSON".to_owned(),
    })?;
    if verdict.result.as_deref() != Some("success") {
        return Err(ConsoleError::Refused {
            url: url.to_owned(),
            message: message.unwrap_or_else(|| "no message given".to_owned()),
        });
    }
    Ok(())
}

/// The token in an answer; everything else is ignored.
#[derive(Deserialize)]
struct Envelope {
    canarytoken: Option<TokenFields>,
}

#[derive(Deserialize)]
struct TokenFields {
    canarytoken: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<Secret>,
}

/// Accepts only a 2xx answer with `result: success` and a well-formed key pair.
pub(super) fn parse_token(
    url: &str,
    answer: &Answer,
    auth: &Secret,
) -> Result<IssuedToken, ConsoleError> {
    check_verdict(url, answer, &|m| redact(m, auth))?;
    let malformed = |reason: &str| ConsoleError::Malformed {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let envelope: Envelope =
        serde_json::from_slice(&answer.body).map_err(|_| malformed("the answer is not JSON"))?;
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

/// A redirect's `Location` comes from the Console too, so it is redacted like its words.
pub(crate) fn redact_location(error: ConsoleError, auth: &Secret) -> ConsoleError {
    match error {
        ConsoleError::Redirected { url, location } => ConsoleError::Redirected {
            url,
            location: redact(&location, auth),
        },
        other => other,
    }
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
}
