//! Reading and editing an AWS shared credentials or config file, byte for byte.
//!
//! This module owns one question and one edit. The question: how do botocore (the AWS
//! CLI's parser: Python's `configparser.RawConfigParser` with default settings, plus
//! botocore's nested-value step) and the Rust AWS SDK (`aws-runtime` `env_config`) read
//! a given file, and would either of them take one of its sections for a given profile?
//! The edit: new file bytes that add, replace or remove exactly one profile section and
//! keep every other byte of the input. Every edit is read back with both models before
//! it is returned. The module does no I/O and never puts file content in an error.
//!
//! `reader` is configparser's line reader, `names` says which sections botocore takes for a
//! profile, `sdk` models the Rust SDK's parser, and `edit` makes the new bytes.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Write as _};
use std::ops::Range;
use std::str::Utf8Error;

use thiserror::Error;

mod edit;
mod names;
mod reader;
mod sdk;

pub use edit::{PlantError, plant, remove, valid_key, valid_profile_name, valid_value};
use names::*;
use reader::*;
use sdk::*;

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

#[cfg(test)]
mod tests;
