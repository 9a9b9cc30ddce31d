//! Reading and editing an AWS shared credentials or config file, byte for byte.
//!
//! This module owns one question and one edit. The question: how do botocore (the AWS
//! CLI's parser: Python's `configparser.RawConfigParser` with default settings, plus
//! botocore's nested-value step) and the Rust AWS SDK (`aws-runtime` `env_config`) read
//! a given file, and would either of them take one of its sections for a given profile?
//! The edit: new file bytes that add, replace or remove exactly one profile section and
//! keep every other byte of the input. Every edit is read back with both models before
//! it is returned. The module does no I/O and never puts file content in an error.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::ops::Range;

use thiserror::Error;

/// The section name configparser turns into defaults for every other section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// Whitespace as the Rust SDK's profile parser defines it.
const SDK_WS: &[char] = &[' ', '\t'];

/// Characters Python's `str.splitlines` breaks on (as single characters).
const PY_LINE_BREAKS: &[char] = &[
    '\n', '\r', '\u{b}', '\u{c}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{85}', '\u{2028}', '\u{2029}',
];

/// Which file: the credentials file (sections are profile names) or the config file
/// (`[default]` and `[profile NAME]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `~/.aws/credentials`: `[NAME]`.
    Credentials,
    /// `~/.aws/config`: `[default]` or `[profile NAME]`.
    Config,
}

/// Why botocore cannot read the file, with the line it fails on (1-based).
///
/// Its display never holds the line's content or any value: the file holds other secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("line {line}: {kind}")]
pub struct ParseError {
    /// 1-based line number, counting lines as Python does (`\n`, `\r\n` and a lone `\r`).
    pub line: usize,
    /// What is wrong there.
    pub kind: ParseErrorKind,
}

/// The kinds of input that make botocore refuse the whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ParseErrorKind {
    /// Bytes that are not UTF-8 (botocore decodes with the locale's encoding, UTF-8 here).
    #[error("the file is not valid utf-8")]
    InvalidUtf8,
    /// A UTF-8 byte order mark: it hides the first section header.
    #[error("the file starts with a byte order mark")]
    ByteOrderMark,
    /// A key or other text before the first section header.
    #[error("text before the first section header")]
    MissingSectionHeader,
    /// A section header whose name appeared before.
    #[error("a section of the same name appears earlier")]
    DuplicateSection,
    /// A key that appeared before in the same section (keys are compared lower-cased).
    #[error("a key of the same name appears earlier in this section")]
    DuplicateKey,
    /// A line that is no header, comment, continuation or `key = value`.
    #[error("the line has no '=' or ':' separator")]
    NoSeparator,
    /// A `= value` line.
    #[error("the key name is empty")]
    EmptyKey,
    /// A value that starts with an empty line (a nested block) and has a line without `=`.
    #[error("a nested value has a line without '='")]
    BadNestedValue,
}

impl ParseErrorKind {
    /// The Python exception botocore wraps in its `ConfigParseError` for this kind.
    pub fn botocore_exception(self) -> &'static str {
        match self {
            Self::InvalidUtf8 => "UnicodeDecodeError",
            Self::ByteOrderMark | Self::MissingSectionHeader => "MissingSectionHeaderError",
            Self::DuplicateSection => "DuplicateSectionError",
            Self::DuplicateKey => "DuplicateOptionError",
            Self::NoSeparator | Self::EmptyKey => "ParsingError",
            Self::BadNestedValue => "ValueError",
        }
    }
}

impl ParseError {
    fn new(line: usize, kind: ParseErrorKind) -> Self {
        Self { line, kind }
    }
}

/// One `key = value` as botocore reads it: key lower-cased, value stripped and joined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    key: String,
    value: String,
    line: usize,
}

/// One section header and the lines botocore gives to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, exactly as botocore reads it (case-sensitive).
    pub name: String,
    /// 1-based line number of the header.
    pub header_line: usize,
    /// Bytes from the start of the header line to the end of the section's last key or
    /// continuation line, that line's ending included. Comments and blank lines after it
    /// are not part of it.
    pub span: Range<usize>,
    entries: Vec<Entry>,
}

