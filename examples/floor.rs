//! The floor for bench/run: exercise 6's stack made and removed with the fewest API calls,
//! each issued the moment what it needs is known, from one warm process with one SDK config
//! (one connection pool). No state file, no diff, no ownership tags, no health check, no account
//! lookup (LocalStack's 000000000000 is assumed): the physical limit that exstack is measured
//! against.
//!
//!   cargo run --release --example floor -- up|down|status|check [--endpoint-url URL] [-v]
//!
//! up      creates everything (fails if something exists), then waits, polling every 10 ms, until
//!         both functions are Active and the event source mapping is Enabled: the same "done" as
//!         exstack's. A Lambda call in the first wave makes a fresh LocalStack load Lambda while
//!         the roles are being made.
//! down    deletes everything; what is already gone is fine (so it also serves as a clean-up).
//! status  the reads that checking every resource's settings needs, all as early as possible:
//!         the floor for `exstack status` and for an `up` with nothing to do.
//! check   exit 0 when none of the stack's resources exists, else list what does.
//!
//! Prints one JSON line on stdout: {"command", "ms" (first request to last answer), "calls",
//! "setup_ms" (SDK config and clients, before the first request)}; -v adds a timeline on stderr.

use std::io::{Cursor, Write as _};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_apigateway::types::IntegrationType;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime, State};
use aws_sdk_sqs::config::Credentials;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use futures::future::{FutureExt, try_join_all};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const POLL: Duration = Duration::from_millis(10);

const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

struct Floor {
    sqs: aws_sdk_sqs::Client,
    s3: aws_sdk_s3::Client,
    iam: aws_sdk_iam::Client,
    lambda: aws_sdk_lambda::Client,
    apigw: aws_sdk_apigateway::Client,
    t0: Instant,
    /// (operation, start ms, end ms) of every call.
    log: Mutex<Vec<(String, f64, f64)>>,
}

/// A call's error as text (cloneable, so shared futures can carry it).
type R<T> = std::result::Result<T, String>;

fn err<E: ProvideErrorMetadata + std::fmt::Debug>(op: &str, e: E) -> String {
    match (e.code(), e.message()) {
        (Some(c), m) => format!("{op}: {c}: {}", m.unwrap_or("")),
        _ => format!("{op}: {e:?}"),
    }
}

/// Not-found answers, which `down` takes as already done.
fn is_missing<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some(
            "NoSuchEntity"
                | "ResourceNotFoundException"
                | "AWS.SimpleQueueService.NonExistentQueue"
                | "QueueDoesNotExist"
                | "NoSuchBucket"
                | "NotFoundException"
                | "NotFound"
        )
    )
}

