//! The Rust AWS SDK's own profile parser (`aws-runtime` `env_config`, a dev-dependency),
//! reading a credentials file from an in-memory file system as it reads one from disk.

use std::collections::HashMap;

use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
use aws_runtime::env_config::section::EnvConfigSections;
use aws_runtime::env_config::source;
use aws_types::os_shim_internal::{Env, Fs};

const FILE: &str = "/home/user/.aws/credentials";

/// Reads `bytes` as the SDK reads a credentials file (non-UTF-8 reads as an empty file),
/// or gives the SDK's error message.
pub fn sdk_read(bytes: &[u8]) -> Result<EnvConfigSections, String> {
    let fs = Fs::from_map(HashMap::from([(FILE.to_owned(), bytes.to_vec())]));
    let files = EnvConfigFiles::builder()
        .with_file(EnvConfigFileKind::Credentials, FILE)
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let source = runtime
        .block_on(source::load(&Env::from_slice(&[]), &fs, &files))
        .map_err(|e| e.to_string())?;
    EnvConfigSections::parse(source).map_err(|e| e.to_string())
}
