//! A model of the Rust AWS SDK's profile parser (`aws-runtime` `env_config`): which
//! sections it reads and what it makes of them, for clash checks and verification.

use super::*;

/// The lines the Rust SDK reads (`str::lines`), each with its byte offset.
pub(super) fn sdk_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |at, piece| {
        let start = *at;
        *at += piece.len();
        let line = match piece.strip_suffix('\n') {
            Some(line) => line.strip_suffix('\r').unwrap_or(line),
            None => piece,
        };
        Some((start, line))
    })
}

/// The SDK's `prepare_line`: trim, cut a comment, trim again.
pub(super) fn sdk_prepare(line: &str, comments_need_whitespace: bool) -> &str {
    let line = line.trim_matches(SDK_WS);
    let mut prev_whitespace = false;
    let comment = line.char_indices().find(|&(_, c)| {
        let hit = matches!(c, '#' | ';') && (prev_whitespace || !comments_need_whitespace);
        prev_whitespace = c.is_whitespace();
        hit
    });
    line[..comment.map_or(line.len(), |(at, _)| at)].trim_matches(SDK_WS)
}

/// The raw name in an SDK header line (`[` in column 0), if the SDK accepts the line.
pub(super) fn sdk_header(line: &str) -> Option<&str> {
    if !line.starts_with('[') {
        return None;
    }
    sdk_prepare(line, false)
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// The SDK's split of a raw section name into an optional prefix and a name.
pub(super) fn sdk_section_pair(raw: &str) -> (Option<&str>, &str) {
    let input = raw.trim_matches(SDK_WS);
    match input.split_once(SDK_WS) {
        Some((prefix, suffix)) => (Some(prefix.trim()), suffix.trim()),
        None => (None, input.trim()),
    }
}

/// The SDK's identifier rule for profile names and keys.
pub(super) fn sdk_identifier(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

/// The profile the SDK makes of a raw section name in a file of this flavor, if any.
pub(super) fn sdk_profile_name(raw: &str, flavor: Flavor) -> Option<&str> {
    let (prefix, name) = sdk_section_pair(raw);
    if !sdk_identifier(name) {
        return None;
    }
    match (flavor, prefix) {
        (Flavor::Credentials, None) | (Flavor::Config, Some("profile")) => Some(name),
        (Flavor::Config, None) if name == "default" => Some(name),
        _ => None,
    }
}

/// The SDK's `parse_property_line`: `(lower-cased key, value)`, or `None` where it fails.
pub(super) fn sdk_property(line: &str) -> Option<(String, &str)> {
    let (key, value) = sdk_prepare(line, true).split_once('=')?;
    let key = key.trim_matches(SDK_WS);
    (!key.is_empty()).then(|| (key.to_ascii_lowercase(), value.trim_matches(SDK_WS)))
}

/// Raw sections (by raw name, merged) as the Rust SDK's line parser collects them.
pub(super) type SdkRaw<'t> = Vec<(&'t str, Vec<(String, String)>)>;

/// The Rust SDK's line parser state.
#[derive(Default)]
pub(super) struct SdkParser<'t> {
    raw: SdkRaw<'t>,
    cur: Option<usize>,
    prop: Option<(usize, bool)>,
}

impl<'t> SdkParser<'t> {
    fn line(&mut self, line: &'t str) -> Option<()> {
        if line.trim_matches(SDK_WS).is_empty() || line.starts_with(['#', ';']) {
            return Some(());
        }
        if line.starts_with('[') {
            return self.header(line);
        }
        if line.starts_with(SDK_WS) {
            return self.continuation(line);
        }
        self.property(line)
    }

    fn header(&mut self, line: &'t str) -> Option<()> {
        let name = sdk_header(line)?;
        let index = self
            .raw
            .iter()
            .position(|(n, _)| *n == name)
            .unwrap_or_else(|| {
                self.raw.push((name, Vec::new()));
                self.raw.len() - 1
            });
        self.cur = Some(index);
        self.prop = None;
        Some(())
    }

    fn property(&mut self, line: &str) -> Option<()> {
        let props = &mut self.raw[self.cur?].1;
        let (key, value) = sdk_property(line)?;
        let index = props
            .iter()
            .position(|(k, _)| *k == key)
            .unwrap_or_else(|| {
                props.push((key, String::new()));
                props.len() - 1
            });
        props[index].1 = value.to_owned();
        self.prop = Some((index, value.is_empty()));
        Some(())
    }

    fn continuation(&mut self, line: &str) -> Option<()> {
        let (cur, (index, sub)) = (self.cur?, self.prop?);
        if sub {
            sdk_property(line)?;
        }
        let value = &mut self.raw[cur].1[index].1;
        value.push('\n');
        value.push_str(line.trim_matches(SDK_WS));
        Some(())
    }
}

/// What the Rust SDK reads: profile → key → value, or the SDK line number it fails on.
/// Sections that normalize to one profile merge in file order (the SDK's order is a
/// `HashMap`'s).
pub(super) fn sdk_read(text: &str, flavor: Flavor) -> Result<View, usize> {
    let mut parser = SdkParser::default();
    for (index, (_, line)) in sdk_lines(text).enumerate() {
        parser.line(line).ok_or(index + 1)?;
    }
    Ok(sdk_normalize(&parser.raw, flavor))
}

pub(super) fn sdk_normalize(raw: &SdkRaw<'_>, flavor: Flavor) -> View {
    let prefixed_default = |name: &str| sdk_section_pair(name) == (Some("profile"), "default");
    let skip_plain_default =
        flavor == Flavor::Config && raw.iter().any(|(name, _)| prefixed_default(name));
    let mut view = View::new();
    for (name, props) in raw {
        let Some(profile) = sdk_profile_name(name, flavor) else {
            continue;
        };
        if skip_plain_default && profile == "default" && !prefixed_default(name) {
            continue;
        }
        let entry = view.entry(profile.to_owned()).or_default();
        for (key, value) in props.iter().filter(|(key, _)| sdk_identifier(key)) {
            entry.insert(key.clone(), value.clone());
        }
    }
    view
}
