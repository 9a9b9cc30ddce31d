//! Writing into homes that may be hostile: the built agent, run as root, against homes owned
//! by `nobody` (uid 65534) that were booby-trapped beforehand, as a hostile user would.
//!
//! These tests must run as root (CI does): they check that the agent drops to the user and
//! that root-owned files stay untouched. Run as anyone else they fail at once, loudly. The
//! "root" files under attack are decoys in each test's scratch directory (`decoy/etc/shadow`
//! and `decoy/root/.aws/credentials`); the real `/etc/shadow` and `/root` are only looked at,
//! to show they did not change. The test user comes from the system's user database as it
//! is: no account is added and `/etc/passwd` is not edited.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::*;

/// `nobody`, the unprivileged user every test writes for.
const NOBODY: u32 = 65534;

/// A whole `run` may take this long before the test kills it.
const RUN_LIMIT: Duration = Duration::from_secs(120);

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "tests/homes.rs must run as root: they check the agent's drop to uid {NOBODY}"
    );
    let nobody = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(NOBODY)).unwrap();
    assert!(nobody.is_some(), "no user with uid {NOBODY} on this system");
}

fn nobody_name() -> String {
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(NOBODY))
        .unwrap()
        .unwrap()
        .name
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn owner(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().uid()
}

/// Makes a directory owned by `uid` with `mode`.
fn dir_as(path: &Path, uid: u32, mode: u32) {
    std::fs::create_dir_all(path).unwrap();
    chown(path, uid);
    chmod(path, mode);
}

/// Writes a file owned by `uid` with `mode`.
fn file_as(path: &Path, content: &[u8], uid: u32, mode: u32) {
    std::fs::write(path, content).unwrap();
    chown(path, uid);
    chmod(path, mode);
}

fn symlink_as(target: &Path, link: &Path, uid: u32) {
    std::os::unix::fs::symlink(target, link).unwrap();
    chown(link, uid);
}

/// A scratch machine whose one target is `nobody`, with a home the user owns (mode 0750)
/// and root-owned decoys standing for `/etc`, `/root` and `/tmp`.
struct Hostile {
    emulator: Emulator,
    scenario: Scenario,
}

const SHADOW: &[u8] = b"root:$6$decoy$notarealhash:19000:0:99999:7:::\n";
const ROOT_CREDENTIALS: &[u8] =
    b"[default]\naws_access_key_id = AKIAROOTDECOY0000001\naws_secret_access_key = rootonly\n";
const ORIGINAL: &[u8] = b"# mine\n[default]\naws_access_key_id = AKIAEXISTING0000001\n\
aws_secret_access_key = keepme/keepme\n";

impl Hostile {
    fn new() -> Hostile {
        require_root();
        let emulator = Emulator::start(&[]);
        let mut scenario = Scenario::new(&emulator.url);
        chmod(scenario.dir.path(), 0o711);
        dir_as(&scenario.home(), NOBODY, 0o750);
        let decoy = scenario.path("decoy");
        dir_as(&decoy.join("etc"), 0, 0o755);
        file_as(&decoy.join("etc/shadow"), SHADOW, 0, 0o640);
        dir_as(&decoy.join("root/.aws"), 0, 0o700);
        file_as(
            &decoy.join("root/.aws/credentials"),
            ROOT_CREDENTIALS,
            0,
            0o600,
        );
        dir_as(&decoy.join("tmp"), 0, 0o1777);
        let target = target_toml(&scenario.credentials());
        scenario.target(&target);
        Hostile { emulator, scenario }
    }

    fn home(&self) -> PathBuf {
        self.scenario.home()
    }

    fn aws(&self) -> PathBuf {
        self.home().join(".aws")
    }

    fn credentials(&self) -> PathBuf {
        self.scenario.credentials()
    }

    fn decoy(&self, name: &str) -> PathBuf {
        self.scenario.path("decoy").join(name)
    }

    /// `~/.aws` as the user's own directory, 0700.
    fn user_aws(&self) {
        dir_as(&self.aws(), NOBODY, 0o700);
    }

    fn run(&self) -> Output {
        self.agent(&["run"], &Launch::default())
    }

    fn agent(&self, args: &[&str], launch: &Launch) -> Output {
        run_bounded(agent_command(&self.scenario, args, launch), RUN_LIMIT)
    }

