//! Generated credentials files (comments with `#` and `;`, blank lines, LF, CRLF and lone
//! CR, odd spacing around `=` and `:`, many sections, indented continuations, a missing
//! final newline, now and then a BOM, a stray byte or a line botocore refuses), checked
//! three ways: `profile_file::plant` keeps every input byte and changes no reading;
//! the Rust SDK's own parser reads the output as before plus our profile; and botocore
//! (from the test venv) agrees with `profile_file::parse` on a fixed sample.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use canary_bootstrap::profile_file::{self, Document, Flavor, PlantError};
use common::sdk::sdk_read;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

const PROFILE: &str = "prod-admin";
const PAIR: [(&str, &str); 2] = [
    ("aws_access_key_id", "AKIAIOSFODNN7EXAMPLE"),
    (
        "aws_secret_access_key",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
];

/// Stands for a byte that is not UTF-8 (Latin-1 `é`) until the file is put together.
const LATIN1_MARK: char = '\u{e000}';

fn pick(items: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(items).prop_map(str::to_owned)
}

fn section_name() -> impl Strategy<Value = String> {
    let odd = pick(&[
        "default",
        "Prod",
        "a.b",
        "x y",
        "profile dev",
        "DEFAULT",
        "été",
        "p%1",
        "[x",
        "p]q",
    ]);
    let ours = pick(&[PROFILE, " prod-admin ", "prod-admin\t", "PROD-ADMIN"]);
    prop_oneof![
        12 => (0..200u32).prop_map(|n| format!("p{n}")),
        4 => odd,
        1 => ours,
    ]
}

fn header() -> impl Strategy<Value = String> {
    let indent = pick(&["", "", "", "", " ", "\t"]);
    let trail = pick(&["", "", "", " ", " # note", "; x", "]", "\u{a0}"]);
    (indent, section_name(), trail).prop_map(|(i, n, t)| format!("{i}[{n}]{t}"))
}

fn key() -> impl Strategy<Value = String> {
    let known = pick(&[
        "aws_access_key_id",
        "aws_secret_access_key",
        "AWS_Session_Token",
        "region",
        "output",
        "s3",
        "key with space",
    ]);
    prop_oneof![2 => known, 3 => (0..100u32).prop_map(|n| format!("k{n}"))]
}

fn value() -> impl Strategy<Value = String> {
    let latin1 = Just(format!("latin{LATIN1_MARK}"));
    let text = pick(&[
        "AKIAEXAMPLE",
        "s3cr3t/+=x",
        "",
        "a # not a comment",
        "x;y",
        "has  spaces inside",
        "%(x)s",
        "$HOME",
        "\"quoted\"",
        "naïve ☃",
        "a=b",
        "a:b",
        "v\u{b}w",
        "tail\u{2028}x",
    ]);
    prop_oneof![40 => text, 1 => latin1]
}

fn key_line() -> impl Strategy<Value = String> {
    let indent = pick(&["", "", "", "", " "]);
    let space = || pick(&["", " ", " ", "  ", "\t", "\u{a0}"]);
    let sep = pick(&["=", "=", ":"]);
    (indent, key(), space(), sep, space(), value())
        .prop_map(|(i, k, s1, sep, s2, v)| format!("{i}{k}{s1}{sep}{s2}{v}"))
}

fn comment() -> impl Strategy<Value = String> {
    let indent = pick(&["", "", " ", "\t"]);
    let mark = pick(&["#", ";"]);
    let text = pick(&["", " a comment", " [prod-admin]", " key = value", "é", "#"]);
    (indent, mark, text).prop_map(|(i, m, t)| format!("{i}{m}{t}"))
}

fn continuation() -> impl Strategy<Value = String> {
    let indent = pick(&[" ", "  ", "\t", "    "]);
    let text = pick(&[
        "more",
        "sub = 1",
        "k: v",
        "# hash",
        "[not a header]",
        "a = b # c",
    ]);
    (indent, text).prop_map(|(i, t)| format!("{i}{t}"))
}

fn body_line() -> impl Strategy<Value = String> {
    prop_oneof![
        60 => key_line(),
        20 => comment(),
        20 => pick(&["", "", " ", "\t"]),
        20 => continuation(),
        1 => pick(&["no separator here", "= empty key"]),
    ]
}

fn section() -> impl Strategy<Value = Vec<String>> {
    (header(), prop::collection::vec(body_line(), 0..6)).prop_map(|(h, mut body)| {
        body.insert(0, h);
        body
    })
}

/// A whole file as bytes.
fn credentials_file() -> impl Strategy<Value = Vec<u8>> {
    let prelude = prop_oneof![
        30 => Just(vec![]),
        4 => prop::collection::vec(comment(), 1..3),
        1 => Just(vec!["\u{feff}[bom]".to_owned()]),
        1 => Just(vec!["orphan = 1".to_owned()]),
    ];
    let eol = prop_oneof![8 => Just("\n"), 4 => Just("\r\n"), 1 => Just("\r"), 1 => Just("mixed")];
    let final_eol = prop_oneof![4 => Just(true), 1 => Just(false)];
    let sections = prop::collection::vec(section(), 0..8);
    // Odd endings: a lone CR after LF lines, or a blank line of spaces without a newline.
    let suffix = pick(&["", "", "", "", "", "  \r", "\r", " "]);
    (prelude, sections, eol, final_eol, suffix).prop_map(|(pre, sections, eol, last, suffix)| {
        let lines: Vec<String> = pre.into_iter().chain(sections.concat()).collect();
        let mut bytes = join(&lines, eol, last);
        bytes.extend_from_slice(suffix.as_bytes());
        bytes
    })
}

fn join(lines: &[String], eol: &str, final_eol: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        for c in line.chars() {
            match c {
                LATIN1_MARK => out.push(0xe9),
                c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            }
        }
        let eol = match eol {
            "mixed" if n % 2 == 0 => "\r\n",
            "mixed" => "\n",
            eol => eol,
        };
        if n + 1 < lines.len() || final_eol {
            out.extend_from_slice(eol.as_bytes());
        }
    }
    out
}

