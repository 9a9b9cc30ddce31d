//! The network at boot: retries that heal, failures that end fast, the deadline, TLS,
//! redirects, capped bodies, proxies and Deploy keys. The built agent against the Console
//! emulator on loopback; the redirect target and the proxy are small servers this file
//! starts on 127.0.0.1 that record what reaches them.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// A Deploy key the emulator accepts in the Deploy-key tests; searched for in outputs.
const DEPLOY_KEY: &str = "dk0deploy0key0c0ffee0123456789abc";

/// Runs `run` and checks the output never shows a secret.
fn run_agent(scenario: &Scenario, env: &[(&str, &str)]) -> Output {
    let output = scenario.agent_with(&["-v", "run"], env);
    let said = text(&output);
    assert!(!said.contains(FACTORY_AUTH), "factory auth leaked: {said}");
    assert!(!said.contains(DEPLOY_KEY), "deploy key leaked: {said}");
    output
}

fn scenario_with(emulator: &Emulator, settings: &str) -> Scenario {
    let mut scenario = Scenario::new(&emulator.url);
    scenario.extra_settings = settings.to_owned();
    scenario
}

fn assert_exit(output: &Output, exit: i32, says: &[&str]) {
    let said = text(output);
    assert_eq!(code(output), exit, "{said}");
    for s in says {
        assert!(said.contains(s), "expected '{s}' in: {said}");
    }
}

/// The token-creation requests the emulator saw.
fn creation_requests(emulator: &Emulator) -> Vec<serde_json::Value> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .unwrap()
                .starts_with("/api/v1/canarytoken/")
        })
        .collect()
}

/// Planted once: one token issued, and botocore reads its key from the file.
fn assert_planted_once(emulator: &Emulator, scenario: &Scenario) {
    let issued = emulator.issued();
    assert_eq!(issued.len(), 1, "exactly one token");
    let read = botocore_read(&scenario.credentials());
    assert_eq!(
        read["credentials"]["prod-admin"][0],
        issued[0]["access_key_id"]
    );
}

#[test]
fn each_retryable_answer_heals_and_plants_once() {
    let faults = [
        json!({"status": 500, "times": 2}),
        json!({"status": 503, "times": 1}),
        json!({"status": 429, "headers": {"Retry-After": "1"}, "times": 1}),
        json!({"close": true, "times": 2}),
    ];
    for fault in faults {
        let emulator = Emulator::start(&[]);
        let scenario = Scenario::new(&emulator.url);
        emulator.fault(fault.clone());
        let output = run_agent(&scenario, &[]);
        // Each failed attempt says its number, its cause and the wait before the next.
        assert_exit(&output, 0, &["attempt=1", "cause=", "next_delay_ms="]);
        assert_planted_once(&emulator, &scenario);
        assert!(creation_requests(&emulator).len() >= 2, "{fault}");
    }
}

#[test]
fn retry_after_is_waited_for_before_the_next_attempt() {
    let emulator = Emulator::start(&[]);
    let scenario = Scenario::new(&emulator.url);
    emulator.fault(json!({"status": 429, "headers": {"Retry-After": "2"}, "times": 1}));
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 0, &["HTTP 429"]);
    let requests = creation_requests(&emulator);
    assert_eq!(requests.len(), 2);
    let gap = requests[1]["time"].as_f64().unwrap() - requests[0]["time"].as_f64().unwrap();
    assert!(gap >= 1.9, "came back after {gap}s despite Retry-After: 2");
}

#[test]
fn refused_connections_heal_once_the_console_listens() {
    let emulator = Emulator::start(&["--refuse-connections-for", "2"]);
    let scenario = Scenario::new(&emulator.url);
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 0, &["attempt=1", "could not reach the Console"]);
    assert_planted_once(&emulator, &scenario);
}

#[test]
fn a_request_that_times_out_is_retried() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario_with(&emulator, "request_timeout_secs = 1");
    // The late answer is an error, so the timed-out attempt never issues a token, however
    // slowly this machine runs: exactly one token is issued, by the retry.
    emulator.fault(json!({"delay": 3, "status": 500, "times": 1}));
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 0, &["attempt=1", "timed out"]);
    assert_planted_once(&emulator, &scenario);
}

