//! A private copy of the exercise per test: the repo's stack.toml with every resource name
//! suffixed, so tests run in parallel against one LocalStack without touching each other.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_config::BehaviorVersion;

pub fn endpoint() -> String {
    std::env::var("EXSTACK_TEST_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:4566".into())
}

/// What answers at $EXSTACK_TEST_ENDPOINT: `EXSTACK_TEST_TARGET=moto` for moto's server
/// (named to exstack as an emulator), `ministack` for MiniStack (which exstack recognises
/// itself), LocalStack otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    LocalStack,
    MiniStack,
    Moto,
}

pub fn target() -> Target {
    match std::env::var("EXSTACK_TEST_TARGET").as_deref() {
        Ok("moto") => Target::Moto,
        Ok("ministack") => Target::MiniStack,
        Ok("localstack") | Ok("") | Err(_) => Target::LocalStack,
        Ok(other) => {
            panic!("EXSTACK_TEST_TARGET={other}: expected `localstack`, `ministack` or `moto`")
        }
    }
}

/// For tests that need functions to run: true (after saying why) where they cannot.
pub fn skip_without_function_execution(test: &str) -> bool {
    let skip = target() == Target::Moto;
    if skip {
        eprintln!(
            "skipped {test}: moto's server runs no Lambda functions (EXSTACK_TEST_TARGET=moto)"
        );
    }
    skip
}

/// An emulator of the test target's kind that a test starts on a port of its own (`base` plus
/// a share of the process id, so parallel runs do not meet), stopped when dropped.
pub struct Instance {
    pub endpoint: String,
    port: u16,
    script: PathBuf,
}

impl Instance {
    /// Started and healthy; `base` differs per test so two tests never share a port.
    pub fn start(base: u16) -> Instance {
        let script = match target() {
            Target::LocalStack => "scripts/localstack",
            Target::MiniStack => "scripts/ministack",
            Target::Moto => "scripts/moto",
        };
        let port = base + (std::process::id() % 20) as u16;
        let instance = Instance {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            script: repo().join(script),
        };
        instance.run("start");
        instance
    }

