//! Section names: what we write, and which sections botocore takes for a profile (with
//! the config file's `shlex.split` of `[profile NAME]`).

use super::*;

/// The header name we write: `NAME`, or `profile NAME` (`default` stays) in a config file.
pub(super) fn our_section_name(flavor: Flavor, profile: &str) -> String {
    match flavor {
        Flavor::Config if profile != "default" => format!("profile {profile}"),
        _ => profile.to_owned(),
    }
}

/// Would botocore take section `name` for `profile`? The config file maps
/// `[profile X]` through `shlex.split` and keeps any two-word name starting "profile".
pub(super) fn botocore_takes(flavor: Flavor, name: &str, profile: &str) -> bool {
    if name == our_section_name(flavor, profile) {
        return true;
    }
    match flavor {
        Flavor::Credentials => false,
        Flavor::Config if name == "default" => profile == "default",
        Flavor::Config => {
            name.starts_with("profile")
                && matches!(shlex_split(name).as_deref(), Some([_, p]) if p == profile)
        }
    }
}

/// Python's `shlex.split(s)` (POSIX mode, no comments); `None` where it raises.
pub(super) fn shlex_split(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            words.extend(word.take());
            continue;
        }
        let word = word.get_or_insert_with(String::new);
        match c {
            '\\' => word.push(chars.next()?),
            '\'' => shlex_single_quoted(&mut chars, word)?,
            '"' => shlex_double_quoted(&mut chars, word)?,
            _ => word.push(c),
        }
    }
    words.extend(word);
    Some(words)
}

pub(super) fn shlex_single_quoted(
    chars: &mut std::str::Chars<'_>,
    word: &mut String,
) -> Option<()> {
    loop {
        match chars.next()? {
            '\'' => return Some(()),
            c => word.push(c),
        }
    }
}

/// Inside double quotes a backslash escapes only `"` and `\`; before anything else it stays.
pub(super) fn shlex_double_quoted(
    chars: &mut std::str::Chars<'_>,
    word: &mut String,
) -> Option<()> {
    loop {
        match chars.next()? {
            '"' => return Some(()),
            '\\' => {
                let c = chars.next()?;
                if !matches!(c, '"' | '\\') {
                    word.push('\\');
                }
                word.push(c);
            }
            c => word.push(c),
        }
    }
}