impl Floor {
    async fn new(endpoint: &str) -> Floor {
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new("test", "test", None, None, "floor"))
            .load()
            .await;
        let s3 = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Floor {
            sqs: aws_sdk_sqs::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            iam: aws_sdk_iam::Client::new(&config),
            lambda: aws_sdk_lambda::Client::new(&config),
            apigw: aws_sdk_apigateway::Client::new(&config),
            t0: Instant::now(),
            log: Mutex::new(Vec::new()),
        }
    }

    fn ms(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * 1000.0
    }

    /// Times one call into the timeline.
    async fn call<T>(&self, op: &str, fut: impl std::future::Future<Output = T>) -> T {
        let start = self.ms();
        let out = fut.await;
        self.log
            .lock()
            .unwrap()
            .push((op.to_owned(), start, self.ms()));
        out
    }

    fn calls(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    // --- up ----------------------------------------------------------------------------------

    async fn up(&self, repo: &Path) -> Result<()> {
        let processor_zip = zip_one(repo, "task_processor.py")?;
        let api_zip = zip_one(repo, "api_enqueue.py")?;
        let queue_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:task-queue");
        let dlq_arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:task-dlq");
        let api_fn_arn = format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:api-enqueue");

        // Queues: the main queue names the DLQ in its redrive policy, so it waits for it.
        let queue = async {
            self.call(
                "sqs:CreateQueue",
                self.sqs.create_queue().queue_name("task-dlq").send(),
            )
            .await
            .map_err(|e| err("CreateQueue task-dlq", e))?;
            let redrive =
                serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"})
                    .to_string();
            let q = self
                .call(
                    "sqs:CreateQueue",
                    self.sqs
                        .create_queue()
                        .queue_name("task-queue")
                        .attributes(QueueAttributeName::RedrivePolicy, redrive)
                        .attributes(QueueAttributeName::VisibilityTimeout, "60")
                        .send(),
                )
                .await
                .map_err(|e| err("CreateQueue task-queue", e))?;
            R::Ok(q.queue_url.unwrap_or_default())
        }
        .shared();

        let bucket = async {
            self.call(
                "s3:CreateBucket",
                self.s3.create_bucket().bucket("task-results").send(),
            )
            .await
            .map_err(|e| err("CreateBucket", e))?;
            R::Ok(())
        };

        // Lambda's first call on a fresh LocalStack loads the service; make it early.
        let warm = async {
            self.call(
                "lambda:GetAccountSettings",
                self.lambda.get_account_settings().send(),
            )
            .await
            .map_err(|e| err("GetAccountSettings", e))?;
            R::Ok(())
        };

        let processor_policy = policy_doc(&[
            (
                &[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                ],
                &queue_arn,
            ),
            (&["s3:PutObject"], "arn:aws:s3:::task-results/*"),
            (
                &[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "*",
            ),
        ]);
        let api_policy = policy_doc(&[
            (&["sqs:SendMessage"], &queue_arn),
            (
                &[
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "*",
            ),
        ]);

        // Roles and policies; the attachment needs both, the function only the role.
        let proc_role = self.role("lambda-sqs-processor").shared();
        let api_role = self.role("lambda-api-enqueue").shared();
        let proc_attach = async {
            let (r, p) = futures::join!(
                proc_role.clone(),
                self.policy("SQSProcessorPolicy", &processor_policy)
            );
            r?;
            self.attach("lambda-sqs-processor", &p?).await
        };
        let api_attach = async {
            let (r, p) = futures::join!(
                api_role.clone(),
                self.policy("ApiEnqueuePolicy", &api_policy)
            );
            r?;
            self.attach("lambda-api-enqueue", &p?).await
        };

        // Functions: created as soon as their role (and, for the API one, the queue URL) exist.
        let proc_fn = async {
            let role = proc_role.clone().await?;
            // As stack.toml sets it: the emulator tells the function where it is.
            let env = [("RESULTS_BUCKET", "task-results".to_owned())];
            self.function(
                "task-processor",
                "task_processor.handler",
                &role,
                120,
                &processor_zip,
                &env,
            )
            .await
        }
        .shared();
        let api_fn = async {
            let (role, url) = futures::join!(api_role.clone(), queue.clone());
            let env = [("QUEUE_URL", url?)];
            self.function(
                "api-enqueue",
                "api_enqueue.handler",
                &role?,
                30,
                &api_zip,
                &env,
            )
            .await
        }
        .shared();
        let proc_active = async {
            proc_fn.clone().await?;
            self.wait_active("task-processor").await
        };
        let api_active = async {
            api_fn.clone().await?;
            self.wait_active("api-enqueue").await
        };

        let mapping = async {
            let (f, q) = futures::join!(proc_fn.clone(), queue.clone());
            f?;
            q?;
            let m = self
                .call(
                    "lambda:CreateEventSourceMapping",
                    self.lambda
                        .create_event_source_mapping()
                        .function_name("task-processor")
                        .event_source_arn(&queue_arn)
                        .batch_size(5)
                        .maximum_batching_window_in_seconds(10)
                        .send(),
                )
                .await
                .map_err(|e| err("CreateEventSourceMapping", e))?;
            let uuid = m.uuid.unwrap_or_default();
            loop {
                let m = self
                    .call(
                        "lambda:GetEventSourceMapping",
                        self.lambda.get_event_source_mapping().uuid(&uuid).send(),
                    )
                    .await
                    .map_err(|e| err("GetEventSourceMapping", e))?;
                if m.state() == Some("Enabled") {
                    return R::Ok(());
                }
                tokio::time::sleep(POLL).await;
            }
        };

        // The API: a chain of calls, each needing the id the previous one returned.
        let api_id = async {
            let api = self
                .call(
                    "apigateway:CreateRestApi",
                    self.apigw
                        .create_rest_api()
                        .name("task-api")
                        .description("Async Task Submission API")
                        .send(),
                )
                .await
                .map_err(|e| err("CreateRestApi", e))?;
            R::Ok((
                api.id.unwrap_or_default(),
                api.root_resource_id.unwrap_or_default(),
            ))
        }
        .shared();
        let routes = async {
            let (id, root) = api_id.clone().await?;
            let res = self
                .call(
                    "apigateway:CreateResource",
                    self.apigw
                        .create_resource()
                        .rest_api_id(&id)
                        .parent_id(root)
                        .path_part("tasks")
                        .send(),
                )
                .await
                .map_err(|e| err("CreateResource", e))?;
            let res = res.id.unwrap_or_default();
            self.call(
                "apigateway:PutMethod",
                self.apigw
                    .put_method()
                    .rest_api_id(&id)
                    .resource_id(&res)
                    .http_method("POST")
                    .authorization_type("NONE")
                    .send(),
            )
            .await
            .map_err(|e| err("PutMethod", e))?;
            let uri = format!(
                "arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{api_fn_arn}/invocations"
            );
            self.call(
                "apigateway:PutIntegration",
                self.apigw
                    .put_integration()
                    .rest_api_id(&id)
                    .resource_id(&res)
                    .http_method("POST")
                    .r#type(IntegrationType::AwsProxy)
                    .integration_http_method("POST")
                    .uri(uri)
                    .send(),
            )
            .await
            .map_err(|e| err("PutIntegration", e))?;
            self.call(
                "apigateway:CreateDeployment",
                self.apigw
                    .create_deployment()
                    .rest_api_id(&id)
                    .stage_name("dev")
                    .send(),
            )
            .await
            .map_err(|e| err("CreateDeployment", e))?;
            R::Ok(())
        };
        let permission = async {
            let (f, api) = futures::join!(api_fn.clone(), api_id.clone());
            f?;
            let (id, _) = api?;
            self.call(
                "lambda:AddPermission",
                self.lambda
                    .add_permission()
                    .function_name("api-enqueue")
                    .statement_id("apigateway-post-tasks")
                    .action("lambda:InvokeFunction")
                    .principal("apigateway.amazonaws.com")
                    .source_arn(format!(
                        "arn:aws:execute-api:{REGION}:{ACCOUNT}:{id}/*/POST/tasks"
                    ))
                    .send(),
            )
            .await
            .map_err(|e| err("AddPermission", e))?;
            R::Ok(())
        };

        let (a, b, c, d, e, f, g, h, i, j) = futures::join!(
            queue.clone().map(|r| r.map(|_| ())),
            bucket,
            warm,
            proc_attach,
            api_attach,
            proc_active,
            api_active,
            mapping,
            routes,
            permission
        );
        let errors: Vec<String> = [a, b, c, d, e, f, g, h, i, j]
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            bail!(errors.join("\n"))
        }
    }

    async fn role(&self, name: &str) -> R<String> {
        let r = self
            .call(
                "iam:CreateRole",
                self.iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(TRUST)
                    .send(),
            )
            .await
            .map_err(|e| err("CreateRole", e))?;
        Ok(r.role.map(|r| r.arn).unwrap_or_default())
    }

    async fn policy(&self, name: &str, doc: &str) -> R<String> {
        let p = self
            .call(
                "iam:CreatePolicy",
                self.iam
                    .create_policy()
                    .policy_name(name)
                    .policy_document(doc)
                    .send(),
            )
            .await
            .map_err(|e| err("CreatePolicy", e))?;
        Ok(p.policy.and_then(|p| p.arn).unwrap_or_default())
    }

    async fn attach(&self, role: &str, policy_arn: &str) -> R<()> {
        self.call(
            "iam:AttachRolePolicy",
            self.iam
                .attach_role_policy()
                .role_name(role)
                .policy_arn(policy_arn)
                .send(),
        )
        .await
        .map_err(|e| err("AttachRolePolicy", e))?;
        Ok(())
    }

    async fn function(
        &self,
        name: &str,
        handler: &str,
        role: &str,
        timeout: i32,
        zip: &[u8],
        env: &[(&str, String)],
    ) -> R<()> {
        let vars = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        self.call(
            "lambda:CreateFunction",
            self.lambda
                .create_function()
                .function_name(name)
                .runtime(Runtime::Python39)
                .role(role)
                .handler(handler)
                .timeout(timeout)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(zip.to_vec()))
                        .build(),
                )
                .environment(Environment::builder().set_variables(Some(vars)).build())
                .send(),
        )
        .await
        .map_err(|e| err("CreateFunction", e))?;
        Ok(())
    }

    async fn wait_active(&self, name: &str) -> R<()> {
        loop {
            let c = self
                .call(
                    "lambda:GetFunctionConfiguration",
                    self.lambda
                        .get_function_configuration()
                        .function_name(name)
                        .send(),
                )
                .await
                .map_err(|e| err("GetFunctionConfiguration", e))?;
            match c.state() {
                Some(State::Active) => return Ok(()),
                Some(State::Failed) => {
                    return Err(format!("{name} failed: {:?}", c.state_reason()));
                }
                _ => tokio::time::sleep(POLL).await,
            }
        }
    }

    // --- down --------------------------------------------------------------------------------

    async fn down(&self) -> Result<()> {
        let api = async {
            let apis = self
                .call(
                    "apigateway:GetRestApis",
                    self.apigw.get_rest_apis().limit(500).send(),
                )
                .await
                .map_err(|e| err("GetRestApis", e))?;
            for id in apis
                .items()
                .iter()
                .filter(|a| a.name() == Some("task-api"))
                .filter_map(|a| a.id())
            {
                ok_missing(
                    "DeleteRestApi",
                    self.call(
                        "apigateway:DeleteRestApi",
                        self.apigw.delete_rest_api().rest_api_id(id).send(),
                    )
                    .await,
                )?;
            }
            R::Ok(())
        };
        // The mapping goes before the processor function it feeds.
        let processor = async {
            let listed = self
                .call(
                    "lambda:ListEventSourceMappings",
                    self.lambda
                        .list_event_source_mappings()
                        .function_name("task-processor")
                        .send(),
                )
                .await;
            let listed = match listed {
                Err(e) if is_missing(&e) => None,
                other => Some(other.map_err(|e| err("ListEventSourceMappings", e))?),
            };
            let uuids: Vec<String> = listed
                .iter()
                .flat_map(|l| l.event_source_mappings())
                .filter_map(|m| m.uuid().map(str::to_owned))
                .collect();
            try_join_all(uuids.iter().map(|u| async move {
                ok_missing(
                    "DeleteEventSourceMapping",
                    self.call(
                        "lambda:DeleteEventSourceMapping",
                        self.lambda.delete_event_source_mapping().uuid(u).send(),
                    )
                    .await,
                )
            }))
            .await?;
            self.delete_function("task-processor").await
        };
        // The API function's permission goes with it.
        let api_fn = self.delete_function("api-enqueue");
        let iam = try_join_all(
            [
                ("lambda-sqs-processor", "SQSProcessorPolicy"),
                ("lambda-api-enqueue", "ApiEnqueuePolicy"),
            ]
            .map(|(role, policy)| async move {
                let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{policy}");
                ok_missing(
                    "DetachRolePolicy",
                    self.call(
                        "iam:DetachRolePolicy",
                        self.iam
                            .detach_role_policy()
                            .role_name(role)
                            .policy_arn(&arn)
                            .send(),
                    )
                    .await,
                )?;
                let (r, p) = futures::join!(
                    self.call(
                        "iam:DeleteRole",
                        self.iam.delete_role().role_name(role).send()
                    ),
                    self.call(
                        "iam:DeletePolicy",
                        self.iam.delete_policy().policy_arn(&arn).send()
                    )
                );
                ok_missing("DeleteRole", r)?;
                ok_missing("DeletePolicy", p)
            }),
        );
        let bucket = async {
            let first = self
                .call(
                    "s3:DeleteBucket",
                    self.s3.delete_bucket().bucket("task-results").send(),
                )
                .await;
            match first {
                Err(e) if e.code() == Some("BucketNotEmpty") => {
                    self.empty_bucket().await?;
                    ok_missing(
                        "DeleteBucket",
                        self.call(
                            "s3:DeleteBucket",
                            self.s3.delete_bucket().bucket("task-results").send(),
                        )
                        .await,
                    )
                }
                other => ok_missing("DeleteBucket", other),
            }
        };
        let queues = try_join_all(["task-queue", "task-dlq"].map(|name| async move {
            let url = self
                .call(
                    "sqs:GetQueueUrl",
                    self.sqs.get_queue_url().queue_name(name).send(),
                )
                .await;
            let url = match url {
                Err(e) if is_missing(&e) => return R::Ok(()),
                other => other
                    .map_err(|e| err("GetQueueUrl", e))?
                    .queue_url
                    .unwrap_or_default(),
            };
            ok_missing(
                "DeleteQueue",
                self.call(
                    "sqs:DeleteQueue",
                    self.sqs.delete_queue().queue_url(url).send(),
                )
                .await,
            )
        }));
        let (a, b, c, d, e, f) = futures::join!(api, processor, api_fn, iam, bucket, queues);
        let errors: Vec<String> = [a, b, c, d.map(|_| ()), e, f.map(|_| ())]
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            bail!(errors.join("\n"))
        }
    }

    async fn delete_function(&self, name: &str) -> R<()> {
        ok_missing(
            "DeleteFunction",
            self.call(
                "lambda:DeleteFunction",
                self.lambda.delete_function().function_name(name).send(),
            )
            .await,
        )
    }

    async fn empty_bucket(&self) -> R<()> {
        loop {
            let page = self
                .call(
                    "s3:ListObjectVersions",
                    self.s3.list_object_versions().bucket("task-results").send(),
                )
                .await
                .map_err(|e| err("ListObjectVersions", e))?;
            let mut ids = Vec::new();
            for v in page.versions() {
                ids.push((
                    v.key().unwrap_or_default().to_owned(),
                    v.version_id().map(str::to_owned),
                ));
            }
            for m in page.delete_markers() {
                ids.push((
                    m.key().unwrap_or_default().to_owned(),
                    m.version_id().map(str::to_owned),
                ));
            }
            if ids.is_empty() {
                return Ok(());
            }
            let objects = ids
                .into_iter()
                .map(|(k, v)| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .set_version_id(v)
                        .build()
                        .map_err(|e| e.to_string())
                })
                .collect::<R<Vec<_>>>()?;
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .build()
                .map_err(|e| e.to_string())?;
            self.call(
                "s3:DeleteObjects",
                self.s3
                    .delete_objects()
                    .bucket("task-results")
                    .delete(delete)
                    .send(),
            )
            .await
            .map_err(|e| err("DeleteObjects", e))?;
        }
    }

    // --- status ------------------------------------------------------------------------------

    /// One read per setting to compare, each issued as soon as the id it needs is known.
    async fn status(&self) -> Result<()> {
        let queue = |name: &'static str| async move {
            let url = self
                .call(
                    "sqs:GetQueueUrl",
                    self.sqs.get_queue_url().queue_name(name).send(),
                )
                .await
                .map_err(|e| err("GetQueueUrl", e))?
                .queue_url
                .unwrap_or_default();
            self.call(
                "sqs:GetQueueAttributes",
                self.sqs
                    .get_queue_attributes()
                    .queue_url(&url)
                    .attribute_names(QueueAttributeName::All)
                    .send(),
            )
            .await
            .map_err(|e| err("GetQueueAttributes", e))?;
            R::Ok(())
        };
        let bucket = async {
            self.call(
                "s3:HeadBucket",
                self.s3.head_bucket().bucket("task-results").send(),
            )
            .await
            .map_err(|e| err("HeadBucket", e))?;
            R::Ok(())
        };
        let policy = |name: &'static str| async move {
            let arn = format!("arn:aws:iam::{ACCOUNT}:policy/{name}");
            // The default version of a policy made once is v1: both reads at once.
            let (p, v) = futures::join!(
                self.call(
                    "iam:GetPolicy",
                    self.iam.get_policy().policy_arn(&arn).send()
                ),
                self.call(
                    "iam:GetPolicyVersion",
                    self.iam
                        .get_policy_version()
                        .policy_arn(&arn)
                        .version_id("v1")
                        .send()
                )
            );
            p.map_err(|e| err("GetPolicy", e))?;
            v.map_err(|e| err("GetPolicyVersion", e))?;
            R::Ok(())
        };
        let role = |name: &'static str| async move {
            let (r, a) = futures::join!(
                self.call("iam:GetRole", self.iam.get_role().role_name(name).send()),
                self.call(
                    "iam:ListAttachedRolePolicies",
                    self.iam
                        .list_attached_role_policies()
                        .role_name(name)
                        .send()
                )
            );
            r.map_err(|e| err("GetRole", e))?;
            a.map_err(|e| err("ListAttachedRolePolicies", e))?;
            R::Ok(())
        };
        let function = |name: &'static str| async move {
            self.call(
                "lambda:GetFunction",
                self.lambda.get_function().function_name(name).send(),
            )
            .await
            .map_err(|e| err("GetFunction", e))?;
            R::Ok(())
        };
        let lambda_policy = async {
            self.call(
                "lambda:GetPolicy",
                self.lambda.get_policy().function_name("api-enqueue").send(),
            )
            .await
            .map_err(|e| err("GetPolicy", e))?;
            R::Ok(())
        };
        let mapping = async {
            self.call(
                "lambda:ListEventSourceMappings",
                self.lambda
                    .list_event_source_mappings()
                    .function_name("task-processor")
                    .send(),
            )
            .await
            .map_err(|e| err("ListEventSourceMappings", e))?;
            R::Ok(())
        };
        let api = async {
            let apis = self
                .call(
                    "apigateway:GetRestApis",
                    self.apigw.get_rest_apis().limit(500).send(),
                )
                .await
                .map_err(|e| err("GetRestApis", e))?;
            let id = apis
                .items()
                .iter()
                .find(|a| a.name() == Some("task-api"))
                .and_then(|a| a.id())
                .ok_or("task-api not found")?
                .to_owned();
            let (r, s) = futures::join!(
                self.call(
                    "apigateway:GetResources",
                    self.apigw
                        .get_resources()
                        .rest_api_id(&id)
                        .embed("methods")
                        .limit(500)
                        .send()
                ),
                self.call(
                    "apigateway:GetStage",
                    self.apigw
                        .get_stage()
                        .rest_api_id(&id)
                        .stage_name("dev")
                        .send()
                )
            );
            r.map_err(|e| err("GetResources", e))?;
            s.map_err(|e| err("GetStage", e))?;
            R::Ok(())
        };
        let (a, b, c, d, e, f, g, h, i, j, k, l) = futures::join!(
            queue("task-dlq"),
            queue("task-queue"),
            bucket,
            policy("SQSProcessorPolicy"),
            policy("ApiEnqueuePolicy"),
            role("lambda-sqs-processor"),
            role("lambda-api-enqueue"),
            function("task-processor"),
            function("api-enqueue"),
            lambda_policy,
            mapping,
            api
        );
        let errors: Vec<String> = [a, b, c, d, e, f, g, h, i, j, k, l]
            .into_iter()
            .filter_map(|r| r.err())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            bail!(errors.join("\n"))
        }
    }

    // --- check -------------------------------------------------------------------------------

    /// Names of the stack's resources that exist.
    async fn existing(&self) -> Result<Vec<String>> {
        async fn exists<T, E: ProvideErrorMetadata + std::fmt::Debug>(
            what: &str,
            r: std::result::Result<T, E>,
        ) -> R<Option<String>> {
            match r {
                Ok(_) => Ok(Some(what.to_owned())),
                Err(e) if is_missing(&e) => Ok(None),
                Err(e) => Err(err(what, e)),
            }
        }
        let pol = |n: &str| format!("arn:aws:iam::{ACCOUNT}:policy/{n}");
        let (q1, q2, b, r1, r2, p1, p2, f1, f2, m, a) = futures::join!(
            self.sqs.get_queue_url().queue_name("task-dlq").send(),
            self.sqs.get_queue_url().queue_name("task-queue").send(),
            self.s3.head_bucket().bucket("task-results").send(),
            self.iam.get_role().role_name("lambda-sqs-processor").send(),
            self.iam.get_role().role_name("lambda-api-enqueue").send(),
            self.iam
                .get_policy()
                .policy_arn(pol("SQSProcessorPolicy"))
                .send(),
            self.iam
                .get_policy()
                .policy_arn(pol("ApiEnqueuePolicy"))
                .send(),
            self.lambda
                .get_function()
                .function_name("task-processor")
                .send(),
            self.lambda
                .get_function()
                .function_name("api-enqueue")
                .send(),
            self.lambda.list_event_source_mappings().send(),
            self.apigw.get_rest_apis().limit(500).send(),
        );
        let mut found: Vec<String> = [
            exists("queue task-dlq", q1).await,
            exists("queue task-queue", q2).await,
            exists("bucket task-results", b).await,
            exists("role lambda-sqs-processor", r1).await,
            exists("role lambda-api-enqueue", r2).await,
            exists("policy SQSProcessorPolicy", p1).await,
            exists("policy ApiEnqueuePolicy", p2).await,
            exists("function task-processor", f1).await,
            exists("function api-enqueue", f2).await,
        ]
        .into_iter()
        .collect::<R<Vec<_>>>()
        .map_err(|e| anyhow!(e))?
        .into_iter()
        .flatten()
        .collect();
        let mappings = m.map_err(|e| anyhow!(err("ListEventSourceMappings", e)))?;
        found.extend(
            mappings
                .event_source_mappings()
                .iter()
                .map(|m| format!("mapping {}", m.uuid().unwrap_or("?"))),
        );
        let apis = a.map_err(|e| anyhow!(err("GetRestApis", e)))?;
        found.extend(
            apis.items()
                .iter()
                .filter(|x| x.name() == Some("task-api"))
                .map(|x| format!("api {}", x.id().unwrap_or("?"))),
        );
        Ok(found)
    }
}

