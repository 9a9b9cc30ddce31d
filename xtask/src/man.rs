//! The man page, section 8: clap_mangen renders the synopsis, options and subcommands from
//! the clap definitions; the sections clap knows nothing about (exit status, files,
//! environment) are appended here, with the exit codes taken from `exit::ExitKind`.

use canary_bootstrap::cli::Cli;
use canary_bootstrap::config::DEFAULT_CONFIG;
use canary_bootstrap::exit::ExitKind;
use clap::CommandFactory;
use clap_mangen::Man;

/// The main page, `canary-bootstrap(8)`, as roff.
pub fn render() -> anyhow::Result<Vec<u8>> {
    let man = Man::new(Cli::command()).section("8");
    let mut page = Vec::new();
    man.render(&mut page)?;
    page.extend_from_slice(extra_sections().as_bytes());
    Ok(page)
}

/// One page per visible subcommand, `canary-bootstrap-<name>(8)`, which the main page's
/// SUBCOMMANDS section refers to: (file stem, roff).
pub fn render_subcommands() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let command = Cli::command();
    let mut pages = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("{}-{}", command.get_name(), sub.get_name());
        let man = Man::new(sub.clone().name(name.clone())).section("8");
        let mut page = Vec::new();
        man.render(&mut page)?;
        pages.push((name, page));
    }
    Ok(pages)
}

/// Exit codes in the order the README lists them, with what each means.
fn exit_codes() -> Vec<(u8, &'static str)> {
    vec![
        (
            0,
            "a token was planted now, or this instance was already provisioned",
        ),
        (ExitKind::Internal.code(), "internal error (a bug)"),
        (2, "bad command line; not retried"),
        (
            ExitKind::Config.code(),
            "bad settings file or secret file; not retried",
        ),
        (
            ExitKind::Refused.code(),
            "the Console refused (bad factory auth, bad memo, malformed token); not retried",
        ),
        (
            ExitKind::Transient.code(),
            "the Console could not be reached or failed transiently, or the deadline or lock \
             wait ran out; the unit retries",
        ),
        (
            ExitKind::Local.code(),
            "a local file could not be read or written, or would have been damaged; not retried",
        ),
    ]
}

fn extra_sections() -> String {
    let mut out = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in exit_codes() {
        out.push_str(&format!(".TP\n\\fB{code}\\fR\n{meaning}\n"));
    }
    out.push_str(&format!(
        ".SH FILES\n\
         .TP\n\\fI{DEFAULT_CONFIG}\\fR\nsettings (TOML)\n\
         .TP\n\\fI/etc/canary-bootstrap/factory_auth\\fR\n\
         the factory auth string, root-only; the unit passes it with LoadCredential=\n\
         .TP\n\\fI/var/lib/canary-bootstrap\\fR\n\
         state: the run lock, the provisioned marker and, while a run is unfinished, \
         the pending record\n\
         .SH ENVIRONMENT\n\
         .TP\n\\fBCANARY_BOOTSTRAP_LOG\\fR\n\
         a log filter such as debug or trace, when no -v is given\n\
         .TP\n\\fBCREDENTIALS_DIRECTORY\\fR\n\
         set by systemd; factory_auth there is read before factory_auth_file\n\
         .TP\n\\fBHTTPS_PROXY\\fR, \\fBNO_PROXY\\fR\n\
         proxy for the Console; set them in a unit drop-in, services do not read /etc/profile\n\
         .SH \"SEE ALSO\"\n\
         \\fBsystemd.exec\\fR(5), \\fBsystemd-analyze\\fR(1), \\fBjournalctl\\fR(1)\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page as a reader sees the words: roff's escaped hyphens made plain.
    fn page() -> String {
        String::from_utf8(render().unwrap())
            .unwrap()
            .replace("\\-", "-")
    }

    #[test]
    fn mentions_every_visible_subcommand_and_hides_the_internal_one() {
        let page = page();
        let command = Cli::command();
        let mut visible = 0;
        for sub in command.get_subcommands() {
            let name = sub.get_name();
            if sub.is_hide_set() {
                assert!(!page.contains(name), "hidden '{name}' is in the man page");
            } else {
                visible += 1;
                assert!(page.contains(name), "'{name}' is missing from the man page");
            }
        }
        assert_eq!(visible, 4, "run, status, prepare-image and factory");
    }

    #[test]
    fn each_subcommand_page_documents_its_flags() {
        let pages = render_subcommands().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "canary-bootstrap-run",
                "canary-bootstrap-status",
                "canary-bootstrap-prepare-image",
                "canary-bootstrap-factory"
            ]
        );
        let text = |i: usize| String::from_utf8_lossy(&pages[i].1).replace("\\-", "-");
        assert!(text(0).contains("--force"));
        assert!(text(1).contains("--json"));
        for admin in ["create", "delete", "list"] {
            assert!(text(3).contains(admin), "factory page lacks '{admin}'");
        }
    }

    #[test]
    fn lists_every_exit_code() {
        let page = page();
        let section = page.split(".SH \"EXIT STATUS\"").nth(1).unwrap();
        for code in [0, 1, 2, 3, 4, 5, 6] {
            assert!(
                section.contains(&format!("\\fB{code}\\fR")),
                "exit {code} missing"
            );
        }
    }

    #[test]
    fn is_section_8_with_the_global_flags() {
        let page = page();
        assert!(page.contains(".TH canary-bootstrap 8"));
        assert!(page.contains("--config"));
        assert!(page.contains("--verbose"));
    }
}
