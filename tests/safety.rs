//! Safety: no LocalStack, a non-LocalStack endpoint, secrets in the environment, bad packages.

use std::process::Command;

use crate::util::{Lab, Target, command_in, exstack_in, run, target};

#[test]
fn nothing_at_the_endpoint_is_one_clear_line() {
    let lab = Lab::new("noendpoint");
    let run = exstack_in(lab.dir.path(), "http://127.0.0.1:9", &["status"]);
    assert_eq!(run.code, 1);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("nothing answers at http://127.0.0.1:9"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("scripts/localstack start"),
        "{}",
        run.stderr
    );
}

/// An HTTP server that answers 404 to everything: something, but not LocalStack or an AWS API.
fn not_found_server() -> String {
    http_server(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
}

/// An HTTP server that gives every request the same raw `answer`.
fn http_server(answer: &'static [u8]) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            use std::io::{Read, Write};
            let mut stream = stream;
            let mut buf = [0u8; 2048];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(answer);
        }
    });
    format!("http://127.0.0.1:{port}")
}

/// Something that answers HTTP but is not LocalStack (here: a port that returns 404 for
/// the health path) is refused before any AWS call, and the refusal says how to name it.
#[test]
fn non_localstack_endpoint_is_refused() {
    let endpoint = not_found_server();
    let lab = Lab::new("notls");
    let run = exstack_in(lab.dir.path(), &endpoint, &["up"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("does not look like LocalStack"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--aws"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("EXSTACK_EMULATOR={endpoint}")),
        "{}",
        run.stderr
    );
}

/// A 200 to the health path is not enough: LocalStack's answer lists its services.
#[test]
fn an_ok_that_is_not_localstacks_health_is_refused() {
    let endpoint = http_server(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    let lab = Lab::new("okhealth");
    let run = exstack_in(lab.dir.path(), &endpoint, &["status"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("does not look like LocalStack"),
        "{}",
        run.stderr
    );
}

/// Naming an endpoint in EXSTACK_EMULATOR is what lets exstack act on it: the same server is
/// then asked who we are (STS), and its non-AWS answer stops the run there. Naming another
/// endpoint does not count.
#[test]
fn only_the_named_endpoint_is_taken_for_an_emulator() {
    let endpoint = not_found_server();
    let lab = Lab::new("named");
    let with = |declared: &str| {
        let mut cmd = command_in(lab.dir.path(), &endpoint, &["status"]);
        cmd.env("EXSTACK_EMULATOR", declared);
        run(cmd)
    };
    let other = with("http://127.0.0.1:9, http://localhost:1");
    assert_eq!(other.code, 1);
    assert!(
        other.stderr.contains("does not look like LocalStack"),
        "{}",
        other.stderr
    );
    let named = with(&endpoint.replace("127.0.0.1", "localhost"));
    assert_eq!(named.code, 1);
    assert!(
        !named.stderr.contains("does not look like LocalStack"),
        "{}",
        named.stderr
    );
    assert!(
        named.stderr.contains("GetCallerIdentity failed: HTTP 404"),
        "{}",
        named.stderr
    );
}

/// moto (when it is the test target) is refused like any other non-LocalStack endpoint until
/// it is named, and acted on once it is.
#[test]
fn moto_is_acted_on_only_when_named() {
    if target() != Target::Moto {
        eprintln!("skipped moto_is_acted_on_only_when_named: needs EXSTACK_TEST_TARGET=moto");
        return;
    }
    let lab = Lab::new("motonamed");
    let mut unnamed = lab.command(&["status"]);
    unnamed.env_remove("EXSTACK_EMULATOR");
    let unnamed = run(unnamed);
    assert_eq!(unnamed.code, 1);
    assert!(
        unnamed.stderr.contains("does not look like LocalStack"),
        "{}",
        unnamed.stderr
    );
    // Named: read, found nothing (exit 3 = not in sync).
    let named = lab.exstack(&["status"]);
    assert_eq!(named.code, 3, "{}", named.stderr);
}

/// Planted credentials never appear in any output, at any verbosity, errors included.
#[test]
fn secrets_never_appear_in_output() {
    const KEY: &str = "AKIAPLANTEDFAKEKEY01";
    const SECRET: &str = "plantedSecretKeyDoNotPrint/0123456789abcd";
    const TOKEN: &str = "plantedSessionTokenDoNotPrint0123456789";
    let lab = Lab::new("secrets");
    let runs = [
        vec!["up", "-v"],
        vec!["status", "-v", "-o", "json"],
        vec!["plan", "-o", "json"],
        vec!["up", "--endpoint-url", "http://127.0.0.1:9"],
        vec!["down", "-v"],
    ];
    for args in runs {
        let out = Command::new(env!("CARGO_BIN_EXE_exstack"))
            .current_dir(lab.dir.path())
            .args(&args)
            .env("AWS_ENDPOINT_URL", &lab.endpoint)
            .env("AWS_ACCESS_KEY_ID", KEY)
            .env("AWS_SECRET_ACCESS_KEY", SECRET)
            .env("AWS_SESSION_TOKEN", TOKEN)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        for secret in [KEY, SECRET, TOKEN] {
            assert!(
                !all.contains(secret),
                "`exstack {}` printed a secret:\n{all}",
                args.join(" ")
            );
        }
    }
}

#[cfg(unix)]
#[test]
fn symlink_out_of_the_code_directory_uploads_nothing() {
    let lab = Lab::new("symlink");
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), lab.path("functions/leak.py")).unwrap();
    lab.edit_stack(
        "files = [\"task_processor.py\"]",
        "files = [\"task_processor.py\", \"leak.py\"]",
    );
    let run = lab.exstack(&["up", "-o", "json"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("points outside the code directory"),
        "{}",
        run.stderr
    );
    // Only the error document: no outcomes, so nothing was done.
    let json = run.json();
    assert!(
        json["ok"] == false && json.get("outcomes").is_none(),
        "nothing should have been done: {json}"
    );
}