fn ok_missing<T, E: ProvideErrorMetadata + std::fmt::Debug>(
    op: &str,
    r: std::result::Result<T, E>,
) -> R<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(op, e)),
    }
}

fn policy_doc(statements: &[(&[&str], &str)]) -> String {
    let st: Vec<serde_json::Value> = statements
        .iter()
        .map(|(actions, resource)| serde_json::json!({"Effect": "Allow", "Action": actions, "Resource": resource}))
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Statement": st}).to_string()
}

fn zip_one(repo: &Path, file: &str) -> Result<Vec<u8>> {
    let path = repo.join("functions").join(file);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file(file, zip::write::SimpleFileOptions::default())?;
    zip.write_all(&bytes)?;
    Ok(zip.finish()?.into_inner())
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let mut command = None;
    let mut endpoint = "http://localhost:4566".to_owned();
    let mut verbose = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--endpoint-url" => endpoint = args.next().context("--endpoint-url needs a value")?,
            "-v" | "--verbose" => verbose = true,
            "up" | "down" | "status" | "check" => command = Some(a),
            other => bail!(
                "unknown argument {other}; usage: floor up|down|status|check [--endpoint-url URL] [-v]"
            ),
        }
    }
    let command = command.context("usage: floor up|down|status|check [--endpoint-url URL] [-v]")?;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));

    let setup = Instant::now();
    let mut floor = Floor::new(&endpoint).await;
    let setup_ms = setup.elapsed().as_secs_f64() * 1000.0;
    floor.t0 = Instant::now();
    let result = match command.as_str() {
        "up" => floor.up(repo).await,
        "down" => floor.down().await,
        "status" => floor.status().await,
        "check" => {
            let found = floor.existing().await?;
            if !found.is_empty() {
                eprintln!("still there: {}", found.join(", "));
                std::process::exit(1);
            }
            Ok(())
        }
        _ => unreachable!(),
    };
    let ms = floor.ms();
    if verbose {
        let mut log = floor.log.lock().unwrap().clone();
        log.sort_by(|a, b| a.1.total_cmp(&b.1));
        for (op, start, end) in &log {
            eprintln!("{start:8.1} {end:8.1} {:7.1}  {op}", end - start);
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "command": command,
            "ok": result.is_ok(),
            "ms": (ms * 10.0).round() / 10.0,
            "calls": floor.calls(),
            "setup_ms": (setup_ms * 10.0).round() / 10.0,
        })
    );
    result
}