#[test]
fn a_slow_body_is_cut_by_the_request_timeout_and_retried() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario_with(&emulator, "request_timeout_secs = 2");
    emulator.fault(json!({"slow_body": 20, "times": 1}));
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 0, &["attempt=1"]);
    // The slow answer issued a token the agent never saw; the second attempt issued another.
    let issued = emulator.issued();
    let read = botocore_read(&scenario.credentials());
    assert_eq!(
        read["credentials"]["prod-admin"][0],
        issued.last().unwrap()["access_key_id"]
    );
}

#[test]
fn permanent_failures_are_not_retried() {
    let bad_key = json!({"result": "success", "canarytoken": {"canarytoken": "tok1",
        "access_key_id": "not-a-key", "secret_access_key": "x"}});
    let cases = [
        (
            json!({"status": 400, "json": {"result": "error", "message": "Empty memo"}}),
            "Empty memo",
        ),
        (json!({"status": 401}), "HTTP 401"),
        (
            json!({"status": 403, "json": {"result": "error", "message": "Invalid factory_auth"}}),
            "Invalid factory_auth",
        ),
        (
            json!({"status": 200, "json": {"result": "error", "message": "Could not save"}}),
            "Could not save",
        ),
        (json!({"status": 200, "json": bad_key}), "access_key_id"),
    ];
    for (fault, says) in cases {
        let emulator = Emulator::start(&[]);
        let scenario = scenario_with(&emulator, "deadline_secs = 30");
        emulator.fault(fault.clone());
        let output = run_agent(&scenario, &[]);
        assert_exit(&output, 4, &[says]);
        assert!(!text(&output).contains("retrying"), "{fault}");
        assert_eq!(creation_requests(&emulator).len(), 1, "{fault}");
        assert!(!scenario.credentials().exists());
    }
}

/// Runs against a Console that never heals; the run must end soon after its deadline.
fn assert_deadline_holds(emulator: &Emulator, says: &str) {
    let scenario = scenario_with(emulator, "deadline_secs = 4");
    let started = Instant::now();
    let output = run_agent(&scenario, &[]);
    let took = started.elapsed();
    assert_exit(
        &output,
        5,
        &["gave up after", "deadline", says, &emulator.url],
    );
    // Loose on purpose: this checks the run ends, it does not measure speed.
    assert!(took < Duration::from_secs(4 + 8), "took {took:?}");
    assert!(!scenario.credentials().exists());
}

#[test]
fn deadline_holds_against_an_always_failing_console() {
    let emulator = Emulator::start(&[]);
    emulator.fault(json!({"status": 500, "times": -1}));
    assert_deadline_holds(&emulator, "HTTP 500");
}

#[test]
fn deadline_holds_against_a_refusing_console() {
    let emulator = Emulator::start(&["--refuse-connections-for", "120"]);
    assert_deadline_holds(&emulator, "could not reach the Console");
}

#[test]
fn deadline_holds_against_an_endlessly_slow_body() {
    let emulator = Emulator::start(&[]);
    emulator.fault(json!({"slow_body": 10, "times": -1}));
    assert_deadline_holds(&emulator, "could not reach the Console");
}

#[test]
fn a_dns_failure_is_retried_until_the_deadline() {
    // A network namespace with no interface up: name lookups fail at once and no packet
    // can leave, so the bare Console hash below is never resolved or contacted.
    if !Command::new("unshare")
        .args(["-rn", "true"])
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipped: cannot create a network namespace here");
        return;
    }
    let mut scenario = Scenario::new("abc123");
    scenario.extra_settings = "deadline_secs = 3".into();
    let config = scenario.write_config();
    let mut command = Command::new("unshare");
    command.args([
        "-rn",
        "--",
        env!("CARGO_BIN_EXE_canary-bootstrap"),
        "--config",
    ]);
    command
        .arg(&config)
        .arg("run")
        .env_remove("CREDENTIALS_DIRECTORY");
    for name in PROXY_VARS {
        command.env_remove(name);
    }
    let output = run_bounded(command, Duration::from_secs(60));
    assert_exit(&output, 5, &["attempt=1", "dns error", "gave up after"]);
    assert!(!text(&output).contains(FACTORY_AUTH));
}