/// The line ending the agent should use: CRLF where the file has more CRLF than bare LF.
fn expected_newline(input: &[u8]) -> &'static str {
    let crlf = input.windows(2).filter(|w| w == b"\r\n").count();
    let lf = input.iter().filter(|&&b| b == b'\n').count() - crlf;
    if crlf > lf { "\r\n" } else { "\n" }
}

/// Exactly what plant should append to `input`.
fn expected_tail(input: &[u8]) -> Vec<u8> {
    let nl = expected_newline(input);
    let mut tail = String::new();
    if !input.is_empty() {
        if !input.ends_with(b"\n") && !input.ends_with(b"\r") {
            tail.push_str(nl);
        }
        // A lone CR at the end stays one line ending: the empty line after it is a CRLF.
        tail.push_str(if input.ends_with(b"\r") { "\r\n" } else { nl });
    }
    tail.push_str(&format!("[{PROFILE}]{nl}"));
    for (key, value) in PAIR {
        tail.push_str(&format!("{key} = {value}{nl}"));
    }
    tail.into_bytes()
}

fn plant(input: &[u8]) -> Result<Vec<u8>, PlantError> {
    profile_file::plant(input, Flavor::Credentials, PROFILE, &PAIR, None)
}

/// Every section botocore reads, as `profile_file` models it.
fn readings(doc: &Document<'_>) -> BTreeMap<String, Vec<(String, String)>> {
    let items = |name: &str| doc.items(name).unwrap().into_iter();
    let own = |(k, v): (&str, &str)| (k.to_owned(), v.to_owned());
    doc.sections()
        .iter()
        .filter(|s| s.name != profile_file::DEFAULT_SECTION)
        .map(|s| (s.name.clone(), items(&s.name).map(own).collect()))
        .collect()
}

/// The invariants for one generated file; `Err` says which one broke.
fn check_plant(input: &[u8]) -> Result<(), TestCaseError> {
    let Ok(before) = profile_file::parse(input) else {
        prop_assert!(matches!(plant(input), Err(PlantError::Unreadable(_))));
        return Ok(());
    };
    let output = match plant(input) {
        Ok(output) => output,
        Err(PlantError::Clash { line }) => {
            prop_assert!(before.clashes(Flavor::Credentials, PROFILE).contains(&line));
            return Ok(());
        }
        Err(PlantError::InheritsDefaults { .. }) => {
            prop_assert!(before.sections().iter().any(|s| s.name == "DEFAULT"));
            return Ok(());
        }
        Err(err) => return Err(TestCaseError::fail(format!("plant failed: {err}"))),
    };
    prop_assert!(
        before.section(PROFILE).is_none(),
        "planted over a section of our name"
    );
    prop_assert!(output.starts_with(input), "input bytes changed");
    prop_assert_eq!(
        &output[input.len()..],
        &expected_tail(input)[..],
        "unexpected tail"
    );

    let after = profile_file::parse(&output).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut expected = readings(&before);
    let pair = PAIR.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    expected.insert(PROFILE.to_owned(), pair.collect());
    prop_assert_eq!(readings(&after), expected);
    check_sdk(input, &output)
}