    /// `start` or `stop`, which must succeed.
    pub fn run(&self, command: &str) {
        let status = Command::new(&self.script)
            .args([command, "--port", &self.port.to_string()])
            .status()
            .expect("the emulator's script");
        assert!(
            status.success(),
            "{} {command} failed",
            self.script.display()
        );
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.run("stop");
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Names in the repo's stack.toml, longest first so `task-queue-to-processor` is replaced
/// before `task-queue`.
const NAMES: &[&str] = &[
    "task-queue-to-processor",
    "lambda-sqs-processor",
    "lambda-api-enqueue",
    "SQSProcessorPolicy",
    "ApiEnqueuePolicy",
    "task-processor",
    "task-results",
    "api-enqueue",
    "task-queue",
    "exercise-6",
    "task-dlq",
    "task-api",
];

pub struct Lab {
    pub dir: tempfile::TempDir,
    pub suffix: String,
    pub endpoint: String,
    /// The endpoint named in EXSTACK_EMULATOR for exstack, when the target is not LocalStack.
    pub emulator: Option<String>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("not JSON ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

impl Lab {
    /// A lab whose resource names end in `-<test>-<n>`.
    pub fn new(test: &str) -> Lab {
        Lab::with_endpoint(test, &endpoint())
    }

    pub fn with_endpoint(test: &str, endpoint: &str) -> Lab {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let suffix = format!(
            "{}{}{n}",
            test.replace('_', "").to_lowercase(),
            std::process::id() % 1000
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let mut text = std::fs::read_to_string(repo().join("stack.toml")).expect("repo stack.toml");
        // Two passes through placeholders, so `api-enqueue` never matches inside the already
        // renamed `lambda-api-enqueue-<suffix>`.
        for (i, name) in NAMES.iter().enumerate() {
            text = text.replace(name, &format!("\u{1}{i}\u{1}"));
        }
        for (i, name) in NAMES.iter().enumerate() {
            text = text.replace(&format!("\u{1}{i}\u{1}"), &format!("{name}-{suffix}"));
        }
        std::fs::write(dir.path().join("stack.toml"), text).expect("write stack.toml");
        let functions = dir.path().join("functions");
        std::fs::create_dir(&functions).expect("functions dir");
        for f in ["task_processor.py", "api_enqueue.py"] {
            std::fs::copy(repo().join("functions").join(f), functions.join(f))
                .expect("copy function");
        }
        Lab {
            dir,
            suffix,
            endpoint: endpoint.to_owned(),
            emulator: (target() == Target::Moto).then(|| endpoint.to_owned()),
        }
    }

    /// The suffixed name of a resource of the repo's stack.
    pub fn name(&self, original: &str) -> String {
        format!("{original}-{}", self.suffix)
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    pub fn edit_stack(&self, from: &str, to: &str) {
        let path = self.path("stack.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "stack.toml has no `{from}`");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    }

    /// Puts the whole lab (every command, the clean-up too) in `region`.
    pub fn set_region(&self, region: &str) {
        let name = format!("name = \"{}\"", self.name("exercise-6"));
        self.edit_stack(&name, &format!("{name}\nregion = \"{region}\""));
    }

    pub fn exstack(&self, args: &[&str]) -> Run {
        run(self.command(args))
    }

    /// exstack in this lab, with this lab's emulator (if any) named to it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = command_in(self.dir.path(), &self.endpoint, args);
        if let Some(e) = &self.emulator {
            cmd.env("EXSTACK_EMULATOR", e);
        }
        cmd
    }

    pub async fn clients(&self) -> Clients {
        Clients::new(&self.endpoint).await
    }
}

/// A test that fails half-way still cleans up after itself, so LocalStack does not fill up.
impl Drop for Lab {
    fn drop(&mut self) {
        let _ = run(self.command(&["down"]));
    }
}

/// The exstack binary in `dir` with a clean AWS environment pointed at `endpoint`; the test
/// target is named as an emulator when it is one (never `endpoint` itself, which may be a fake).
pub fn command_in(dir: &Path, endpoint: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exstack"));
    cmd.current_dir(dir)
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_REGION")
        .env_remove("AWS_PROFILE")
        .env_remove("EXSTACK_EMULATOR")
        .env_remove("EXSTACK_FAULT_DIE_AFTER_WRITES");
    if target() == Target::Moto {
        cmd.env("EXSTACK_EMULATOR", self::endpoint());
    }
    cmd
}

/// Runs a prepared exstack command to completion.
pub fn run(mut cmd: Command) -> Run {
    let out: Output = cmd.output().expect("run exstack");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs the exstack binary with a clean AWS environment pointed at `endpoint`.
pub fn exstack_in(dir: &Path, endpoint: &str, args: &[&str]) -> Run {
    run(command_in(dir, endpoint, args))
}

/// xorshift64*, seeded through splitmix64 so any seed (0 included) works and a seed replays
/// exactly; no crate needed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Deletes every event source mapping of `function`, as a student might by mistake.
pub async fn delete_mappings(c: &Clients, function: &str) {
    let listed = c
        .lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
        .unwrap();
    for m in listed.event_source_mappings() {
        c.lambda
            .delete_event_source_mapping()
            .uuid(m.uuid().unwrap())
            .send()
            .await
            .unwrap();
    }
}

/// SDK clients for out-of-band changes, as a student at the AWS CLI would make them.
pub struct Clients {
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub sts: aws_sdk_sts::Client,
}

impl Clients {
    pub async fn new(endpoint: &str) -> Clients {
        Clients::in_region(endpoint, "us-east-1").await
    }

    pub async fn in_region(endpoint: &str, region: &str) -> Clients {
        let creds = aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "tests");
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(creds)
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Clients {
            sqs: aws_sdk_sqs::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigateway: aws_sdk_apigateway::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
        }
    }

    /// The account the target says we are in (LocalStack 000000000000, moto 123456789012).
    pub async fn account(&self) -> String {
        let who = self.sts.get_caller_identity().send().await.unwrap();
        who.account.unwrap()
    }

    /// Replaces a function's code by hand (as a student's console edit would) with a one-file
    /// zip named `file` whose handler returns 1.
    pub async fn replace_code(&self, function: &str, file: &str) {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        zip.start_file(file, zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, b"def handler(event, context):\n    return 1\n")
            .unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        self.lambda
            .update_function_code()
            .function_name(function)
            .zip_file(aws_sdk_lambda::primitives::Blob::new(bytes))
            .send()
            .await
            .expect("UpdateFunctionCode");
    }

    /// The id of the API's `/tasks` resource (the route the exercise's POST goes to).
    pub async fn tasks_route_id(&self, api: &str) -> Option<String> {
        let resources = self
            .apigateway
            .get_resources()
            .rest_api_id(api)
            .limit(500)
            .send()
            .await
            .expect("GetResources");
        resources
            .items()
            .iter()
            .find(|r| r.path() == Some("/tasks"))
            .and_then(|r| r.id().map(str::to_owned))
    }

    pub async fn queue_url(&self, name: &str) -> String {
        self.sqs
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap()
    }
}

/// An endpoint where nothing listens: a port the kernel just handed out and took back.
pub fn dead_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