#[test]
fn an_endless_body_is_an_error_not_a_hang() {
    for endless in [json!(true), json!("length")] {
        let emulator = Emulator::start(&[]);
        let scenario = scenario_with(&emulator, "deadline_secs = 60");
        emulator.fault(json!({"endless": endless, "times": -1}));
        let output = run_agent(&scenario, &[]);
        assert_exit(&output, 4, &["larger than 256 KiB"]);
        assert!(!scenario.credentials().exists());
    }
}

/// A loopback server that answers every request with 200 and records what it was sent.
struct Recorder {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                stream
                    .set_read_timeout(Some(Duration::from_secs(2)))
                    .unwrap();
                let mut buf = [0u8; 65536];
                let n = stream.read(&mut buf).unwrap_or(0);
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
            }
        });
        Recorder { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

#[test]
fn a_redirect_elsewhere_never_receives_the_request() {
    let elsewhere = Recorder::start();
    for status in [301, 302, 303, 307, 308] {
        let emulator = Emulator::start(&[]);
        let scenario = scenario_with(&emulator, "deadline_secs = 30");
        let target = format!("{}/api/v1/canarytoken/factory", elsewhere.url);
        emulator.fault(json!({"status": status, "redirect": target, "times": -1}));
        let output = run_agent(&scenario, &[]);
        assert_exit(&output, 4, &["redirects are not followed", &target]);
        assert_eq!(creation_requests(&emulator).len(), 1, "status {status}");
    }
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

/// A forward proxy on loopback (plain `GET http://...` and `CONNECT`) that records each
/// request line it is sent and relays only to loopback.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || relay(stream, &log));
            }
        });
        Proxy { url, seen }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn relay(client: TcpStream, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    log.lock().unwrap().push(line.trim_end().to_owned());
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (authority, first_line) = if method == "CONNECT" {
        (target.to_owned(), None)
    } else {
        let rest = target.strip_prefix("http://").unwrap_or("");
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        (
            authority.to_owned(),
            Some(format!("{method} {path} HTTP/1.1\r\n")),
        )
    };
    let host = authority.rsplit_once(':').map_or("", |(h, _)| h);
    let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&host);
    let Some(mut upstream) = loopback
        .then(|| TcpStream::connect(&authority).ok())
        .flatten()
    else {
        let _ = (&client).write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    match first_line {
        None => {
            // Skip the CONNECT request's headers, then tunnel.
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {}
            let _ = (&client).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        }
        Some(first) => upstream.write_all(first.as_bytes()).unwrap(),
    }
    let mut up_writer = upstream.try_clone().unwrap();
    std::thread::spawn(move || std::io::copy(&mut reader, &mut up_writer));
    let _ = std::io::copy(&mut upstream, &mut &client);
}

#[test]
fn https_proxy_carries_the_console_request_and_no_proxy_bypasses_it() {
    let emulator = Emulator::start(&["--tls"]);
    let ca = emulator.state.join("ca.pem");
    let settings = format!("ca_file = \"{}\"\ndeadline_secs = 30", ca.display());
    let proxy = Proxy::start();
    let port = emulator.url.rsplit(':').next().unwrap().to_owned();

    let scenario = scenario_with(&emulator, &settings);
    let output = run_agent(&scenario, &[("HTTPS_PROXY", &proxy.url)]);
    assert_exit(&output, 0, &["token planted"]);
    assert_eq!(proxy.seen(), [format!("CONNECT 127.0.0.1:{port} HTTP/1.1")]);

    let bypass = scenario_with(&emulator, &settings);
    let env = [
        ("HTTPS_PROXY", proxy.url.as_str()),
        ("NO_PROXY", "127.0.0.1"),
    ];
    assert_exit(&run_agent(&bypass, &env), 0, &["token planted"]);
    assert_eq!(
        proxy.seen().len(),
        1,
        "NO_PROXY ignored: {:?}",
        proxy.seen()
    );
    assert_eq!(emulator.issued().len(), 2);
}