    /// Runs the agent expecting a refusal: exit 6, the message says `says`, no file changed
    /// (home, decoys, the real `/etc/shadow` and `/root`), and no temporary file is left.
    fn assert_refused(&self, says: &str) {
        let before = snapshot(self.scenario.dir.path());
        let real = real_files();
        let output = self.run();
        assert_eq!(code(&output), 6, "{}", text(&output));
        assert!(
            text(&output).contains(says),
            "wanted '{says}': {}",
            text(&output)
        );
        assert_eq!(snapshot(self.scenario.dir.path()), before, "files changed");
        assert_eq!(real_files(), real, "/etc/shadow or /root changed");
        assert!(!self.scenario.path("state/provisioned.json").exists());
    }
}

fn target_toml(file: &Path) -> String {
    format!(
        "user = \"{}\"\ncredentials_file = \"{}\"\n",
        nobody_name(),
        file.display()
    )
}

/// How to start the agent: umask, file-size limit and extra environment.
#[derive(Default)]
struct Launch {
    umask: Option<u32>,
    fsize: Option<u64>,
    env: Vec<(String, String)>,
}

fn agent_command(scenario: &Scenario, args: &[&str], launch: &Launch) -> Command {
    let config = scenario.write_config();
    let mut command = Command::new(env!("CARGO_BIN_EXE_canary-bootstrap"));
    command.arg("--config").arg(&config).args(args);
    command
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM")
        .env_remove("CANARY_BOOTSTRAP_FAULT");
    for (k, v) in &launch.env {
        command.env(k, v);
    }
    let umask = launch.umask;
    let fsize = launch.fsize;
    // SAFETY: umask and setrlimit are plain system calls, safe between fork and exec.
    unsafe {
        command.pre_exec(move || {
            if let Some(mask) = umask {
                nix::libc::umask(mask as nix::libc::mode_t);
            }
            if let Some(limit) = fsize {
                let rlimit = nix::libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if nix::libc::setrlimit(nix::libc::RLIMIT_FSIZE, &rlimit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command
}

/// Every entry under `root` (not following symlinks), except the agent's state directory:
/// type, mode, owner, size, mtime, content or link target.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut entries = BTreeMap::new();
    walk(root, root, &mut entries);
    entries
}

fn walk(root: &Path, path: &Path, entries: &mut BTreeMap<PathBuf, String>) {
    let meta = std::fs::symlink_metadata(path).unwrap();
    let rel = path.strip_prefix(root).unwrap().to_owned();
    if rel == Path::new("state") || rel == Path::new("config.toml") {
        return;
    }
    if rel.as_os_str().is_empty() {
        // The scratch root gains the state directory; only its mode and owner matter.
        entries.insert(rel, format!("{:o} {}", meta.mode(), meta.uid()));
        for entry in std::fs::read_dir(path).unwrap() {
            walk(root, &entry.unwrap().path(), entries);
        }
        return;
    }
    let mut line = format!(
        "{:o} {}:{} {} {}.{}",
        meta.mode(),
        meta.uid(),
        meta.gid(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    if meta.is_symlink() {
        line += &format!(" -> {}", std::fs::read_link(path).unwrap().display());
    } else if meta.is_file() {
        line += &format!(" {:?}", std::fs::read(path).unwrap());
    }
    entries.insert(rel, line);
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            walk(root, &entry.unwrap().path(), entries);
        }
    }
}

/// The real `/etc/shadow` (content and metadata) and `/root` (metadata, and its
/// `.aws/credentials` if any): these must never change.
fn real_files() -> Vec<String> {
    let describe = |path: &str| match std::fs::symlink_metadata(path) {
        Ok(meta) => {
            let content = if meta.is_file() {
                std::fs::read(path)
                    .map(|b| format!("{b:?}"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!(
                "{path} {:o} {} {}.{} {content}",
                meta.mode(),
                meta.uid(),
                meta.mtime(),
                meta.mtime_nsec()
            )
        }
        Err(e) => format!("{path} {e}"),
    };
    [
        "/etc/shadow",
        "/root",
        "/root/.aws",
        "/root/.aws/credentials",
    ]
    .into_iter()
    .map(describe)
    .collect()
}

/// Names in `dir` that look like the agent's temporary files.
fn temp_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains("canary-bootstrap"))
        .collect()
}

#[test]
fn aws_dir_symlinked_to_an_etc_like_dir_is_refused() {
    let hostile = Hostile::new();
    symlink_as(&hostile.decoy("etc"), &hostile.aws(), NOBODY);
    hostile.assert_refused("owned by uid 0");
}

#[test]
fn aws_dir_symlinked_to_roots_aws_is_refused() {
    let hostile = Hostile::new();
    symlink_as(&hostile.decoy("root/.aws"), &hostile.aws(), NOBODY);
    hostile.assert_refused(".aws");
}

#[test]
fn aws_dir_symlinked_to_a_world_writable_root_dir_is_refused() {
    // The user could create files in a sticky /tmp-like directory, so only the owner check
    // stands between the agent and planting a key into a shared place.
    let hostile = Hostile::new();
    symlink_as(&hostile.decoy("tmp"), &hostile.aws(), NOBODY);
    hostile.assert_refused("owned by uid 0");
    assert_eq!(std::fs::read_dir(hostile.decoy("tmp")).unwrap().count(), 0);
}

#[test]
fn aws_dir_owned_by_another_user_is_refused_even_when_writable() {
    let hostile = Hostile::new();
    dir_as(&hostile.aws(), 0, 0o777);
    hostile.assert_refused("owned by uid 0");
}

#[test]
fn credentials_symlinked_to_shadow_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    symlink_as(&hostile.decoy("etc/shadow"), &hostile.credentials(), NOBODY);
    hostile.assert_refused("symlink into another user's files");
}

#[test]
fn credentials_symlinked_to_a_root_file_in_the_users_dir_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let planted = hostile.aws().join("roots");
    file_as(&planted, ROOT_CREDENTIALS, 0, 0o666);
    symlink_as(&planted, &hostile.credentials(), NOBODY);
    hostile.assert_refused("owned by uid 0");
}

#[test]
fn credentials_hard_linked_to_a_root_file_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let root_file = hostile.decoy("tmp/rootfile");
    file_as(&root_file, ROOT_CREDENTIALS, 0, 0o666);
    std::fs::hard_link(&root_file, hostile.credentials()).unwrap();
    hostile.assert_refused("owned by uid 0");
}

#[test]
fn credentials_hard_linked_to_the_users_own_file_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    file_as(&hostile.credentials(), ORIGINAL, NOBODY, 0o600);
    std::fs::hard_link(hostile.credentials(), hostile.home().join("other-name")).unwrap();
    hostile.assert_refused("hard links");
}

#[test]
fn a_fifo_where_credentials_should_be_is_refused_without_hanging() {
    let hostile = Hostile::new();
    hostile.user_aws();
    nix::unistd::mkfifo(&hostile.credentials(), nix::sys::stat::Mode::S_IRWXU).unwrap();
    chown(&hostile.credentials(), NOBODY);
    hostile.assert_refused("is a FIFO, not a regular file");
}

#[test]
fn a_socket_where_credentials_should_be_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let _listener = std::os::unix::net::UnixListener::bind(hostile.credentials()).unwrap();
    chown(&hostile.credentials(), NOBODY);
    hostile.assert_refused("is a socket, not a regular file");
}

