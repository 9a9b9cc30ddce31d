//! The edit: new file bytes that add, replace or remove exactly one profile section, read
//! back with both parser models before they are returned.

use super::*;

/// Why the agent's section was not written or removed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PlantError {
    /// botocore cannot read the file as it is; it is left alone.
    #[error("botocore cannot read the file: {0}")]
    Unreadable(ParseError),
    /// A section there would be taken for the profile and is not the agent's own.
    #[error("line {line}: a section there would be taken for this profile")]
    Clash {
        /// Header line of the first such section.
        line: usize,
    },
    /// A `[DEFAULT]` section would lend keys to the new profile in botocore.
    #[error("line {line}: a [DEFAULT] section would add keys to the new profile")]
    InheritsDefaults {
        /// Header line of the `[DEFAULT]` section.
        line: usize,
    },
    /// The profile name is not one we may write (see [`valid_profile_name`]).
    #[error("the profile name is not one the agent may write")]
    BadName,
    /// A key is not one we may write (see [`valid_key`]) or appears twice.
    #[error("a key name is not one the agent may write")]
    BadKey,
    /// A value is not one we may write (see [`valid_value`]).
    #[error("a value is not one the agent may write")]
    BadValue,
    /// The new bytes did not read back as intended in botocore or the Rust SDK.
    #[error("the edited file would not read back as intended")]
    Unverified,
}

/// New file bytes with the profile's section holding exactly `entries`.
///
/// Every input byte is kept. The section (`[NAME]`, or `[profile NAME]` in a config file,
/// where `[default]` stays `[default]`) is appended: after a line ending if the input
/// lacks a final one, then one empty line if the input is not empty (a file ending in a
/// lone CR gets a CRLF one); header and `key = value` lines start in column 0 and end
/// with the file's line ending ([`Document::newline`]).
///
/// If `replace` is given, the one section that either parser would take for the profile
/// is the agent's own by name, and `replace` says yes to it, its lines are replaced in
/// place instead. Any other section either parser would take for the profile is a
/// [`PlantError::Clash`]. The result is read back with both parsers before it is returned.
pub fn plant(
    bytes: &[u8],
    flavor: Flavor,
    profile: &str,
    entries: &[(&str, &str)],
    replace: Option<&dyn Fn(&Section) -> bool>,
) -> Result<Vec<u8>, PlantError> {
    check_request(profile, entries)?;
    let doc = parse(bytes).map_err(PlantError::Unreadable)?;
    check_defaults(&doc, entries)?;
    let block = section_text(flavor, profile, entries, doc.newline());
    let out = match doc.clashes(flavor, profile).as_slice() {
        [] => append(bytes, &doc, &block),
        [line] => {
            let own = replaceable(&doc, flavor, profile, *line, replace);
            let section = own.ok_or(PlantError::Clash { line: *line })?;
            splice(bytes, section.span.clone(), block.as_bytes())
        }
        [line, ..] => return Err(PlantError::Clash { line: *line }),
    };
    verify_plant(&doc, &out, flavor, profile, entries)?;
    Ok(out)
}

/// The agent's own section without the empty line the agent put before it; `Ok(None)`
/// when the file has no section of the profile's name. A section of that name that `own`
/// says no to is a [`PlantError::Clash`]. Every other byte is kept.
pub fn remove(
    bytes: &[u8],
    flavor: Flavor,
    profile: &str,
    own: &dyn Fn(&Section) -> bool,
) -> Result<Option<Vec<u8>>, PlantError> {
    if !valid_profile_name(profile) {
        return Err(PlantError::BadName);
    }
    let doc = parse(bytes).map_err(PlantError::Unreadable)?;
    let name = our_section_name(flavor, profile);
    let Some(section) = doc.section(&name) else {
        return Ok(None);
    };
    if !own(section) {
        return Err(PlantError::Clash {
            line: section.header_line,
        });
    }
    let cut = doc.start_with_separator(section)..section.span.end;
    let out = splice(bytes, cut, b"");
    verify_removal(&doc, &out, flavor, profile)?;
    Ok(Some(out))
}

/// Profile names we may write: the Rust SDK's identifier characters
/// (`[A-Za-z0-9_\-./%@:+]`), 1 to 64 of them, and not `DEFAULT` (configparser's defaults).
pub fn valid_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name != DEFAULT_SECTION && sdk_identifier(name)
}

/// Keys we may write: 1 to 64 of `[a-z0-9_]` (botocore lower-cases keys; the SDK
/// accepts these).
pub fn valid_key(key: &str) -> bool {
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    (1..=64).contains(&key.len()) && key.bytes().all(allowed)
}

/// Values we may write: non-empty printable ASCII without whitespace, not starting with
/// `#` or `;` (the SDK would read those as a comment).
pub fn valid_value(value: &str) -> bool {
    let printable = value.bytes().all(|b| (b'!'..=b'~').contains(&b));
    !value.is_empty() && printable && !value.starts_with(['#', ';'])
}

