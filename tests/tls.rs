//! `verify` calls an API over https with the TLS stack the SDK brings (rustls on aws-lc-rs),
//! checking the certificate: against a local server with a self-signed certificate, trusted
//! through SSL_CERT_FILE as on any machine, and refused when it is not trusted.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::util::{command_in, endpoint, run};

/// A self-signed certificate for localhost, made with the openssl command line.
fn certificate(dir: &std::path::Path) {
    let made = Command::new("openssl")
        .current_dir(dir)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            // A server's certificate, not an authority's: webpki refuses a CA as the server.
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success(), "openssl could not make a certificate");
}

/// Python's https server answering every GET with `{"ok": true}`; prints its port first.
const SERVER: &str = r#"
import http.server, json, ssl, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"ok": True, "path": self.path}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
tls.load_cert_chain("cert.pem", "key.pem")
server.socket = tls.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(dir: &std::path::Path) -> (Server, u16) {
    let mut child = Command::new("python3")
        .current_dir(dir)
        .args(["-c", SERVER])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line.trim().parse().expect("the server's port");
    (Server(child), port)
}

#[test]
fn verify_calls_an_https_api_and_checks_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    certificate(dir.path());
    let (_server, port) = serve(dir.path());
    let stack = format!(
        "[stack]\nname = \"tls-{}\"\n\n[checks.https]\nabout = \"an https API answers\"\n[[checks.https.steps]]\nrequest = \"GET https://localhost:{port}/ping\"\nstatus = 200\nexpect = {{ ok = true, path = \"/ping\" }}\n",
        std::process::id()
    );
    std::fs::write(dir.path().join("stack.toml"), stack).unwrap();
    let cert = dir.path().join("cert.pem");

    let mut trusted = command_in(dir.path(), &endpoint(), &["verify"]);
    trusted.env("SSL_CERT_FILE", &cert);
    let passed = run(trusted);
    assert_eq!(passed.code, 0, "{}\n{}", passed.stdout, passed.stderr);
    assert!(
        passed.stdout.contains("an https API answers"),
        "{}",
        passed.stdout
    );

    // Not trusted: the request fails on the certificate, not silently accepted.
    let mut untrusted = command_in(dir.path(), &endpoint(), &["verify"]);
    untrusted.env("SSL_CERT_FILE", dir.path().join("no-such-file.pem"));
    let refused = run(untrusted);
    assert_eq!(
        refused.code, 3,
        "a failed check: {}\n{}",
        refused.stdout, refused.stderr
    );
    assert!(
        refused.stdout.contains("invalid peer certificate"),
        "{}",
        refused.stdout
    );
}