#[test]
fn a_directory_where_credentials_should_be_is_refused() {
    let hostile = Hostile::new();
    hostile.user_aws();
    dir_as(&hostile.credentials(), NOBODY, 0o700);
    hostile.assert_refused("is a directory, not a regular file");
}

#[test]
fn a_symlink_to_a_fifo_the_user_owns_is_refused_without_hanging() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let fifo = hostile.home().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    chown(&fifo, NOBODY);
    symlink_as(&fifo, &hostile.credentials(), NOBODY);
    hostile.assert_refused("is a FIFO");
}

#[test]
fn a_missing_home_is_an_error_and_nothing_is_created() {
    let mut hostile = Hostile::new();
    let missing = hostile.scenario.path("no-such-home/.aws/credentials");
    hostile.scenario.targets = vec![target_toml(&missing)];
    hostile.assert_refused("does not exist");
    assert!(!hostile.scenario.path("no-such-home").exists());
}

#[test]
fn a_user_that_does_not_exist_is_a_settings_error_before_any_token() {
    let mut hostile = Hostile::new();
    let file = hostile.credentials();
    hostile.scenario.targets = vec![format!(
        "user = \"no-such-user-cb4\"\ncredentials_file = \"{}\"\n",
        file.display()
    )];
    let before = snapshot(hostile.scenario.dir.path());
    let output = hostile.run();
    assert_eq!(code(&output), 3, "{}", text(&output));
    assert!(
        text(&output).contains("user 'no-such-user-cb4' does not exist"),
        "{}",
        text(&output)
    );
    assert!(hostile.emulator.requests().is_empty());
    assert_eq!(snapshot(hostile.scenario.dir.path()), before);
}

