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
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::str::Utf8Error;

use thiserror::Error;

/// The section name configparser turns into defaults for every other section.
pub const DEFAULT_SECTION: &str = "DEFAULT";

/// The size of the chunks Python's text files decode at a time.
const PY_CHUNK: usize = 8192;

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
#[derive(Clone, PartialEq, Eq)]
struct Entry {
    key: String,
    value: String,
    line: usize,
}

/// One section header and the lines botocore gives to it. Its `Debug` shows keys, not
/// values.
#[derive(Clone, PartialEq, Eq)]
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

impl fmt::Debug for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self.entries.iter().map(|e| e.key.as_str()).collect();
        f.debug_struct("Section")
            .field("name", &self.name)
            .field("header_line", &self.header_line)
            .field("span", &self.span)
            .field("keys", &keys)
            .finish()
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
/// Its `Debug` shows sections and keys, never the text or a value.
pub struct Document<'a> {
    text: &'a str,
    lines: Vec<LineSpan>,
    sections: Vec<Section>,
}

impl fmt::Debug for Document<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Document")
            .field("lines", &self.lines.len())
            .field("sections", &self.sections)
            .finish()
    }
}

/// What botocore reads: section name → key → value (`[DEFAULT]` folded into the others).
type View = BTreeMap<String, BTreeMap<String, String>>;

/// Reads `bytes` as botocore does, or says on which line and why botocore would fail.
pub fn parse(bytes: &[u8]) -> Result<Document<'_>, ParseError> {
    let lines = split_lines(bytes);
    let text = std::str::from_utf8(bytes).map_err(|err| decode_failure(bytes, &lines, err))?;
    let mut reader = Reader::default();
    reader.read_lines(text, &lines)?;
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

/// The error botocore meets first in a file that is not UTF-8. Python decodes 8 KiB
/// chunks as it reads lines (an incomplete sequence at the very end only at the end of
/// the file), so the lines it could decode before are read first, and an error that stops
/// reading at once there wins.
fn decode_failure(bytes: &[u8], lines: &[LineSpan], err: Utf8Error) -> ParseError {
    let bad = err.valid_up_to();
    let end = decoded_before_failure(bytes, &err);
    let held_cr = |l: &LineSpan| l.next == end && bytes[l.end..l.next] == *b"\r";
    let mut readable = &lines[..lines.partition_point(|l| l.next <= end)];
    if readable.last().is_some_and(held_cr) {
        readable = &readable[..readable.len() - 1];
    }
    let text = std::str::from_utf8(&bytes[..bad]).unwrap_or_default();
    match Reader::default().read_lines(text, readable) {
        Err(first) => first,
        Ok(()) => {
            let line = lines.partition_point(|l| l.next <= bad) + 1;
            ParseError::new(line, ParseErrorKind::InvalidUtf8)
        }
    }
}

