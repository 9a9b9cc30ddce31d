//! The EC2 instance metadata service (IMDSv2): the instance id and the facts the memo names.
//!
//! This module decides whether the service applies (the `[identity] imds` setting, and DMI
//! saying this is EC2) and talks to it: a session token by `PUT /latest/api/token`, then a
//! few `GET`s with that token. It never goes through a proxy, follows no redirect, uses
//! short timeouts and a few retries within a small time budget. It is consulted only when a
//! run has work to do, never on the already-provisioned path, and it never sees a secret of
//! ours; its session token is never logged.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::Method;
use tracing::debug;
use zeroize::Zeroizing;

use crate::config::{Identity, ImdsMode};

const TOKEN_PATH: &str = "/latest/api/token";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// The session token lives long enough for one run and no longer.
const TOKEN_TTL_SECS: &str = "300";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const ATTEMPTS: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(250);
/// Everything the service is asked in one run must fit in this.
const BUDGET: Duration = Duration::from_secs(10);
/// Every answer is a short word; anything longer is refused.
const MAX_ANSWER: usize = 4096;
/// DMI vendor strings EC2 reports, on Nitro and on Xen.
const EC2_VENDOR: &str = "Amazon EC2";
const DMI_FILES: &[&str] = &["sys_vendor", "board_vendor", "product_name", "bios_vendor"];

/// What the metadata service says about this instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub instance_id: String,
    pub ami_id: String,
    pub region: String,
    pub az: String,
}

/// The metadata service as one run sees it: asked at most once, and only when a caller
/// needs an answer.
pub struct Lazy {
    endpoint: String,
    applies: bool,
    answer: Option<Result<Metadata, String>>,
}

impl Lazy {
    /// Decides from settings and DMI whether the service applies; no network.
    pub fn new(settings: &Identity) -> Lazy {
        Lazy {
            endpoint: settings.imds_endpoint.clone(),
            applies: applies(settings),
            answer: None,
        }
    }

    /// Whether the service is to be asked at all.
    pub fn applies(&self) -> bool {
        self.applies
    }

    /// The service's answer, asking it on first use; an error if it does not apply.
    pub fn get(&mut self) -> anyhow::Result<&Metadata> {
        if !self.applies {
            bail!("the instance metadata service is not used here");
        }
        let endpoint = &self.endpoint;
        let answer = self
            .answer
            .get_or_insert_with(|| fetch(endpoint).map_err(|e| format!("{e:#}")));
        answer.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Whether the metadata service is to be asked, from settings and DMI; no network.
pub fn applies(settings: &Identity) -> bool {
    match settings.imds {
        ImdsMode::Never => false,
        ImdsMode::Always => true,
        ImdsMode::Auto => dmi_says_ec2(&settings.dmi_dir, &settings.product_uuid_file),
    }
}

/// DMI names EC2 as vendor or product, or the product UUID has EC2's `ec2` prefix.
pub fn dmi_says_ec2(dmi_dir: &Path, product_uuid_file: &Path) -> bool {
    let vendor = DMI_FILES.iter().any(|name| {
        std::fs::read_to_string(dmi_dir.join(name)).is_ok_and(|text| text.trim() == EC2_VENDOR)
    });
    let uuid = std::fs::read_to_string(product_uuid_file)
        .is_ok_and(|text| text.trim().to_ascii_lowercase().starts_with("ec2"));
    vendor || uuid
}

/// Asks the service at `endpoint` for this instance's facts, within [`BUDGET`].
pub fn fetch(endpoint: &str) -> anyhow::Result<Metadata> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the metadata client")?;
    let client = Imds::new(endpoint)?;
    let metadata = runtime.block_on(client.metadata())?;
    debug!(instance_id = %metadata.instance_id, "read the instance metadata");
    Ok(metadata)
}

/// Why one attempt failed, and whether another may help.
enum Attempt {
    Retry(String),
    Final(String),
}

struct Imds {
    http: reqwest::Client,
    base: String,
    deadline: Instant,
}

impl Imds {
    fn new(endpoint: &str) -> anyhow::Result<Imds> {
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(unused_tls()?)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .build()
            .context("failed to set up the metadata client")?;
        Ok(Imds {
            http,
            base: endpoint.trim_end_matches('/').to_owned(),
            deadline: Instant::now() + BUDGET,
        })
    }