#[test]
fn pre_planted_temporary_names_are_never_followed() {
    // The names are random, so a planted one is unlikely to be met at all; these cover the
    // old pid-and-counter scheme for the pids likely next. Whatever name is met, the
    // exclusive no-follow open skips it.
    let hostile = Hostile::new();
    hostile.user_aws();
    file_as(&hostile.credentials(), ORIGINAL, NOBODY, 0o600);
    let last_pid: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let shadow = hostile.decoy("etc/shadow");
    let mut traps = Vec::new();
    for pid in last_pid + 1..last_pid + 300 {
        for n in 0..4 {
            let trap = hostile
                .aws()
                .join(format!(".credentials.canary-bootstrap.{pid}.{n}"));
            symlink_as(&shadow, &trap, NOBODY);
            traps.push(trap);
        }
    }
    let real = real_files();
    let output = hostile.run();
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(std::fs::read(&shadow).unwrap(), SHADOW);
    assert_eq!(mode(&shadow), 0o640);
    assert_eq!(real_files(), real);
    for trap in &traps {
        assert_eq!(std::fs::read_link(trap).unwrap(), shadow);
    }
    let content = std::fs::read(hostile.credentials()).unwrap();
    assert!(content.starts_with(ORIGINAL));
    assert_eq!(
        temp_files(&hostile.aws()).len(),
        traps.len(),
        "no new temp file"
    );
}

#[test]
fn a_symlink_to_the_users_own_file_is_written_through_and_stays_a_link() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let dotfiles = hostile.home().join("dotfiles");
    dir_as(&dotfiles, NOBODY, 0o700);
    let real_file = dotfiles.join("aws-credentials");
    file_as(&real_file, ORIGINAL, NOBODY, 0o600);
    let link_target = PathBuf::from("../dotfiles/aws-credentials");
    symlink_as(&link_target, &hostile.credentials(), NOBODY);

    let output = hostile.run();
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        std::fs::read_link(hostile.credentials()).unwrap(),
        link_target
    );
    let content = std::fs::read(&real_file).unwrap();
    assert!(content.starts_with(ORIGINAL));
    assert_eq!((owner(&real_file), mode(&real_file)), (NOBODY, 0o600));
    let token = &hostile.emulator.issued()[0];
    let read = botocore_read(&hostile.credentials());
    assert_eq!(read["credentials"]["prod-admin"][0], token["access_key_id"]);
    assert!(temp_files(&dotfiles).is_empty());
}

/// A fresh plant under `umask`: `~/.aws` made 0700 and the file 0600, both the user's; the
/// home's own mode and owner unchanged.
fn plants_private_files_under_umask(umask: u32) {
    let hostile = Hostile::new();
    chmod(&hostile.home(), 0o751);
    let launch = Launch {
        umask: Some(umask),
        ..Launch::default()
    };
    let output = hostile.agent(&["run"], &launch);
    assert_eq!(code(&output), 0, "{}", text(&output));
    assert_eq!(
        (owner(&hostile.aws()), mode(&hostile.aws())),
        (NOBODY, 0o700)
    );
    let file = hostile.credentials();
    assert_eq!((owner(&file), mode(&file)), (NOBODY, 0o600));
    assert_eq!(std::fs::metadata(&file).unwrap().gid(), NOBODY);
    assert_eq!(
        (owner(&hostile.home()), mode(&hostile.home())),
        (NOBODY, 0o751)
    );
    let state = hostile.scenario.path("state");
    assert_eq!((owner(&state), mode(&state)), (0, 0o700));
    assert!(temp_files(&hostile.aws()).is_empty());
}

#[test]
fn plants_private_files_under_umask_0000() {
    plants_private_files_under_umask(0o000);
}

#[test]
fn plants_private_files_under_umask_0077() {
    plants_private_files_under_umask(0o077);
}

#[test]
fn a_file_size_limit_leaves_the_original_and_no_temporary_file() {
    let hostile = Hostile::new();
    hostile.user_aws();
    let mut original = ORIGINAL.to_vec();
    while original.len() < 8000 {
        original.extend_from_slice(b"# padding padding padding padding padding padding\n");
    }
    file_as(&hostile.credentials(), &original, NOBODY, 0o600);
    let launch = Launch {
        fsize: Some(original.len() as u64 + 16),
        ..Launch::default()
    };
    let output = hostile.agent(&["run"], &launch);
    assert_eq!(code(&output), 6, "{}", text(&output));
    assert!(
        text(&output).contains("failed to write"),
        "{}",
        text(&output)
    );
    assert_eq!(std::fs::read(hostile.credentials()).unwrap(), original);
    assert!(temp_files(&hostile.aws()).is_empty(), "temporary file left");

    let output = hostile.run();
    assert_eq!(code(&output), 0, "a later run finishes: {}", text(&output));
    assert_eq!(hostile.emulator.issued().len(), 1, "with the same token");
}

