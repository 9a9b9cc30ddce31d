//! Settings: the TOML file that says which Console to ask and where to plant tokens.
//!
//! This module owns parsing and checking the settings file and the defaults a user should
//! not have to think about. It reads no secret (the factory auth file is only named here)
//! and touches no user file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::memo::Template;

/// Where settings live unless `--config` says otherwise.
pub const DEFAULT_CONFIG: &str = "/etc/canary-bootstrap/config.toml";

/// The profile name used when a target names none. Not `default`: a decoy there would
/// shadow the instance's IAM role for every AWS SDK on the host.
pub const DEFAULT_PROFILE: &str = "prod-admin";

/// Everything `run` needs to know, checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The Console: `https://<hash>.canary.tools` or the bare hash. Required.
    #[serde(deserialize_with = "deserialize_console")]
    pub console: Console,
    /// File holding the factory auth string. Default `/etc/canary-bootstrap/factory_auth`;
    /// `$CREDENTIALS_DIRECTORY/factory_auth` is read first when systemd provides it.
    #[serde(default = "default_factory_auth_file")]
    pub factory_auth_file: PathBuf,
    /// Flock to create tokens in. Default: the factory's own flock.
    pub flock_id: Option<String>,
    /// Memo template. Default `{hostname}`.
    #[serde(default = "default_memo")]
    pub memo: Template,
    /// AWS user name to ask for. Default: the Console picks one.
    pub aws_id_username: Option<String>,
    /// Directory for the lock, the marker and the pending record. Default
    /// `/var/lib/canary-bootstrap`.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Seconds the whole run may take, retries included. Default 300.
    #[serde(default = "default_deadline_secs")]
    pub deadline_secs: u64,
    /// Seconds to wait for another run's lock before giving up. Default 60.
    #[serde(default = "default_lock_wait_secs")]
    pub lock_wait_secs: u64,
    /// A PEM file of extra CA certificates to trust for the Console. Default: none.
    pub ca_file: Option<PathBuf>,
    /// Seconds one request may take, connecting included. Default 30 (never past the
    /// deadline).
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// File holding a Canarytoken Deploy key. When set, tokens are created with it at
    /// `/api/v1/canarytoken/create` and no factory auth is read. Default: none.
    pub deploy_key_file: Option<PathBuf>,
    /// Lifetime of each token, such as `12h`, `30d`, `6mo` or `1y`. Default: the Console's.
    pub expiry: Option<String>,
    /// Seconds to wait at early boot for a real host name (not `localhost` or the image
    /// builder's) before falling back to the instance id. Default 30.
    #[serde(default = "default_hostname_wait_secs")]
    pub hostname_wait_secs: u64,
    /// Where to find this instance's identity. Defaults as documented on [`Identity`].
    #[serde(default)]
    pub identity: Identity,
    /// The credentials files to plant into. Default: one target, root's default profile.
    #[serde(rename = "target", default = "default_targets")]
    pub targets: Vec<Target>,
}

/// Sources of the instance identity that ties the marker to one instance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// DMI product UUID, unique per instance on EC2 and most hypervisors. Default
    /// `/sys/class/dmi/id/product_uuid`.
    #[serde(default = "default_product_uuid_file")]
    pub product_uuid_file: PathBuf,
    /// Used only when the product UUID cannot be read. Default `/etc/machine-id`.
    #[serde(default = "default_machine_id_file")]
    pub machine_id_file: PathBuf,
    /// The DMI directory that tells whether this is EC2. Default `/sys/class/dmi/id`.
    #[serde(default = "default_dmi_dir")]
    pub dmi_dir: PathBuf,
    /// When to ask the EC2 instance metadata service (IMDSv2). Default `auto`.
    #[serde(default)]
    pub imds: ImdsMode,
    /// The metadata service's base URL (`http://` only). Default `http://169.254.169.254`.
    #[serde(
        default = "default_imds_endpoint",
        deserialize_with = "deserialize_endpoint"
    )]
    pub imds_endpoint: String,
}