/// Where the SDK read the input, it reads the output as before plus exactly our pair.
fn check_sdk(input: &[u8], output: &[u8]) -> Result<(), TestCaseError> {
    let Ok(before) = sdk_read(input) else {
        return Ok(());
    };
    prop_assert!(
        before.get_profile(PROFILE).is_none(),
        "SDK had our profile already"
    );
    let after = sdk_read(output).map_err(TestCaseError::fail)?;
    for name in before.profiles() {
        prop_assert_eq!(
            after.get_profile(name),
            before.get_profile(name),
            "{}",
            name
        );
    }
    let ours = after.get_profile(PROFILE);
    for (key, value) in PAIR {
        prop_assert_eq!(ours.and_then(|p| p.get(key)), Some(value));
    }
    prop_assert_eq!(after.profiles().count(), before.profiles().count() + 1);
    Ok(())
}

proptest! {
    #![proptest_config(Config { cases: 1500, ..Config::default() })]

    #[test]
    fn planting_keeps_every_byte_and_every_reading(input in credentials_file()) {
        check_plant(&input)?;
    }
}

/// A fixed sample of generated files (the same every run).
fn sample(count: usize) -> Vec<Vec<u8>> {
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    let strategy = credentials_file();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

/// Python's `str.strip()` for the characters the generator uses.
fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// botocore's `_parse_nested`: a value that starts with a line break becomes a dict.
fn botocore_value(value: &str) -> Value {
    if !value.starts_with('\n') {
        return json!(value);
    }
    let breaks = |c: char| "\n\r\u{b}\u{c}\u{1c}\u{1d}\u{1e}\u{85}\u{2028}\u{2029}".contains(c);
    let mut nested = serde_json::Map::new();
    for line in value.split(breaks).filter(|l| !py_strip(l).is_empty()) {
        let (key, value) = line.split_once('=').expect("parse checked nested values");
        nested.insert(py_strip(key).to_owned(), json!(py_strip(value)));
    }
    Value::Object(nested)
}

/// What `profile_file::parse` says botocore prints for this file.
fn modelled(input: &[u8]) -> Value {
    match profile_file::parse(input) {
        Ok(doc) => {
            let sections = readings(&doc).into_iter().map(|(name, items)| {
                let keys = items.iter().map(|(k, v)| (k.clone(), botocore_value(v)));
                (name, Value::Object(keys.collect()))
            });
            json!({ "sections": Value::Object(sections.collect()) })
        }
        Err(err) => {
            let line = match err.kind.botocore_exception() {
                "UnicodeDecodeError" | "ValueError" => Value::Null,
                _ => json!(err.line),
            };
            json!({ "error": err.kind.botocore_exception(), "line": line })
        }
    }
}

#[test]
fn botocore_reads_a_sample_of_generated_files_as_the_parser_says() {
    let files = sample(200);
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..files.len())
        .map(|n| dir.path().join(format!("credentials-{n}")))
        .collect();
    for (path, bytes) in paths.iter().zip(&files) {
        std::fs::write(path, bytes).unwrap();
    }
    let output = Command::new(common::venv_python())
        .arg(common::repo().join("tests/botocore_batch.py"))
        .args(&paths)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let lines: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .lines()
        .collect();
    assert_eq!(lines.len(), files.len());
    let mut accepted = 0;
    for (n, (line, input)) in lines.iter().zip(&files).enumerate() {
        let botocore: Value = serde_json::from_str(line).unwrap();
        let ours = modelled(input);
        assert_eq!(
            botocore,
            ours,
            "file {n}: {:?}",
            String::from_utf8_lossy(input)
        );
        accepted += usize::from(botocore.get("sections").is_some());
    }
    // The sample must exercise both sides of the accept/reject question.
    assert!(
        (50..180).contains(&accepted),
        "{accepted} of {} accepted",
        files.len()
    );
}