pub(super) fn check_request(profile: &str, entries: &[(&str, &str)]) -> Result<(), PlantError> {
    if !valid_profile_name(profile) {
        return Err(PlantError::BadName);
    }
    let mut keys = HashSet::new();
    if !entries
        .iter()
        .all(|(key, _)| valid_key(key) && keys.insert(*key))
    {
        return Err(PlantError::BadKey);
    }
    if !entries.iter().all(|(_, value)| valid_value(value)) {
        return Err(PlantError::BadValue);
    }
    Ok(())
}

/// botocore gives every section the `[DEFAULT]` keys it does not set itself.
pub(super) fn check_defaults(
    doc: &Document<'_>,
    entries: &[(&str, &str)],
) -> Result<(), PlantError> {
    let ours = |key: &str| entries.iter().any(|(k, _)| *k == key);
    let defaults = doc.sections.iter().filter(|s| s.is_defaults());
    match defaults
        .into_iter()
        .find(|s| s.entries.iter().any(|e| !ours(&e.key)))
    {
        Some(section) => Err(PlantError::InheritsDefaults {
            line: section.header_line,
        }),
        None => Ok(()),
    }
}

pub(super) fn section_text(
    flavor: Flavor,
    profile: &str,
    entries: &[(&str, &str)],
    nl: &str,
) -> String {
    let mut text = format!("[{}]{nl}", our_section_name(flavor, profile));
    for (key, value) in entries {
        let _ = write!(text, "{key} = {value}{nl}");
    }
    text
}

pub(super) fn append(bytes: &[u8], doc: &Document<'_>, block: &str) -> Vec<u8> {
    let nl = doc.newline().as_bytes();
    let mut out = bytes.to_vec();
    match bytes.last() {
        None => {}
        Some(b'\n') => out.extend_from_slice(nl),
        // A lone CR ends Python's line; a LF right after it would change the SDK's line.
        Some(b'\r') => out.extend_from_slice(b"\r\n"),
        Some(_) => out.extend_from_slice(&[nl, nl].concat()),
    }
    out.extend_from_slice(block.as_bytes());
    out
}

pub(super) fn splice(bytes: &[u8], cut: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + with.len());
    out.extend_from_slice(&bytes[..cut.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&bytes[cut.end..]);
    out
}

/// The section at `line`, if it is ours by exact name and `replace` says it is ours.
pub(super) fn replaceable<'d>(
    doc: &'d Document<'_>,
    flavor: Flavor,
    profile: &str,
    line: usize,
    replace: Option<&dyn Fn(&Section) -> bool>,
) -> Option<&'d Section> {
    let section = doc.section(&our_section_name(flavor, profile))?;
    (section.header_line == line && replace?(section)).then_some(section)
}

pub(super) fn entries_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// botocore reads every old section as before plus ours with exactly `entries`; only our
/// section is taken for the profile; where the SDK read the input, it reads the output
/// the same way plus our profile.
pub(super) fn verify_plant(
    before: &Document<'_>,
    out: &[u8],
    flavor: Flavor,
    profile: &str,
    entries: &[(&str, &str)],
) -> Result<(), PlantError> {
    let after = parse(out).map_err(|_| PlantError::Unverified)?;
    let mut expected = before.view();
    expected.insert(our_section_name(flavor, profile), entries_map(entries));
    let single = after.clashes(flavor, profile).len() == 1;
    if after.view() != expected || !single {
        return Err(PlantError::Unverified);
    }
    let Ok(mut sdk_expected) = sdk_read(before.text, flavor) else {
        return Ok(());
    };
    sdk_expected.insert(profile.to_owned(), entries_map(entries));
    match sdk_read(after.text, flavor) {
        Ok(sdk_after) if sdk_after == sdk_expected => Ok(()),
        _ => Err(PlantError::Unverified),
    }
}

/// Both parsers read every other section as before, and botocore no longer has ours.
pub(super) fn verify_removal(
    before: &Document<'_>,
    out: &[u8],
    flavor: Flavor,
    profile: &str,
) -> Result<(), PlantError> {
    let after = parse(out).map_err(|_| PlantError::Unverified)?;
    let mut expected = before.view();
    expected.remove(&our_section_name(flavor, profile));
    if after.view() != expected {
        return Err(PlantError::Unverified);
    }
    let Ok(mut sdk_expected) = sdk_read(before.text, flavor) else {
        return Ok(());
    };
    let mut sdk_after = sdk_read(after.text, flavor).map_err(|_| PlantError::Unverified)?;
    sdk_expected.remove(profile);
    sdk_after.remove(profile);
    if sdk_after != sdk_expected {
        return Err(PlantError::Unverified);
    }
    Ok(())
}