/// When the agent asks the EC2 instance metadata service.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImdsMode {
    /// Only when DMI says this is an EC2 instance.
    #[default]
    Auto,
    /// Always, even where DMI does not say EC2.
    Always,
    /// Never; the EC2 memo placeholders are then refused.
    Never,
}

/// One credentials file to plant a profile into.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// The user who owns the file; the agent writes it as that user. Default `root`.
    #[serde(default = "default_user")]
    pub user: String,
    /// The profile name to plant. Default `prod-admin`.
    #[serde(default = "default_profile")]
    pub profile: String,
    /// The file. Default `<user's home>/.aws/credentials`.
    pub credentials_file: Option<PathBuf>,
    /// With `region` set, the agent also adds `[profile NAME]` with `region` (and `output`)
    /// to the user's AWS config file, so the decoy looks like a working profile. Default:
    /// no config file change.
    pub region: Option<String>,
    /// `output` for the config companion (`json`, `text`, `table`, `yaml`, `yaml-stream`);
    /// needs `region`. Default: none.
    pub output: Option<String>,
    /// The AWS config file. Default `<user's home>/.aws/config`.
    pub config_file: Option<PathBuf>,
}

/// A checked Console base URL, without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Console(String);

impl Console {
    /// Accepts a full URL or a bare Console hash.
    pub fn parse(value: &str) -> anyhow::Result<Console> {
        let value = value.trim().trim_end_matches('/');
        if value.is_empty() {
            bail!("is empty");
        }
        if !value.contains("://") {
            return bare_hash(value);
        }
        let url = reqwest::Url::parse(value).with_context(|| format!("'{value}' is not a URL"))?;
        check_console_url(&url)?;
        Ok(Console(value.to_owned()))
    }

    /// The URL of an API path such as `/api/v1/canarytoken/factory`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.0, path)
    }

    /// The base URL, for messages.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn bare_hash(value: &str) -> anyhow::Result<Console> {
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        bail!("'{value}' is neither a URL nor a Console hash");
    }
    Ok(Console(format!("https://{value}.canary.tools")))
}

fn check_console_url(url: &reqwest::Url) -> anyhow::Result<()> {
    if !url.username().is_empty() || url.password().is_some() {
        bail!("must not carry a user name or password");
    }
    if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
        bail!("must be a bare address such as https://example.canary.tools, without a path");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => bail!("must use https:// (http:// is accepted only for loopback test consoles)"),
        other => bail!("has unsupported scheme '{other}'"),
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

fn deserialize_endpoint<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let raw = String::deserialize(d)?;
    check_endpoint(&raw).map_err(|e| serde::de::Error::custom(format!("imds_endpoint: {e:#}")))
}

/// The metadata service speaks plain HTTP on a link-local or loopback address, no path.
fn check_endpoint(value: &str) -> anyhow::Result<String> {
    let value = value.trim().trim_end_matches('/');
    let url = reqwest::Url::parse(value).with_context(|| format!("'{value}' is not a URL"))?;
    if url.scheme() != "http" || url.host().is_none() || url.path() != "/" {
        bail!("'{value}' must be a bare http:// address such as http://169.254.169.254");
    }
    if url.query().is_some() || !url.username().is_empty() || url.password().is_some() {
        bail!("'{value}' must be a bare http:// address such as http://169.254.169.254");
    }
    Ok(value.to_owned())
}

fn deserialize_console<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Console, D::Error> {
    let raw = String::deserialize(d)?;
    Console::parse(&raw).map_err(|e| serde::de::Error::custom(format!("console: {e:#}")))
}