#[test]
fn http_proxy_carries_a_plain_http_console_request() {
    let emulator = Emulator::start(&[]);
    let proxy = Proxy::start();
    let scenario = Scenario::new(&emulator.url);
    let output = run_agent(&scenario, &[("HTTP_PROXY", &proxy.url)]);
    assert_exit(&output, 0, &["token planted"]);
    let expected = format!("POST {}/api/v1/canarytoken/factory HTTP/1.1", emulator.url);
    assert_eq!(proxy.seen(), [expected]);
}

#[test]
fn ca_file_trusts_a_private_ca() {
    let emulator = Emulator::start(&["--tls"]);
    let ca = emulator.state.join("ca.pem");
    let scenario = scenario_with(&emulator, &format!("ca_file = \"{}\"", ca.display()));
    assert_exit(&run_agent(&scenario, &[]), 0, &["token planted"]);
    let tls = creation_requests(&emulator)[0]["tls"].clone();
    assert!(tls == json!("TLSv1.3") || tls == json!("TLSv1.2"), "{tls}");
}

#[test]
fn ssl_cert_file_replaces_the_system_store() {
    let emulator = Emulator::start(&["--tls"]);
    let ca = emulator.state.join("ca.pem");
    let scenario = Scenario::new(&emulator.url);
    let output = run_agent(&scenario, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_exit(&output, 0, &["token planted"]);
}

#[test]
fn an_untrusted_certificate_is_retried_then_named() {
    let emulator = Emulator::start(&["--tls"]);
    let scenario = scenario_with(&emulator, "deadline_secs = 3");
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 5, &["attempt=1", "UnknownIssuer", "gave up after"]);
    assert!(emulator.issued().is_empty());
}

#[test]
fn a_host_without_any_ca_store_gets_a_clear_error() {
    let emulator = Emulator::start(&["--tls"]);
    let scenario = Scenario::new(&emulator.url);
    let empty_file = scenario.path("no-certs.pem");
    std::fs::write(&empty_file, "").unwrap();
    let empty_dir = scenario.path("no-certs.d");
    std::fs::create_dir(&empty_dir).unwrap();
    let env = [
        ("SSL_CERT_FILE", empty_file.to_str().unwrap()),
        ("SSL_CERT_DIR", empty_dir.to_str().unwrap()),
    ];
    let output = run_agent(&scenario, &env);
    assert_exit(&output, 3, &["no CA certificates found"]);
    assert!(!text(&output).contains("panicked"));
    assert!(emulator.requests().is_empty());
}

/// Makes a CA and a server certificate for 127.0.0.1 whose validity starts in 2040, as a
/// host whose clock is still wrong at boot would see a current one.
fn not_yet_valid_certificate(dir: &Path) {
    let conf = "[ca]\ndefault_ca = ca\n[ca]\ndatabase = index.txt\nnew_certs_dir = .\n\
        serial = serial\ndefault_md = sha256\npolicy = any\ncopy_extensions = copy\n\
        [any]\ncommonName = supplied\n";
    std::fs::write(dir.join("ca.cnf"), conf).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=test ca",
            "-days",
            "30",
        ],
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        &[
            "ca",
            "-batch",
            "-config",
            "ca.cnf",
            "-cert",
            "ca.pem",
            "-keyfile",
            "ca.key",
            "-in",
            "server.csr",
            "-out",
            "server.pem",
            "-notext",
            "-startdate",
            "20400101000000Z",
            "-enddate",
            "20410101000000Z",
        ],
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_certificate_not_yet_valid_is_retried() {
    let certs = tempfile::tempdir().unwrap();
    not_yet_valid_certificate(certs.path());
    let (cert, key) = (
        certs.path().join("server.pem"),
        certs.path().join("server.key"),
    );
    let emulator = Emulator::start(&[
        "--tls",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
    ]);
    let ca = certs.path().join("ca.pem");
    let settings = format!("ca_file = \"{}\"\ndeadline_secs = 4", ca.display());
    let output = run_agent(&scenario_with(&emulator, &settings), &[]);
    assert_exit(&output, 5, &["attempt=1", "attempt=2", "not valid yet"]);
}