/// How many bytes Python has decoded (and could split into lines) when it raises.
fn decoded_before_failure(bytes: &[u8], err: &Utf8Error) -> usize {
    let bad = err.valid_up_to();
    let Some(len) = err.error_len() else {
        return bad;
    };
    let detected = if (0xC2..=0xF4).contains(&bytes[bad]) {
        bad + len
    } else {
        bad
    };
    bad.min(detected / PY_CHUNK * PY_CHUNK)
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
    fn read_lines(&mut self, text: &str, lines: &[LineSpan]) -> Result<(), ParseError> {
        for (index, span) in lines.iter().enumerate() {
            self.read_line(index + 1, *span, &text[span.start..span.end])?;
        }
        Ok(())
    }

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
            (None, None) if n == 1 && raw.starts_with('\u{feff}') => {
                Err(ParseError::new(n, ParseErrorKind::ByteOrderMark))
            }
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
            if !section.entries.iter().any(|own| own.key == entry.key) {
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

#[cfg(test)]
mod tests {
    use super::*;

    const PAIR: [(&str, &str); 2] = [
        ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
        (
            "aws_secret_access_key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ),
    ];
    const NAME: &str = "canary-ops";

    fn err(input: &[u8]) -> (ParseErrorKind, usize) {
        let e = parse(input).expect_err("botocore fails on this input");
        (e.kind, e.line)
    }

    fn plant_cred(input: &[u8]) -> Result<Vec<u8>, PlantError> {
        plant(input, Flavor::Credentials, NAME, &PAIR, None)
    }

    fn ours(section: &Section) -> bool {
        section.get("aws_access_key_id") == Some(PAIR[0].1)
    }

    const TAIL: &str = "[canary-ops]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n\
                        aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n";

    #[test]
    fn reads_sections_keys_and_values() {
        let doc = parse(b"[default]\nk = v\n\n[honey]\nAWS_Key : a=b:c \n").unwrap();
        let names: Vec<_> = doc.sections().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["default", "honey"]);
        assert_eq!(doc.get("default", "k"), Some("v"));
        assert_eq!(doc.get("honey", "aws_key"), Some("a=b:c"));
        assert_eq!(doc.get("honey", "AWS_KEY"), Some("a=b:c"));
        assert_eq!(doc.get("Honey", "aws_key"), None);
    }

    #[test]
    fn keeps_inline_comment_text_in_values() {
        let doc = parse(b"[a] # header note\nk = v # not a comment\nj = w;x\n").unwrap();
        assert_eq!(doc.sections()[0].name, "a");
        assert_eq!(doc.get("a", "k"), Some("v # not a comment"));
        assert_eq!(doc.get("a", "j"), Some("w;x"));
    }

    #[test]
    fn skips_comment_lines_at_any_indentation() {
        let doc = parse(b"# top\n[a]\nk = v\n    # indented\n  ; also\nj = w\n").unwrap();
        assert_eq!(doc.items("a").unwrap(), [("k", "v"), ("j", "w")]);
    }

    #[test]
    fn joins_deeper_indented_lines_into_the_value() {
        let doc = parse(b"[a]\ns3 =\n    x = 1\n\n    y = 2\n\n\nk = v\n").unwrap();
        assert_eq!(doc.get("a", "s3"), Some("\nx = 1\n\ny = 2"));
        assert_eq!(doc.get("a", "k"), Some("v"));
    }

    #[test]
    fn swallows_a_header_indented_deeper_than_the_key() {
        let doc = parse(b"  [a]\nk = v\n\n   [b]\nj = w\n").unwrap();
        assert_eq!(doc.get("a", "k"), Some("v\n\n[b]"));
        assert_eq!(doc.get("a", "j"), Some("w"));
        assert!(doc.section("b").is_none());
    }

    #[test]
    fn header_name_runs_to_the_last_closing_bracket() {
        let doc = parse(b"[honey]extra\n[a]b]\n[]]\n").unwrap();
        let names: Vec<_> = doc.sections().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["honey", "a]b", "]"]);
    }

    #[test]
    fn refuses_empty_or_unterminated_header() {
        assert_eq!(err(b"[a]\n[]\n[broken\n"), (ParseErrorKind::NoSeparator, 2));
    }

    #[test]
    fn refuses_key_before_first_section() {
        assert_eq!(
            err(b"# c\nk = v\n[a]\n"),
            (ParseErrorKind::MissingSectionHeader, 2)
        );
    }

    #[test]
    fn refuses_byte_order_mark() {
        assert_eq!(
            err(b"\xef\xbb\xbf[a]\nk = v\n"),
            (ParseErrorKind::ByteOrderMark, 1)
        );
    }

    #[test]
    fn refuses_duplicate_section() {
        assert_eq!(
            err(b"[a]\n[b]\n[a]\n"),
            (ParseErrorKind::DuplicateSection, 3)
        );
    }

    #[test]
    fn refuses_duplicate_key_case_insensitively() {
        assert_eq!(
            err(b"[a]\nKey = 1\nkEY: 2\n"),
            (ParseErrorKind::DuplicateKey, 3)
        );
    }

    #[test]
    fn refuses_line_without_separator() {
        assert_eq!(
            err(b"[a]\nk = v\ngarbage\nmore garbage\n"),
            (ParseErrorKind::NoSeparator, 3)
        );
    }

    #[test]
    fn refuses_empty_key_name() {
        assert_eq!(err(b"[a]\n= v\n"), (ParseErrorKind::EmptyKey, 2));
    }

    #[test]
    fn duplicate_errors_win_over_earlier_bad_lines() {
        assert_eq!(
            err(b"[a]\ngarbage\n[a]\n"),
            (ParseErrorKind::DuplicateSection, 3)
        );
    }

    #[test]
    fn allows_repeated_default_sections_but_not_repeated_keys_in_them() {
        let doc = parse(b"[DEFAULT]\nx = 1\n[a]\n[DEFAULT]\ny = 2\n").unwrap();
        assert_eq!(doc.items("a").unwrap(), [("x", "1"), ("y", "2")]);
        assert_eq!(
            err(b"[DEFAULT]\nx = 1\n[DEFAULT]\nX = 2\n"),
            (ParseErrorKind::DuplicateKey, 4)
        );
    }

    #[test]
    fn default_keys_reach_every_section_unless_overridden() {
        let doc = parse(b"[DEFAULT]\nregion = eu\nk = d\n[a]\nk = v\n").unwrap();
        assert_eq!(doc.get("a", "region"), Some("eu"));
        assert_eq!(doc.get("a", "k"), Some("v"));
        assert_eq!(doc.get("DEFAULT", "k"), None);
    }

    #[test]
    fn refuses_invalid_utf8_naming_its_line() {
        assert_eq!(
            err(b"[a]\n# caf\xe9 au lait\n"),
            (ParseErrorKind::InvalidUtf8, 2)
        );
    }

    #[test]
    fn reads_lines_before_an_incomplete_sequence_at_the_end() {
        assert_eq!(
            err(b"[a]\n[a]\nk = \xe2\x80"),
            (ParseErrorKind::DuplicateSection, 2)
        );
        assert_eq!(
            err(b"[a]\ngarbage\nk = \xe2\x80"),
            (ParseErrorKind::InvalidUtf8, 3)
        );
    }

    #[test]
    fn invalid_utf8_in_a_later_chunk_lets_earlier_errors_win() {
        let mut input = b"[a]\n[a]\n".to_vec();
        input.extend(b"# padding\n".repeat(PY_CHUNK / 10 + 1));
        input.extend(b"k = \xe9\n");
        assert_eq!(err(&input), (ParseErrorKind::DuplicateSection, 2));
        input.splice(0..8, b"[a]\n[b]\n".iter().copied());
        assert_eq!(err(&input).0, ParseErrorKind::InvalidUtf8);
    }

    #[test]
    fn splits_lines_on_lone_cr_but_not_on_vertical_tab() {
        let doc = parse(b"[a]\rk = v\r\nj = w\x0bx\n").unwrap();
        assert_eq!(doc.items("a").unwrap(), [("k", "v"), ("j", "w\u{b}x")]);
    }

    #[test]
    fn refuses_nested_value_with_a_line_without_equals() {
        assert_eq!(
            err(b"[a]\nk = v\ns3 =\n  x = 1\n  oops\n"),
            (ParseErrorKind::BadNestedValue, 3)
        );
        assert!(parse(b"[a]\nk = v\n  oops\n").is_ok());
    }

    #[test]
    fn error_display_names_the_line_not_its_content() {
        let e = parse(b"[a]\nsecret-without-separator\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: the line has no '=' or ':' separator"
        );
    }

    #[test]
    fn section_span_ends_after_its_last_key_line() {
        let input = b"[a]\nk = v\n  more\n# after\n\n[b]\nj = w";
        let doc = parse(input).unwrap();
        assert_eq!(
            &input[doc.sections()[0].span.clone()],
            b"[a]\nk = v\n  more\n"
        );
        assert_eq!(&input[doc.sections()[1].span.clone()], b"[b]\nj = w");
    }

    #[test]
    fn newline_follows_the_majority() {
        assert_eq!(parse(b"").unwrap().newline(), "\n");
        assert_eq!(parse(b"[a]\r\nk = v\r\n\n").unwrap().newline(), "\r\n");
        assert_eq!(parse(b"[a]\r\nk = v\n").unwrap().newline(), "\n");
    }

    #[test]
    fn clashes_with_exact_and_sdk_trimmed_names() {
        let doc = parse(b"[canary-ops]\n[ canary-ops ]\n[Canary-ops]\n").unwrap();
        assert_eq!(doc.clashes(Flavor::Credentials, NAME), [1, 2]);
    }

    #[test]
    fn clashes_with_sdk_name_after_a_header_comment() {
        let doc = parse(b"[canary-ops] ;x]\n").unwrap();
        assert_eq!(doc.sections()[0].name, "canary-ops] ;x");
        assert_eq!(doc.clashes(Flavor::Credentials, NAME), [1]);
    }

    #[test]
    fn profile_prefix_in_credentials_file_is_no_clash() {
        let doc = parse(b"[profile canary-ops]\n[sso-session canary-ops]\n").unwrap();
        assert!(doc.clashes(Flavor::Credentials, NAME).is_empty());
    }

    #[test]
    fn config_clashes_through_shlex_and_sdk_prefix() {
        let input = b"[profile \"canary-ops\"]\n[profilex canary-ops]\n[profile\tcanary-ops]\n\
                      [canary-ops]\n[sso-session canary-ops]\n";
        assert_eq!(
            parse(input).unwrap().clashes(Flavor::Config, NAME),
            [1, 2, 3]
        );
    }

    #[test]
    fn config_default_clashes_with_profile_default() {
        let doc = parse(b"[profile default]\n[default]\n").unwrap();
        assert_eq!(doc.clashes(Flavor::Config, "default"), [1, 2]);
        assert_eq!(doc.clashes(Flavor::Credentials, "default"), [2]);
    }

    #[test]
    fn shlex_split_follows_python() {
        let split = |s| shlex_split(s).map(|w| w.join("|"));
        assert_eq!(split("profile  \"a b\"c").as_deref(), Some("profile|a bc"));
        assert_eq!(
            split("profile 'a\\b' \"x\\\"y\\z\"").as_deref(),
            Some("profile|a\\b|x\"y\\z")
        );
        assert_eq!(split("profile '' a\\ b").as_deref(), Some("profile||a b"));
        assert_eq!(split("profile \"open"), None);
        assert_eq!(split("profile end\\"), None);
    }

    #[test]
    fn appends_after_one_blank_line() {
        let out = plant_cred(b"[a]\nk = v\n").unwrap();
        assert_eq!(out, format!("[a]\nk = v\n\n{TAIL}").into_bytes());
    }

    #[test]
    fn adds_a_missing_final_newline_first() {
        let out = plant_cred(b"[a]\nk = v").unwrap();
        assert_eq!(out, format!("[a]\nk = v\n\n{TAIL}").into_bytes());
    }

    #[test]
    fn keeps_crlf_line_endings() {
        let out = plant_cred(b"[a]\r\nk = v").unwrap();
        assert_eq!(
            out,
            format!("[a]\r\nk = v\r\n\r\n{}", TAIL.replace('\n', "\r\n")).into_bytes()
        );
    }

    #[test]
    fn plants_into_an_empty_file_without_a_blank_line() {
        assert_eq!(plant_cred(b"").unwrap(), TAIL.as_bytes());
    }

    #[test]
    fn plants_after_a_trailing_comment_or_whitespace_line() {
        assert_eq!(
            plant_cred(b"# c").unwrap(),
            format!("# c\n\n{TAIL}").into_bytes()
        );
        assert_eq!(
            plant_cred(b"[a]\n  ").unwrap(),
            format!("[a]\n  \n\n{TAIL}").into_bytes()
        );
    }

    #[test]
    fn plants_after_an_indented_continuation_without_being_swallowed() {
        let input = b"[a]\ns3 =\n    x = 1";
        let doc_out = plant_cred(input).unwrap();
        let doc = parse(&doc_out).unwrap();
        assert_eq!(doc.get("a", "s3"), Some("\nx = 1"));
        assert_eq!(doc.items(NAME).unwrap(), PAIR);
    }

    #[test]
    fn ends_a_lone_cr_file_with_crlf_so_the_sdk_line_stays() {
        let out = plant_cred(b"[a]\nk =\r").unwrap();
        assert_eq!(out, format!("[a]\nk =\r\r\n{TAIL}").into_bytes());
    }

    #[test]
    fn keeps_non_ascii_bytes() {
        let input = "# Schlüssel 🔑\n[équipe]\nnote = café\n".as_bytes();
        let out = plant_cred(input).unwrap();
        assert_eq!(&out[..input.len()], input);
    }

    #[test]
    fn writes_profile_prefix_in_config_flavor() {
        let out = plant(b"", Flavor::Config, NAME, &PAIR[..1], None).unwrap();
        assert_eq!(
            out,
            b"[profile canary-ops]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        );
        let out = plant(b"", Flavor::Config, "default", &PAIR[..1], None).unwrap();
        assert!(out.starts_with(b"[default]\n"));
    }

    #[test]
    fn refuses_a_clashing_section() {
        let clash = plant_cred(b"[a]\n[ canary-ops ]\n");
        assert_eq!(clash, Err(PlantError::Clash { line: 2 }));
    }

    #[test]
    fn refuses_an_unreadable_file() {
        let refused = plant_cred(b"[a]\n[a]\n");
        let expected = ParseError::new(2, ParseErrorKind::DuplicateSection);
        assert_eq!(refused, Err(PlantError::Unreadable(expected)));
    }

    #[test]
    fn refuses_default_keys_that_would_reach_the_new_profile() {
        let refused = plant_cred(b"[DEFAULT]\naws_session_token = t\n");
        assert_eq!(refused, Err(PlantError::InheritsDefaults { line: 1 }));
        assert!(plant_cred(b"[DEFAULT]\naws_access_key_id = x\n").is_ok());
    }

    #[test]
    fn refuses_names_keys_and_values_it_may_not_write() {
        let with =
            |name, entries: &[(&str, &str)]| plant(b"", Flavor::Credentials, name, entries, None);
        assert_eq!(with("a b", &PAIR), Err(PlantError::BadName));
        assert_eq!(with(NAME, &[("Key", "v")]), Err(PlantError::BadKey));
        assert_eq!(
            with(NAME, &[("k", "v"), ("k", "w")]),
            Err(PlantError::BadKey)
        );
        assert_eq!(with(NAME, &[("k", "#v")]), Err(PlantError::BadValue));
    }

    #[test]
    fn replaces_its_own_section_in_place() {
        let input = format!("[a]\nk = v\n\n{TAIL}# keep me\n\n[b]\nj = w\n");
        let new = [
            ("aws_access_key_id", "AKIANEW"),
            ("aws_secret_access_key", "s"),
        ];
        let out = plant(
            input.as_bytes(),
            Flavor::Credentials,
            NAME,
            &new,
            Some(&ours),
        )
        .unwrap();
        let expected = "[a]\nk = v\n\n[canary-ops]\naws_access_key_id = AKIANEW\n\
                        aws_secret_access_key = s\n# keep me\n\n[b]\nj = w\n";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn refuses_to_replace_a_section_that_is_not_its_own() {
        let input = "[canary-ops]\naws_access_key_id = AKIAOTHER\n";
        let out = plant(
            input.as_bytes(),
            Flavor::Credentials,
            NAME,
            &PAIR,
            Some(&ours),
        );
        assert_eq!(out, Err(PlantError::Clash { line: 1 }));
        let both = format!("{TAIL}[ canary-ops ]\n");
        let out = plant(
            both.as_bytes(),
            Flavor::Credentials,
            NAME,
            &PAIR,
            Some(&ours),
        );
        assert_eq!(out, Err(PlantError::Clash { line: 1 }));
    }

    #[test]
    fn removes_its_section_and_the_blank_line_before_it() {
        let input = b"[a]\r\nk = v\r\n";
        let planted = plant_cred(input).unwrap();
        let removed = remove(&planted, Flavor::Credentials, NAME, &ours).unwrap();
        assert_eq!(removed.as_deref(), Some(&input[..]));
        assert_eq!(remove(input, Flavor::Credentials, NAME, &ours), Ok(None));
    }

    #[test]
    fn refuses_to_remove_a_section_that_is_not_its_own() {
        let input = b"[canary-ops]\naws_access_key_id = AKIAOTHER\n";
        let refused = remove(input, Flavor::Credentials, NAME, &ours);
        assert_eq!(refused, Err(PlantError::Clash { line: 1 }));
    }

    #[test]
    fn debug_output_shows_no_values() {
        let doc = parse(b"[a]\naws_secret_access_key = s3cr3t\n").unwrap();
        let shown = format!("{doc:?} {:?}", doc.sections()[0]);
        assert!(shown.contains("aws_secret_access_key") && !shown.contains("s3cr3t"));
    }

    #[test]
    fn validates_profile_names() {
        for ok in ["canary-ops", "a.b/c%d@e:f+g_h", "default", &"x".repeat(64)] {
            assert!(valid_profile_name(ok), "{ok}");
        }
        for bad in [
            "",
            "a b",
            "profile x",
            "DEFAULT",
            "é",
            "a]",
            "a\tb",
            &"x".repeat(65),
        ] {
            assert!(!valid_profile_name(bad), "{bad}");
        }
    }

    #[test]
    fn validates_values_and_keys() {
        assert!(valid_value("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        for bad in ["", "a b", "#x", ";x", "a\u{7f}", "é", "a\n"] {
            assert!(!valid_value(bad), "{bad:?}");
        }
        assert!(valid_key("aws_access_key_id"));
        assert!(!valid_key("Aws") && !valid_key("") && !valid_key("a-b"));
    }

    /// The real-world fixtures in `tests/fixtures/credentials`.
    fn fixtures() -> Vec<(String, Vec<u8>, serde_json::Value)> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/credentials");
        let mut cases: Vec<_> = std::fs::read_dir(dir).expect("fixtures folder").collect();
        cases.sort_by_key(|e| e.as_ref().unwrap().path());
        let cases = cases
            .into_iter()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir());
        let read = |p: std::path::PathBuf| {
            let json = std::fs::read_to_string(p.join("expected.json")).unwrap();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read(p.join("credentials")).unwrap(),
                serde_json::from_str(&json).unwrap(),
            )
        };
        cases.map(read).collect()
    }

    fn sdk_expected(expected: &serde_json::Value) -> Result<View, usize> {
        let sdk = &expected["rust_sdk_aws_runtime_env_config"];
        if let Some(message) = sdk["parse_error"].as_str() {
            let line = message
                .split("on line ")
                .nth(1)
                .and_then(|s| s.split(':').next());
            return Err(line.unwrap().parse().unwrap());
        }
        let profiles = sdk["profiles"].as_object().unwrap().iter();
        let keys = |p: &serde_json::Value| serde_json::from_value(p["known_keys"].clone()).unwrap();
        Ok(profiles.map(|(name, p)| (name.clone(), keys(p))).collect())
    }

    #[test]
    fn sdk_model_reads_the_fixtures_as_the_rust_sdk_did() {
        let cases = fixtures();
        assert!(cases.len() >= 28, "fixtures missing");
        for (name, bytes, expected) in cases {
            let text = std::str::from_utf8(&bytes).unwrap_or("");
            let read = sdk_read(text, Flavor::Credentials);
            assert_eq!(read, sdk_expected(&expected), "{name}");
        }
    }
}