impl Settings {
    /// Loads and checks the settings file. Errors name the file, the line and the key.
    pub fn load(path: &Path) -> anyhow::Result<Settings> {
        let text = read_settings_text(path)
            .with_context(|| format!("failed to read settings file '{}'", path.display()))?;
        let settings: Settings = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}", describe_toml_error(&text, &e)))
            .with_context(|| format!("invalid settings file '{}'", path.display()))?;
        settings
            .check()
            .with_context(|| format!("invalid settings file '{}'", path.display()))?;
        Ok(settings)
    }

    /// The longest one request to the Console may take.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The overall deadline for a run.
    pub fn deadline(&self) -> Duration {
        Duration::from_secs(self.deadline_secs)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.targets.is_empty() {
            bail!("'target' lists no credentials file");
        }
        for (index, target) in self.targets.iter().enumerate() {
            target
                .check()
                .with_context(|| format!("target #{}", index + 1))?;
        }
        check_unique_files(&self.targets)?;
        if self.deadline_secs == 0 {
            bail!("'deadline_secs' must be at least 1");
        }
        if self.request_timeout_secs == 0 {
            bail!("'request_timeout_secs' must be at least 1");
        }
        check_wait_secs("deadline_secs", self.deadline_secs)?;
        check_wait_secs("request_timeout_secs", self.request_timeout_secs)?;
        check_wait_secs("lock_wait_secs", self.lock_wait_secs)?;
        check_wait_secs("hostname_wait_secs", self.hostname_wait_secs)?;
        if let Some(expiry) = &self.expiry
            && !valid_expiry(expiry)
        {
            bail!("'expiry' value '{expiry}' is not a number followed by h, d, mo or y");
        }
        if self.identity.imds == ImdsMode::Never && self.memo.uses_ec2_facts() {
            bail!("'memo' uses an EC2 placeholder but [identity] imds = \"never\"");
        }
        check_optional_text("flock_id", self.flock_id.as_deref())?;
        check_optional_text("aws_id_username", self.aws_id_username.as_deref())
    }
}

/// The longest any wait setting may be: a day. Far past any boot, and small enough that
/// adding it to the clock can never overflow.
const MAX_WAIT_SECS: u64 = 86_400;

fn check_wait_secs(key: &str, value: u64) -> anyhow::Result<()> {
    if value > MAX_WAIT_SECS {
        bail!("'{key}' value {value} is more than a day ({MAX_WAIT_SECS})");
    }
    Ok(())
}

impl Target {
    fn check(&self) -> anyhow::Result<()> {
        if self.user.is_empty() {
            bail!("'user' is empty");
        }
        if !crate::profile_file::valid_profile_name(&self.profile) {
            bail!(
                "'profile' value '{}' is not a profile name AWS tools accept \
                 (letters, digits and - _ . / % @ : + only)",
                self.profile
            );
        }
        if let Some(path) = &self.credentials_file
            && !path.is_absolute()
        {
            bail!("'credentials_file' must be an absolute path");
        }
        self.check_companion()
    }

    fn check_companion(&self) -> anyhow::Result<()> {
        if let Some(region) = &self.region {
            let plain = region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if region.is_empty() || region.len() > 32 || !plain {
                bail!("'region' value '{region}' is not an AWS region name such as us-east-1");
            }
        }
        if let Some(output) = &self.output {
            if self.region.is_none() {
                bail!(
                    "'output' needs 'region': the config companion is written only with a region"
                );
            }
            if !OUTPUT_FORMATS.contains(&output.as_str()) {
                bail!("'output' must be one of {}", OUTPUT_FORMATS.join(", "));
            }
        }
        match &self.config_file {
            Some(path) if !path.is_absolute() => bail!("'config_file' must be an absolute path"),
            _ => Ok(()),
        }
    }

    /// The `[profile NAME]` settings for the config companion; empty when it is off.
    pub fn companion_settings(&self) -> Vec<(String, String)> {
        let region = self.region.iter().map(|r| ("region".to_owned(), r.clone()));
        let output = self.output.iter().map(|o| ("output".to_owned(), o.clone()));
        region.chain(output).collect()
    }
}

/// The AWS CLI's output formats.
const OUTPUT_FORMATS: &[&str] = &["json", "text", "table", "yaml", "yaml-stream"];

