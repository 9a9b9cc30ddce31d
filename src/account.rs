//! Users the agent writes for: who they are and where their credentials file is.
//!
//! Looks users up through the system's user database (NSS, as `getpwnam` does). It does not
//! touch any file in a user's home; that happens in `writer`, as the user.

use std::ffi::CString;
use std::path::PathBuf;

use anyhow::{Context, bail};

/// A user account, resolved.
#[derive(Debug, Clone)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups, so files keep a group the user shares with others.
    pub groups: Vec<u32>,
    pub home: PathBuf,
}

impl Account {
    /// Looks up `name`; a user that does not exist is an error naming it.
    pub fn lookup(name: &str) -> anyhow::Result<Account> {
        let user = nix::unistd::User::from_name(name)
            .with_context(|| format!("failed to look up user '{name}'"))?;
        let Some(user) = user else {
            bail!("user '{name}' does not exist");
        };
        let c_name = CString::new(name).with_context(|| format!("invalid user name '{name}'"))?;
        let groups = nix::unistd::getgrouplist(&c_name, user.gid)
            .with_context(|| format!("failed to list the groups of user '{name}'"))?;
        Ok(Account {
            name: name.to_owned(),
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups: groups.into_iter().map(|g| g.as_raw()).collect(),
            home: user.dir,
        })
    }

    /// `~/.aws/credentials` for this user.
    pub fn default_credentials_file(&self) -> PathBuf {
        self.home.join(".aws").join("credentials")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_root() {
        let root = Account::lookup("root").unwrap();
        assert_eq!(root.uid, 0);
        assert!(
            root.default_credentials_file()
                .ends_with(".aws/credentials")
        );
    }

    #[test]
    fn names_a_missing_user() {
        let err = Account::lookup("no-such-user-cb").unwrap_err();
        assert!(format!("{err:#}").contains("'no-such-user-cb' does not exist"));
    }
}