impl Section {
    /// The value of `key` in this section itself (no `[DEFAULT]` fallback).
    pub fn get(&self, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// This section's own keys (lower-cased) and values, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
    }

    fn is_defaults(&self) -> bool {
        self.name == DEFAULT_SECTION
    }
}

/// One physical line as Python's universal-newline reader splits it (byte offsets).
#[derive(Debug, Clone, Copy)]
struct LineSpan {
    start: usize,
    end: usize,
    next: usize,
}

/// A file botocore can read: a borrowed view of its bytes and what botocore made of them.
#[derive(Debug)]
pub struct Document<'a> {
    text: &'a str,
    lines: Vec<LineSpan>,
    sections: Vec<Section>,
}

/// What botocore reads: section name → key → value (`[DEFAULT]` folded into the others).
type View = BTreeMap<String, BTreeMap<String, String>>;

/// Reads `bytes` as botocore does, or says on which line and why botocore would fail.
pub fn parse(bytes: &[u8]) -> Result<Document<'_>, ParseError> {
    let lines = split_lines(bytes);
    let text = decode(bytes, &lines)?;
    let mut reader = Reader::default();
    for (index, span) in lines.iter().enumerate() {
        reader.read_line(index + 1, *span, &text[span.start..span.end])?;
    }
    let doc = Document {
        text,
        lines,
        sections: reader.finish()?,
    };
    doc.check_nested()?;
    Ok(doc)
}

/// Splits on `\n`, `\r\n` and a lone `\r`, as Python's text files do.
fn split_lines(bytes: &[u8]) -> Vec<LineSpan> {
    let mut lines = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at < bytes.len() {
        let eol = match (bytes[at], bytes.get(at + 1)) {
            (b'\r', Some(b'\n')) => 2,
            (b'\r' | b'\n', _) => 1,
            _ => 0,
        };
        if eol == 0 {
            at += 1;
            continue;
        }
        lines.push(LineSpan {
            start,
            end: at,
            next: at + eol,
        });
        at += eol;
        start = at;
    }
    if start < bytes.len() {
        lines.push(LineSpan {
            start,
            end: bytes.len(),
            next: bytes.len(),
        });
    }
    lines
}

fn decode<'a>(bytes: &'a [u8], lines: &[LineSpan]) -> Result<&'a str, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.starts_with('\u{feff}') => {
            Err(ParseError::new(1, ParseErrorKind::ByteOrderMark))
        }
        Ok(text) => Ok(text),
        Err(err) => {
            let line = lines.partition_point(|l| l.next <= err.valid_up_to()) + 1;
            Err(ParseError::new(line, ParseErrorKind::InvalidUtf8))
        }
    }
}

/// Python's `str.isspace`: Unicode White_Space plus U+001C..U+001F.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// configparser's state while it reads lines (`_read` in CPython 3.11 to 3.13).
#[derive(Default)]
struct Reader {
    sections: Vec<Section>,
    cur: Option<usize>,
    opt: Option<usize>,
    indent_level: usize,
    seen_sections: HashSet<String>,
    seen_keys: HashSet<(String, String)>,
    soft: Option<ParseError>,
}

impl Reader {
    fn read_line(&mut self, n: usize, span: LineSpan, raw: &str) -> Result<(), ParseError> {
        let clean = py_strip(raw);
        if clean.is_empty() {
            self.blank();
            return Ok(());
        }
        if clean.starts_with(['#', ';']) {
            return Ok(());
        }
        let indent = raw.chars().take_while(|&c| py_space(c)).count();
        if let (Some(cur), Some(opt)) = (self.cur, self.opt)
            && indent > self.indent_level
        {
            self.extend_value(cur, opt, clean, span);
            return Ok(());
        }
        self.indent_level = indent;
        match (header_name(clean), self.cur) {
            (Some(name), _) => self.open_section(n, span, name),
            (None, None) => Err(ParseError::new(n, ParseErrorKind::MissingSectionHeader)),
            (None, Some(cur)) => self.read_option(n, span, clean, cur),
        }
    }