/// Two targets naming the same user and file with the same profile would fight.
fn check_unique_files(targets: &[Target]) -> anyhow::Result<()> {
    for (i, a) in targets.iter().enumerate() {
        for b in &targets[..i] {
            let same_file = a.user == b.user && a.credentials_file == b.credentials_file;
            if same_file && a.profile == b.profile {
                bail!(
                    "two targets plant profile '{}' for user '{}'",
                    a.profile,
                    a.user
                );
            }
        }
    }
    Ok(())
}

/// A token lifetime as the Console takes it: a positive number and a unit.
fn valid_expiry(value: &str) -> bool {
    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = value.split_at(digits);
    let positive = number.len() <= 6 && number.parse::<u32>().is_ok_and(|n| n > 0);
    positive && matches!(unit, "h" | "d" | "mo" | "y")
}

fn check_optional_text(key: &str, value: Option<&str>) -> anyhow::Result<()> {
    match value {
        Some(v) if v.trim().is_empty() || v.chars().any(char::is_control) => {
            bail!("'{key}' must be non-empty text without control characters")
        }
        _ => Ok(()),
    }
}

/// Reads the settings file, refusing one that another user could have changed: it names
/// the Console the factory auth is sent to.
fn read_settings_text(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;

    let mut file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    let me = nix::unistd::geteuid().as_raw();
    if meta.uid() != 0 && meta.uid() != me {
        bail!(
            "the file is owned by uid {}, not by root or this user",
            meta.uid()
        );
    }
    let group_writable = meta.mode() & 0o020 != 0 && meta.gid() != 0;
    if meta.mode() & 0o002 != 0 || group_writable {
        bail!(
            "the file is writable by other users (mode {:04o})",
            meta.mode() & 0o7777
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// One line from a TOML error: where it is, which key, and what is wrong.
fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().replace('\n', " ");
    let Some(span) = err.span() else {
        return message;
    };
    // A missing field's span is its whole table, so no line or key there is the culprit.
    if message.starts_with("missing field") {
        return message;
    }
    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
    match key_on_line(text, line) {
        Some(key) if !message.contains(&format!("`{key}`")) => {
            format!("line {line}: key '{key}': {message}")
        }
        _ => format!("line {line}: {message}"),
    }
}

/// The key of a `key = value` line, if that line is one.
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let content = text.lines().nth(line - 1)?;
    let (key, _) = content.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_owned())
}

fn default_factory_auth_file() -> PathBuf {
    PathBuf::from("/etc/canary-bootstrap/factory_auth")
}

fn default_memo() -> Template {
    Template::parse("{hostname}").expect("the default memo template is valid")
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/canary-bootstrap")
}

fn default_deadline_secs() -> u64 {
    300
}

fn default_request_timeout_secs() -> u64 {
    30
}

fn default_lock_wait_secs() -> u64 {
    60
}

fn default_hostname_wait_secs() -> u64 {
    30
}

fn default_dmi_dir() -> PathBuf {
    PathBuf::from("/sys/class/dmi/id")
}

fn default_imds_endpoint() -> String {
    "http://169.254.169.254".to_owned()
}

fn default_product_uuid_file() -> PathBuf {
    PathBuf::from("/sys/class/dmi/id/product_uuid")
}

fn default_machine_id_file() -> PathBuf {
    PathBuf::from("/etc/machine-id")
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            product_uuid_file: default_product_uuid_file(),
            machine_id_file: default_machine_id_file(),
            dmi_dir: default_dmi_dir(),
            imds: ImdsMode::default(),
            imds_endpoint: default_imds_endpoint(),
        }
    }
}

fn default_user() -> String {
    "root".to_owned()
}

fn default_profile() -> String {
    DEFAULT_PROFILE.to_owned()
}

