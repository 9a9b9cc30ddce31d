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