    /// A blank line adds an empty line to the value being read (trailing ones are
    /// stripped at the end).
    fn blank(&mut self) {
        if let (Some(cur), Some(opt)) = (self.cur, self.opt) {
            self.sections[cur].entries[opt].value.push('\n');
        }
    }

    fn extend_value(&mut self, cur: usize, opt: usize, clean: &str, span: LineSpan) {
        let section = &mut self.sections[cur];
        let value = &mut section.entries[opt].value;
        value.push('\n');
        value.push_str(clean);
        section.span.end = span.next;
    }

    fn open_section(&mut self, n: usize, span: LineSpan, name: &str) -> Result<(), ParseError> {
        if name != DEFAULT_SECTION && !self.seen_sections.insert(name.to_owned()) {
            return Err(ParseError::new(n, ParseErrorKind::DuplicateSection));
        }
        self.sections.push(Section {
            name: name.to_owned(),
            header_line: n,
            span: span.start..span.next,
            entries: Vec::new(),
        });
        self.cur = Some(self.sections.len() - 1);
        self.opt = None;
        Ok(())
    }

    fn read_option(
        &mut self,
        n: usize,
        span: LineSpan,
        clean: &str,
        cur: usize,
    ) -> Result<(), ParseError> {
        let Some(at) = clean.find(['=', ':']) else {
            self.soft_error(n, ParseErrorKind::NoSeparator);
            return Ok(());
        };
        if at == 0 {
            self.soft_error(n, ParseErrorKind::EmptyKey);
        }
        let key = clean[..at].trim_end_matches(py_space).to_lowercase();
        let section = &mut self.sections[cur];
        if !self.seen_keys.insert((section.name.clone(), key.clone())) {
            return Err(ParseError::new(n, ParseErrorKind::DuplicateKey));
        }
        let value = py_strip(&clean[at + 1..]).to_owned();
        section.entries.push(Entry {
            key,
            value,
            line: n,
        });
        section.span.end = span.next;
        self.opt = (at > 0).then_some(section.entries.len() - 1);
        Ok(())
    }

    /// configparser keeps reading after these and raises the first one at the end.
    fn soft_error(&mut self, n: usize, kind: ParseErrorKind) {
        self.soft.get_or_insert(ParseError::new(n, kind));
    }

    fn finish(mut self) -> Result<Vec<Section>, ParseError> {
        if let Some(err) = self.soft {
            return Err(err);
        }
        for entry in self.sections.iter_mut().flat_map(|s| s.entries.iter_mut()) {
            let len = entry.value.trim_end_matches(py_space).len();
            entry.value.truncate(len);
        }
        Ok(self.sections)
    }
}

/// configparser's `\[(?P<header>.+)\]` matched at the start: up to the last `]`.
fn header_name(clean: &str) -> Option<&str> {
    let inner = clean.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    (close > 0).then(|| &inner[..close])
}

/// botocore's `_parse_nested` fails on a non-blank line without `=`.
fn nested_ok(value: &str) -> bool {
    value
        .split(PY_LINE_BREAKS)
        .map(py_strip)
        .all(|line| line.is_empty() || line.contains('='))
}