fn default_targets() -> Vec<Target> {
    vec![Target {
        user: default_user(),
        profile: default_profile(),
        credentials_file: None,
        region: None,
        output: None,
        config_file: None,
    }]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(text: &str) -> anyhow::Result<Settings> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(&path)
    }

    fn error_of(text: &str) -> String {
        format!("{:#}", load_str(text).unwrap_err())
    }

    #[test]
    fn fills_defaults_from_console_alone() {
        let settings = load_str("console = 'abc123'\n").unwrap();
        assert_eq!(settings.console.as_str(), "https://abc123.canary.tools");
        assert_eq!(settings.targets.len(), 1);
        assert_eq!(settings.targets[0].user, "root");
        assert_eq!(settings.targets[0].profile, DEFAULT_PROFILE);
        assert_eq!(
            settings.state_dir,
            PathBuf::from("/var/lib/canary-bootstrap")
        );
    }

    #[test]
    fn unknown_key_names_the_key_and_file() {
        let err = error_of("console = 'abc'\nconsol = 'x'\n");
        assert!(err.contains("consol"), "{err}");
        assert!(err.contains("config.toml"), "{err}");
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn wrong_type_names_the_key() {
        let err = error_of("console = 'abc'\nmemo = 3\n");
        assert!(err.contains("'memo'"), "{err}");
    }

    #[test]
    fn missing_console_is_named() {
        assert!(error_of("memo = 'x'\n").contains("console"));
    }

    #[test]
    fn plain_http_only_for_loopback() {
        assert!(Console::parse("http://127.0.0.1:8080").is_ok());
        assert!(Console::parse("http://[::1]:8080/").is_ok());
        let err = format!("{:#}", Console::parse("http://example.com").unwrap_err());
        assert!(err.contains("https://"), "{err}");
    }

    #[test]
    fn console_with_path_is_refused() {
        assert!(Console::parse("https://x.canary.tools/api").is_err());
    }

    #[test]
    fn refuses_profile_name_with_space() {
        let err = error_of("console = 'abc'\n[[target]]\nprofile = 'a b'\n");
        assert!(err.contains("'profile'"), "{err}");
    }

    #[test]
    fn expiry_is_checked() {
        for good in ["12h", "30d", "6mo", "1y"] {
            assert!(valid_expiry(good), "{good}");
        }
        for bad in [
            "",
            "h",
            "0d",
            "12",
            "12m",
            "-1d",
            "1.5d",
            "12 h",
            "99999999d",
        ] {
            assert!(!valid_expiry(bad), "{bad}");
        }
        let err = error_of("console = 'abc'\nexpiry = '12x'\n");
        assert!(err.contains("'expiry'"), "{err}");
    }

    #[test]
    fn identity_defaults_and_imds_modes() {
        let settings = load_str("console = 'abc'\n").unwrap();
        assert_eq!(settings.identity.imds, ImdsMode::Auto);
        assert_eq!(settings.identity.imds_endpoint, "http://169.254.169.254");
        assert_eq!(settings.hostname_wait_secs, 30);
        let text = "console = 'abc'\n[identity]\nimds = 'never'\n";
        assert_eq!(load_str(text).unwrap().identity.imds, ImdsMode::Never);
        let err = error_of("console = 'abc'\n[identity]\nimds = 'sometimes'\n");
        assert!(err.contains("imds"), "{err}");
    }

    #[test]
    fn refuses_an_imds_endpoint_with_a_path_or_tls() {
        let err = error_of("console = 'abc'\n[identity]\nimds_endpoint = 'https://x'\n");
        assert!(err.contains("imds_endpoint"), "{err}");
        let err = error_of("console = 'abc'\n[identity]\nimds_endpoint = 'http://x/latest'\n");
        assert!(err.contains("imds_endpoint"), "{err}");
    }

    #[test]
    fn refuses_ec2_placeholders_when_imds_is_off() {
        let err = error_of("console = 'abc'\nmemo = '{instance_id}'\n[identity]\nimds = 'never'\n");
        assert!(err.contains("imds"), "{err}");
        assert!(load_str("console = 'abc'\nmemo = '{hostname} {az}'\n").is_ok());
    }

    #[test]
    fn refuses_unknown_memo_placeholder() {
        let err = error_of("console = 'abc'\nmemo = '{hostnme}'\n");
        assert!(err.contains("hostnme"), "{err}");
    }
}