#[test]
fn a_full_disk_leaves_the_original_and_no_temporary_file() {
    // A small tmpfs, mounted in a private mount namespace only the agent runs in, holds the
    // home; a root-owned filler takes the rest of its space.
    let mut hostile = Hostile::new();
    let disk = hostile.scenario.path("disk");
    let result = hostile.scenario.path("result");
    std::fs::create_dir(&disk).unwrap();
    std::fs::create_dir(&result).unwrap();
    let mut original = ORIGINAL.to_vec();
    while original.len() < 40_000 {
        original.extend_from_slice(b"# padding padding padding padding padding padding\n");
    }
    let staged = hostile.scenario.path("staged-credentials");
    std::fs::write(&staged, &original).unwrap();
    let file = disk.join("home/.aws/credentials");
    hostile.scenario.targets = vec![target_toml(&file)];
    let config = hostile.scenario.write_config();
    let script = r#"set -eu
mount -t tmpfs -o size=128k,mode=0711 canary-test "$DISK"
mkdir -p "$DISK/home/.aws"
cp "$STAGED" "$DISK/home/.aws/credentials"
chown -R 65534:65534 "$DISK/home"
chmod 700 "$DISK/home/.aws"
chmod 600 "$DISK/home/.aws/credentials"
dd if=/dev/zero of="$DISK/filler" bs=4096 2>/dev/null || true
set +e
"$AGENT" --config "$CONFIG" run
echo $? > "$RESULT/code"
rm "$DISK/filler"
cp -a "$DISK/home" "$RESULT/home"
"#;
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c", script])
        .env("DISK", &disk)
        .env("STAGED", &staged)
        .env("RESULT", &result)
        .env("CONFIG", &config)
        .env("AGENT", env!("CARGO_BIN_EXE_canary-bootstrap"))
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("JOURNAL_STREAM");
    let output = run_bounded(command, RUN_LIMIT);
    let code = std::fs::read_to_string(result.join("code")).unwrap_or_default();
    assert_eq!(code.trim(), "6", "{}", text(&output));
    let said = text(&output);
    assert!(said.contains("No space left on device"), "{said}");
    let copied = result.join("home/.aws");
    assert_eq!(std::fs::read(copied.join("credentials")).unwrap(), original);
    assert!(temp_files(&copied).is_empty(), "temporary file left");
    assert_eq!(std::fs::read_dir(&disk).unwrap().count(), 0, "tmpfs leaked");
}

#[test]
fn a_reader_never_sees_an_empty_or_partial_file_during_rewrites() {
    let hostile = Hostile::new();
    hostile.user_aws();
    file_as(&hostile.credentials(), ORIGINAL, NOBODY, 0o600);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (file, stop) = (hostile.credentials(), stop.clone());
        std::thread::spawn(move || read_in_a_loop(&file, &stop))
    };
    let runs: [&[&str]; 4] = [
        &["run"],
        &["run", "--force"],
        &["run", "--force"],
        &["run", "--force"],
    ];
    for args in runs {
        let output = hostile.agent(args, &Launch::default());
        assert_eq!(code(&output), 0, "{}", text(&output));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (reads, contents) = reader.join().unwrap();
    assert!(reads > 0);
    assert!(
        contents >= 2,
        "the reader saw the file change ({contents} versions)"
    );
    let issued = hostile.emulator.issued();
    assert_eq!(issued.len(), 4);
    let read = botocore_read(&hostile.credentials());
    assert_eq!(
        read["credentials"]["prod-admin"][1],
        issued[3]["secret_access_key"]
    );
}

/// Reads and checks the file until told to stop (or 200 000 reads); returns how many reads
/// and how many distinct contents it saw.
fn read_in_a_loop(file: &Path, stop: &std::sync::atomic::AtomicBool) -> (u32, usize) {
    let mut seen = std::collections::HashSet::new();
    let mut reads = 0;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) && reads < 200_000 {
        let content = std::fs::read(file).unwrap();
        let text = String::from_utf8(content).unwrap();
        assert!(
            text.starts_with(std::str::from_utf8(ORIGINAL).unwrap()),
            "{text:?}"
        );
        assert!(text.ends_with('\n'), "{text:?}");
        if let Some(ours) = text.split("[prod-admin]").nth(1) {
            let secret = ours
                .lines()
                .find_map(|l| l.strip_prefix("aws_secret_access_key = "))
                .unwrap_or_else(|| panic!("partial profile: {text:?}"));
            assert_eq!(secret.len(), 40, "{text:?}");
            assert!(ours.contains("aws_access_key_id = "), "{text:?}");
        }
        seen.insert(text);
        reads += 1;
    }
    (reads, seen.len())
}