impl Document<'_> {
    /// Every section in file order, `[DEFAULT]` blocks included.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The section botocore knows by exactly this name (never a `[DEFAULT]` block).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|s| !s.is_defaults() && s.name == name)
    }

    /// The value botocore reads for `key` in `section`, `[DEFAULT]` keys included.
    pub fn get(&self, section: &str, key: &str) -> Option<&str> {
        let key = key.to_lowercase();
        let section = self.section(section)?;
        self.effective(section)
            .into_iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// Every key and value botocore reads for `section`, `[DEFAULT]` keys included.
    pub fn items(&self, section: &str) -> Option<Vec<(&str, &str)>> {
        let section = self.section(section)?;
        let entries = self.effective(section);
        Some(
            entries
                .into_iter()
                .map(|e| (e.key.as_str(), e.value.as_str()))
                .collect(),
        )
    }

    /// Header lines of the sections that botocore or the Rust SDK would take for
    /// `profile` in a file of this flavor, sorted.
    pub fn clashes(&self, flavor: Flavor, profile: &str) -> Vec<usize> {
        let botocore = self
            .sections
            .iter()
            .filter(|s| botocore_takes(flavor, &s.name, profile));
        let mut lines: Vec<usize> = botocore.map(|s| s.header_line).collect();
        for (start, line) in sdk_lines(self.text) {
            let name = sdk_header(line).and_then(|raw| sdk_profile_name(raw, flavor));
            if name == Some(profile) {
                lines.push(self.line_number_at(start));
            }
        }
        lines.sort_unstable();
        lines.dedup();
        lines
    }

    /// The line ending the file mostly uses: `"\r\n"` or `"\n"` (`"\n"` on a tie).
    pub fn newline(&self) -> &'static str {
        let crlf = self.text.matches("\r\n").count();
        let lf = self.text.matches('\n').count() - crlf;
        if crlf > lf { "\r\n" } else { "\n" }
    }

    /// A section's own entries, then the `[DEFAULT]` ones it does not override.
    fn effective<'s>(&'s self, section: &'s Section) -> Vec<&'s Entry> {
        let mut entries: Vec<&Entry> = section.entries.iter().collect();
        let defaults = self.sections.iter().filter(|s| s.is_defaults());
        for entry in defaults.flat_map(|s| s.entries.iter()) {
            if section.get(&entry.key).is_none() {
                entries.push(entry);
            }
        }
        entries
    }

    /// botocore turns a value that starts with an empty line into a dict, or fails.
    fn check_nested(&self) -> Result<(), ParseError> {
        for section in self.sections.iter().filter(|s| !s.is_defaults()) {
            let bad = self
                .effective(section)
                .into_iter()
                .find(|e| e.value.starts_with('\n') && !nested_ok(&e.value));
            if let Some(entry) = bad {
                return Err(ParseError::new(entry.line, ParseErrorKind::BadNestedValue));
            }
        }
        Ok(())
    }

    fn view(&self) -> View {
        let profiles = self.sections.iter().filter(|s| !s.is_defaults());
        let read = |s: &Section| {
            let entries = self.effective(s).into_iter();
            entries.map(|e| (e.key.clone(), e.value.clone())).collect()
        };
        profiles.map(|s| (s.name.clone(), read(s))).collect()
    }

    fn line_number_at(&self, start: usize) -> usize {
        self.lines.partition_point(|l| l.start < start) + 1
    }

    /// Where a section starts once the empty line right before it is counted in.
    fn start_with_separator(&self, section: &Section) -> usize {
        let before = section.header_line.checked_sub(2).map(|i| self.lines[i]);
        match before {
            Some(line) if line.start == line.end => line.start,
            _ => section.span.start,
        }
    }
}

/// The header name we write: `NAME`, or `profile NAME` (`default` stays) in a config file.
fn our_section_name(flavor: Flavor, profile: &str) -> String {
    match flavor {
        Flavor::Config if profile != "default" => format!("profile {profile}"),
        _ => profile.to_owned(),
    }
}