    async fn metadata(&self) -> anyhow::Result<Metadata> {
        let token = Zeroizing::new(self.call(Method::PUT, TOKEN_PATH, None).await?);
        let get = |path| self.call(Method::GET, path, Some(token.as_str()));
        Ok(Metadata {
            instance_id: checked(get("/latest/meta-data/instance-id").await?)?,
            ami_id: checked(get("/latest/meta-data/ami-id").await?)?,
            region: checked(get("/latest/meta-data/placement/region").await?)?,
            az: checked(get("/latest/meta-data/placement/availability-zone").await?)?,
        })
    }

    /// One request with bounded retries; the error names the URL, never the token.
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> anyhow::Result<String> {
        let url = format!("{}{path}", self.base);
        let mut attempt = 1;
        loop {
            let reason = match self.once(method.clone(), &url, token).await {
                Ok(answer) => return Ok(answer),
                Err(Attempt::Final(reason)) => reason,
                Err(Attempt::Retry(reason)) => {
                    let pause = BACKOFF * attempt;
                    if attempt < ATTEMPTS && Instant::now() + pause < self.deadline {
                        debug!(url, attempt, reason, "metadata request failed; retrying");
                        tokio::time::sleep(pause).await;
                        attempt += 1;
                        continue;
                    }
                    reason
                }
            };
            bail!("failed to read '{url}' from the instance metadata service: {reason}");
        }
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
    ) -> Result<String, Attempt> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Attempt::Final("the time budget ran out".into()));
        }
        let mut request = self
            .http
            .request(method, url)
            .timeout(REQUEST_TIMEOUT.min(left));
        request = match token {
            Some(token) => request.header(TOKEN_HEADER, token),
            None => request.header(TTL_HEADER, TOKEN_TTL_SECS),
        };
        let response = request
            .send()
            .await
            .map_err(|e| Attempt::Retry(describe(&e)))?;
        let status = response.status();
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(Attempt::Retry(format!("HTTP {}", status.as_u16())));
        }
        if !status.is_success() {
            return Err(Attempt::Final(format!("HTTP {}", status.as_u16())));
        }
        read_capped(response).await
    }
}

/// The body, refused when larger than [`MAX_ANSWER`] or not text.
async fn read_capped(mut response: reqwest::Response) -> Result<String, Attempt> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Attempt::Retry(describe(&e)))?
    {
        body.extend_from_slice(&chunk);
        if body.len() > MAX_ANSWER {
            return Err(Attempt::Final("the answer is too long".into()));
        }
    }
    String::from_utf8(body).map_err(|_| Attempt::Final("the answer is not text".into()))
}

/// A fact must be one short printable word, as every EC2 id and place name is.
fn checked(value: String) -> anyhow::Result<String> {
    let value = value.trim().to_owned();
    if value.is_empty() || value.len() > 255 || !value.chars().all(|c| c.is_ascii_graphic()) {
        bail!("the instance metadata service gave an unusable value");
    }
    Ok(value)
}

fn describe(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out".into()
    } else if err.is_connect() {
        "could not connect".into()
    } else {
        "the exchange failed".into()
    }
}

/// reqwest wants a TLS setup even for plain HTTP; this one trusts nothing.
fn unused_tls() -> anyhow::Result<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("failed to set up the metadata client")?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_vendor_or_uuid_prefix_means_ec2() {
        let dir = tempfile::tempdir().unwrap();
        let uuid = dir.path().join("product_uuid");
        std::fs::write(&uuid, "4c4c4544-0000\n").unwrap();
        assert!(!dmi_says_ec2(dir.path(), &uuid));
        std::fs::write(dir.path().join("sys_vendor"), "QEMU\n").unwrap();
        assert!(!dmi_says_ec2(dir.path(), &uuid));
        std::fs::write(dir.path().join("bios_vendor"), "Amazon EC2\n").unwrap();
        assert!(dmi_says_ec2(dir.path(), &uuid));
        std::fs::remove_file(dir.path().join("bios_vendor")).unwrap();
        std::fs::write(&uuid, "EC2D7C2B-1111\n").unwrap();
        assert!(dmi_says_ec2(dir.path(), &uuid));
    }

    #[test]
    fn a_fact_must_be_one_printable_word() {
        assert_eq!(checked("i-0abc\n".into()).unwrap(), "i-0abc");
        assert!(checked("".into()).is_err());
        assert!(checked("two words".into()).is_err());
    }
}
