//! How configparser reads lines: Python's line splitting, UTF-8 decoding and the reader
//! state machine behind `parse`.

use super::*;

/// Splits on `\n`, `\r\n` and a lone `\r`, as Python's text files do.
pub(super) fn split_lines(bytes: &[u8]) -> Vec<LineSpan> {
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
pub(super) fn decode_failure(bytes: &[u8], lines: &[LineSpan], err: Utf8Error) -> ParseError {
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
pub(super) fn decoded_before_failure(bytes: &[u8], err: &Utf8Error) -> usize {
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
pub(super) fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

pub(super) fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// configparser's state while it reads lines (`_read` in CPython 3.11 to 3.13).
#[derive(Default)]
pub(super) struct Reader {
    sections: Vec<Section>,
    cur: Option<usize>,
    opt: Option<usize>,
    indent_level: usize,
    seen_sections: HashSet<String>,
    seen_keys: HashSet<(String, String)>,
    soft: Option<ParseError>,
}

impl Reader {
    pub(super) fn read_lines(&mut self, text: &str, lines: &[LineSpan]) -> Result<(), ParseError> {
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

    pub(super) fn finish(mut self) -> Result<Vec<Section>, ParseError> {
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
pub(super) fn header_name(clean: &str) -> Option<&str> {
    let inner = clean.strip_prefix('[')?;
    let close = inner.rfind(']')?;
    (close > 0).then(|| &inner[..close])
}

/// botocore's `_parse_nested` fails on a non-blank line without `=`.
pub(super) fn nested_ok(value: &str) -> bool {
    value
        .split(PY_LINE_BREAKS)
        .map(py_strip)
        .all(|line| line.is_empty() || line.contains('='))
}