/// Would botocore take section `name` for `profile`? The config file maps
/// `[profile X]` through `shlex.split` and keeps any two-word name starting "profile".
fn botocore_takes(flavor: Flavor, name: &str, profile: &str) -> bool {
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
fn shlex_split(s: &str) -> Option<Vec<String>> {
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

fn shlex_single_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Option<()> {
    loop {
        match chars.next()? {
            '\'' => return Some(()),
            c => word.push(c),
        }
    }
}

/// Inside double quotes a backslash escapes only `"` and `\`; before anything else it stays.
fn shlex_double_quoted(chars: &mut std::str::Chars<'_>, word: &mut String) -> Option<()> {
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

/// The lines the Rust SDK reads (`str::lines`), each with its byte offset.
fn sdk_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
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
fn sdk_prepare(line: &str, comments_need_whitespace: bool) -> &str {
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
fn sdk_header(line: &str) -> Option<&str> {
    if !line.starts_with('[') {
        return None;
    }
    sdk_prepare(line, false)
        .strip_prefix('[')?
        .strip_suffix(']')
}

/// The SDK's split of a raw section name into an optional prefix and a name.
fn sdk_section_pair(raw: &str) -> (Option<&str>, &str) {
    let input = raw.trim_matches(SDK_WS);
    match input.split_once(SDK_WS) {
        Some((prefix, suffix)) => (Some(prefix.trim()), suffix.trim()),
        None => (None, input.trim()),
    }
}

/// The SDK's identifier rule for profile names and keys.
fn sdk_identifier(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c))
}

/// The profile the SDK makes of a raw section name in a file of this flavor, if any.
fn sdk_profile_name(raw: &str, flavor: Flavor) -> Option<&str> {
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
fn sdk_property(line: &str) -> Option<(String, &str)> {
    let (key, value) = sdk_prepare(line, true).split_once('=')?;
    let key = key.trim_matches(SDK_WS);
    (!key.is_empty()).then(|| (key.to_ascii_lowercase(), value.trim_matches(SDK_WS)))
}

/// Raw sections (by raw name, merged) as the Rust SDK's line parser collects them.
type SdkRaw<'t> = Vec<(&'t str, Vec<(String, String)>)>;

/// The Rust SDK's line parser state.
#[derive(Default)]
struct SdkParser<'t> {
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
fn sdk_read(text: &str, flavor: Flavor) -> Result<View, usize> {
    let mut parser = SdkParser::default();
    for (index, (_, line)) in sdk_lines(text).enumerate() {
        parser.line(line).ok_or(index + 1)?;
    }
    Ok(sdk_normalize(&parser.raw, flavor))
}

fn sdk_normalize(raw: &SdkRaw<'_>, flavor: Flavor) -> View {
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
/// Every input byte is kept. The section (`[profile]`, or `[profile NAME]` in a config
/// file, where `[default]` stays `[default]`) is appended: after a line ending if the
/// input lacks a final one, then one empty line if the input is not empty; header and
/// `key = value` lines start in column 0 and end with the file's line ending.
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

fn check_request(profile: &str, entries: &[(&str, &str)]) -> Result<(), PlantError> {
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
fn check_defaults(doc: &Document<'_>, entries: &[(&str, &str)]) -> Result<(), PlantError> {
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

fn section_text(flavor: Flavor, profile: &str, entries: &[(&str, &str)], nl: &str) -> String {
    let mut text = format!("[{}]{nl}", our_section_name(flavor, profile));
    for (key, value) in entries {
        let _ = write!(text, "{key} = {value}{nl}");
    }
    text
}

fn append(bytes: &[u8], doc: &Document<'_>, block: &str) -> Vec<u8> {
    let nl = doc.newline().as_bytes();
    let mut out = bytes.to_vec();
    if !bytes.is_empty() {
        if !bytes.ends_with(b"\n") && !bytes.ends_with(b"\r") {
            out.extend_from_slice(nl);
        }
        // After a lone CR, an LF would join it into one CRLF: the Rust SDK would then read
        // the last line without its CR, and botocore would lose the empty line.
        let lone_cr = bytes.ends_with(b"\r");
        out.extend_from_slice(if lone_cr { b"\r\n" } else { nl });
    }
    out.extend_from_slice(block.as_bytes());
    out
}

fn splice(bytes: &[u8], cut: Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + with.len());
    out.extend_from_slice(&bytes[..cut.start]);
    out.extend_from_slice(with);
    out.extend_from_slice(&bytes[cut.end..]);
    out
}

/// The section at `line`, if it is ours by exact name and `replace` says it is ours.
fn replaceable<'d>(
    doc: &'d Document<'_>,
    flavor: Flavor,
    profile: &str,
    line: usize,
    replace: Option<&dyn Fn(&Section) -> bool>,
) -> Option<&'d Section> {
    let section = doc.section(&our_section_name(flavor, profile))?;
    (section.header_line == line && replace?(section)).then_some(section)
}

fn entries_map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
    entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// botocore reads every old section as before plus ours with exactly `entries`; only our
/// section is taken for the profile; where the SDK read the input, it reads the output
/// the same way plus our profile.
fn verify_plant(
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
fn verify_removal(
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