#[test]
fn tls_older_than_1_2_is_refused() {
    // A TLS 1.1-only server made from the emulator's own certificate.
    let emulator = Emulator::start(&["--tls"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let mut server = Command::new("openssl")
        .args([
            "s_server",
            "-quiet",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ])
        .args(["-accept", &format!("127.0.0.1:{port}")])
        .arg("-cert")
        .arg(emulator.state.join("server.pem"))
        .arg("-key")
        .arg(emulator.state.join("server.key"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "openssl s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut scenario = Scenario::new(&format!("https://127.0.0.1:{port}"));
    let ca = emulator.state.join("ca.pem");
    scenario.extra_settings = format!("ca_file = \"{}\"\ndeadline_secs = 3", ca.display());
    let output = run_agent(&scenario, &[]);
    let _ = server.kill();
    let _ = server.wait();
    assert_exit(&output, 5, &["gave up after"]);
    assert!(
        text(&output).to_lowercase().contains("protocol"),
        "{}",
        text(&output)
    );
}

fn deploy_emulator() -> (Emulator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("deploy_key");
    write_private(&key, DEPLOY_KEY);
    let emulator = Emulator::start(&["--deploy-key-file", key.to_str().unwrap()]);
    (emulator, dir)
}

#[test]
fn a_deploy_key_goes_in_the_header_to_canarytoken_create() {
    let (emulator, _dir) = deploy_emulator();
    let mut scenario = Scenario::new(&emulator.url);
    let key = scenario.path("deploy_key");
    write_private(&key, &format!("{DEPLOY_KEY}\n"));
    // The factory auth file is not needed, and not read, with a Deploy key.
    std::fs::remove_file(scenario.path("factory_auth")).unwrap();
    scenario.extra_settings = format!("deploy_key_file = \"{}\"\nexpiry = \"12h\"", key.display());
    let output = scenario.agent_with(&["-vv", "run"], &[]);
    assert_exit(&output, 0, &["token planted"]);
    assert!(!text(&output).contains(DEPLOY_KEY));

    let requests = creation_requests(&emulator);
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["path"], "/api/v1/canarytoken/create");
    assert_eq!(requests[0]["fields"], json!(["memo", "kind", "expiry"]));
    let headers: Vec<String> = requests[0]["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().to_lowercase())
        .collect();
    assert!(
        headers.contains(&"x-canary-auth-token".to_owned()),
        "{headers:?}"
    );
    let issued = emulator.issued();
    assert!(
        issued[0]["factory_auth_id"]
            .as_str()
            .unwrap()
            .starts_with("dk-")
    );
    assert_eq!(issued[0]["expiry"], "12h");
    assert_planted_once(&emulator, &scenario);
}

#[test]
fn a_wrong_deploy_key_is_refused() {
    let (emulator, _dir) = deploy_emulator();
    let mut scenario = Scenario::new(&emulator.url);
    let key = scenario.path("deploy_key");
    write_private(&key, "dk0wrong0wrong0wrong\n");
    scenario.extra_settings = format!("deploy_key_file = \"{}\"", key.display());
    let output = run_agent(&scenario, &[]);
    assert_exit(&output, 4, &["Invalid auth_token"]);
    assert!(!text(&output).contains("dk0wrong0wrong0wrong"));
}

#[test]
fn expiry_is_sent_with_a_factory_auth_and_checked() {
    let emulator = Emulator::start(&[]);
    let scenario = scenario_with(&emulator, "expiry = \"6mo\"");
    assert_exit(&run_agent(&scenario, &[]), 0, &["token planted"]);
    assert_eq!(emulator.issued()[0]["expiry"], "6mo");

    let bad = scenario_with(&emulator, "expiry = \"6 months\"");
    assert_exit(&run_agent(&bad, &[]), 3, &["'expiry'", "config.toml"]);
    assert_eq!(
        creation_requests(&emulator).len(),
        1,
        "no request for bad settings"
    );
}
