//! Lambda functions. Code is uploaded only when the zip's SHA-256 differs from the live
//! `CodeSha256`; configuration goes through UpdateFunctionConfiguration; every change waits
//! for Lambda to finish the previous one.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, Runtime, State};
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{Build, Env, FieldDoc, KindImpl, Resource, Shape, owner_of};
use crate::aws::errors::{AwsResult, Found, retry_transient, wait_until};
use crate::aws::{Ctx, arn};
use crate::manifest::raw::Scalar;
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Diagnostic, Spec, Stack, valid_name};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, ResourceId, Value};
use crate::package::Package;
use crate::plan::FieldDiff;

pub const KIND: Kind = Kind::new(4, "functions", "function");

const CODE: &str = "CodeSha256";
const ENV_PREFIX: &str = "environment.";

/// Runtimes the executor and AWS both accept; a typo here is caught before any call.
pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
];

/// A Lambda function, packaged from a directory into a deterministic zip.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Function")]
pub struct RawFunction {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// The directory holding the code, relative to stack.toml.
    #[schemars(with = "String")]
    pub code: Spanned<String>,
    /// Only these files of `code` go into the zip (default: all of it).
    #[schemars(with = "Option<Vec<String>>")]
    pub files: Option<Spanned<Vec<Spanned<String>>>>,
    /// `<module>.<function>`, e.g. `"task_processor.handler"`.
    #[schemars(with = "String")]
    pub handler: Spanned<String>,
    /// The Lambda runtime, e.g. `"python3.12"`; the supported ones are listed as `examples`.
    #[schemars(with = "String", extend("examples" = RUNTIMES))]
    pub runtime: Spanned<String>,
    /// The execution role's ARN, e.g. `"${roles.lambda-sqs-processor.arn}"`.
    #[schemars(with = "String")]
    pub role: Spanned<String>,
    /// Seconds an invocation may run (1-900, default 3).
    #[schemars(with = "Option<Scalar>")]
    pub timeout: Option<Spanned<Scalar>>,
    /// Memory in MB (128-10240, default 128).
    #[schemars(with = "Option<Scalar>")]
    pub memory: Option<Spanned<Scalar>>,
    /// Environment variables; values may refer to other resources, e.g. `"${queues.task-queue.url}"`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, String>")]
    pub environment: BTreeMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub description: Option<String>,
    /// The directory packaged into the deployment zip, relative to stack.toml.
    pub code: PathBuf,
    /// Only these files of `code`, when given; otherwise every file.
    pub files: Option<Vec<String>>,
    pub handler: String,
    pub runtime: String,
    pub role: Template,
    pub timeout: i32,
    pub memory: i32,
    pub environment: BTreeMap<String, Template>,
}

impl Spec for FunctionSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        std::iter::once(&self.role)
            .chain(self.environment.values())
            .collect()
    }

    fn setting(&self, key: &str) -> Option<crate::manifest::Setting<'_>> {
        use crate::manifest::Setting;
        match key {
            "handler" => Some(Setting::Text(self.handler.clone())),
            "runtime" => Some(Setting::Text(self.runtime.clone())),
            "timeout" => Some(Setting::Int(self.timeout.into())),
            "memory" => Some(Setting::Int(self.memory.into())),
            _ => None,
        }
    }
}

impl Declare for Function {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name"];
    const ABOUT: &'static str =
        "Lambda functions, by name. Others refer to them as `${functions.<name>.arn}` or `.name`.";
    type Raw = RawFunction;
    type Spec = FunctionSpec;

    fn check(name: &Spanned<String>, f: &RawFunction, c: &mut Checker) -> FunctionSpec {
        c.check_name(name, "function", 64, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        });
        check_runtime(&f.runtime, c);
        check_handler(&f.handler, c);
        let files = f
            .files
            .as_ref()
            .map(|files| check_files(files.get_ref(), c));
        let environment = f
            .environment
            .iter()
            .map(|(k, v)| {
                check_env_name(k, c);
                (k.get_ref().clone(), c.template(v))
            })
            .collect();
        FunctionSpec {
            description: f.description.as_ref().map(|d| d.get_ref().clone()),
            code: c.base().join(f.code.get_ref()),
            files,
            handler: f.handler.get_ref().clone(),
            runtime: f.runtime.get_ref().clone(),
            role: c.reference_to(&f.role, super::role::KIND, "arn"),
            // The ranges fit in i32, which is what Lambda takes.
            timeout: c.int_or(f.timeout.as_ref(), 1..=900, "timeout (seconds)", 3) as i32,
            memory: c.int_or(f.memory.as_ref(), 128..=10_240, "memory (MB)", 128) as i32,
            environment,
        }
    }
}

fn check_runtime(runtime: &Spanned<String>, c: &mut Checker) {
    let name = runtime.get_ref();
    if !RUNTIMES.contains(&name.as_str()) {
        c.problem(
            Diagnostic::new(format!("unknown runtime `{name}`"), runtime.span())
                .suggest(name, RUNTIMES.iter().copied())
                .or_help(format!("supported runtimes: {}", RUNTIMES.join(", "))),
        );
    }
}

fn check_handler(handler: &Spanned<String>, c: &mut Checker) {
    let text = handler.get_ref();
    if !text
        .split_once('.')
        .is_some_and(|(m, func)| !m.is_empty() && !func.is_empty() && !func.contains('.'))
    {
        c.problem(
            Diagnostic::new(
                format!("handler `{text}` is not of the form module.function"),
                handler.span(),
            )
            .with_help(
                "e.g. handler = \"task_processor.handler\" for handler() in task_processor.py",
            ),
        );
    }
}

fn check_files(files: &[Spanned<String>], c: &mut Checker) -> Vec<String> {
    for file in files {
        if Path::new(file.get_ref()).is_absolute()
            || file.get_ref().split(['/', '\\']).any(|c| c == "..")
        {
            c.problem(
                Diagnostic::new(
                    "files must be paths inside `code`, without `..`",
                    file.span(),
                )
                .with_help("list paths relative to the code directory, e.g. \"task_processor.py\""),
            );
        }
    }
    files.iter().map(|f| f.get_ref().clone()).collect()
}

fn check_env_name(key: &Spanned<String>, c: &mut Checker) {
    let name = key.get_ref();
    if !valid_name(name, 1, 128, |c| c.is_ascii_alphanumeric() || c == '_')
        || name.starts_with(|c: char| c.is_ascii_digit())
    {
        c.problem(
            Diagnostic::new(
                format!("`{name}` is not a valid environment variable name"),
                key.span(),
            )
            .with_help("use letters, digits and `_`, not starting with a digit"),
        );
    }
}

impl KindImpl for Function {
    const SHAPE: Shape = Shape {
        mermaid: ("(", ")"),
        dot: "component",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new("Runtime", "runtime", "runtime"),
        FieldDoc::new("Handler", "handler", "handler"),
        FieldDoc::new("Role", "role", "execution role"),
        FieldDoc::new("Timeout", "timeout", "timeout").unit(" s"),
        FieldDoc::new("MemorySize", "memory", "memory").unit(" MB"),
        // A student's own code differs from the reference by its hash; the checks judge it.
        FieldDoc::new(CODE, "code", "code").ungraded().opaque(),
        FieldDoc::new("Description", "description", "description"),
        FieldDoc::new(ENV_PREFIX, "environment.", "environment variable "),
    ];

    fn build(spec: &FunctionSpec, b: &Build<'_>) -> Box<dyn Resource> {
        let r = b.resolver;
        Box::new(Function {
            id: ResourceId::new(KIND, b.name),
            handler: spec.handler.clone(),
            runtime: spec.runtime.clone(),
            role: r.value(&spec.role),
            timeout: spec.timeout,
            memory: spec.memory,
            description: spec.description.clone(),
            environment: spec
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), r.value(v)))
                .collect(),
            package: b.package.clone(),
        })
    }

    fn predicted(name: &str, account: &str, region: &str) -> Outputs {
        let arn = arn::arn(region, "lambda", account, &format!("function:{name}"));
        Outputs::from([("name".into(), name.into()), ("arn".into(), arn)])
    }

    fn env(_stack: &Stack, _spec: &FunctionSpec, _name: &str, base: &str, o: &Outputs) -> Env {
        Env {
            vars: o
                .get("arn")
                .map(|arn| (format!("{base}_ARN"), arn.clone()))
                .into_iter()
                .collect(),
            alias: None,
        }
    }

    fn package(spec: &FunctionSpec) -> Result<Option<Package>> {
        crate::package::build(&spec.code, spec.files.as_deref()).map(Some)
    }

    fn watched(spec: &FunctionSpec) -> Vec<PathBuf> {
        vec![spec.code.clone()]
    }

    fn log_group(name: &str) -> Option<String> {
        Some(format!("/aws/lambda/{name}"))
    }
}

pub struct Function {
    id: ResourceId,
    handler: String,
    runtime: String,
    role: Value,
    timeout: i32,
    memory: i32,
    description: Option<String>,
    environment: HashMap<String, Value>,
    package: Option<Arc<Package>>,
}

impl Function {
    fn environment(&self) -> Result<Environment> {
        let variables = self
            .environment
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.sendable()?.to_owned())))
            .collect::<Result<HashMap<_, _>>>()?;
        Ok(Environment::builder()
            .set_variables(Some(variables))
            .build())
    }

    /// The zip: packaged once per run, before any call (`package_all`).
    fn package(&self) -> Result<&Package> {
        self.package
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("{} was not packaged", self.id))
    }

    /// Waits until Lambda has settled the function: Active, and no update in progress.
    async fn wait_ready(&self, ctx: &Ctx) -> Result<()> {
        wait_until(
            &format!("function {} to become Active", self.id.name),
            ctx.patience,
            || async {
                let c = ctx
                    .lambda
                    .get_function_configuration()
                    .function_name(&self.id.name)
                    .send()
                    .await
                    .aws("GetFunctionConfiguration")?;
                let reason = c.state_reason().unwrap_or("no reason given").to_owned();
                match (c.state(), c.last_update_status()) {
                    (Some(State::Failed), _) => {
                        bail!("function {} failed to start: {reason}", self.id.name)
                    }
                    (_, Some(LastUpdateStatus::Failed)) => {
                        bail!(
                            "function {} update failed: {}",
                            self.id.name,
                            c.last_update_status_reason().unwrap_or(&reason)
                        )
                    }
                    (Some(State::Active), Some(LastUpdateStatus::Successful) | None) => {
                        Ok(Some(()))
                    }
                    _ => Ok(None),
                }
            },
        )
        .await
    }

    fn outputs(&self, ctx: &Ctx) -> Outputs {
        Function::predicted(&self.id.name, &ctx.account, &ctx.target.region)
    }
}

#[async_trait]
impl Resource for Function {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        let code = self
            .package
            .as_ref()
            .map_or(Value::Unknown, |p| p.sha256.clone().into());
        let mut f = Fields::from([
            ("Runtime".into(), self.runtime.clone().into()),
            ("Handler".into(), self.handler.clone().into()),
            ("Role".into(), self.role.clone()),
            ("Timeout".into(), self.timeout.to_string().into()),
            ("MemorySize".into(), self.memory.to_string().into()),
            (CODE.into(), code),
            (
                "Description".into(),
                self.description.clone().unwrap_or_default().into(),
            ),
        ]);
        for (k, v) in &self.environment {
            f.insert(format!("{ENV_PREFIX}{k}"), v.clone());
        }
        f
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let found = ctx
            .lambda
            .get_function()
            .function_name(&self.id.name)
            .send()
            .await
            .aws("GetFunction")
            .found()?;
        let Some(function) = found else {
            return Ok(None);
        };
        let Some(c) = function.configuration() else {
            return Ok(None);
        };
        let mut fields = crate::model::fields([
            ("Runtime", c.runtime().map_or("", |r| r.as_str()).to_owned()),
            ("Handler", c.handler().unwrap_or_default().to_owned()),
            ("Role", c.role().unwrap_or_default().to_owned()),
            ("Timeout", c.timeout().unwrap_or_default().to_string()),
            (
                "MemorySize",
                c.memory_size().unwrap_or_default().to_string(),
            ),
            (CODE, c.code_sha256().unwrap_or_default().to_owned()),
            (
                "Description",
                c.description().unwrap_or_default().to_owned(),
            ),
        ]);
        let env = c.environment().and_then(|e| e.variables());
        for (k, v) in env.into_iter().flatten() {
            fields.insert(format!("{ENV_PREFIX}{k}"), v.as_str().into());
        }
        let mut outputs = self.outputs(ctx);
        if let Some(arn) = c.function_arn() {
            outputs.insert("arn".into(), arn.to_owned());
        }
        let owner = owner_of(function.tags().into_iter().flatten(), &ctx.stack);
        Ok(Some(Live::new(fields, outputs, owner)))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let (role, environment, zip) = (
            self.role.sendable()?,
            self.environment()?,
            &self.package()?.zip,
        );
        // Retried: a role made seconds ago may not yet be assumable by Lambda (IAM propagation).
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .create_function()
                .function_name(&self.id.name)
                .runtime(Runtime::from(self.runtime.as_str()))
                .role(role)
                .handler(&self.handler)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(zip.clone()))
                        .build(),
                )
                .timeout(self.timeout)
                .memory_size(self.memory)
                .set_description(self.description.clone())
                .environment(environment.clone())
                .tags(OWNER_TAG, &ctx.stack)
                .send()
                .await
                .aws("CreateFunction")
        })
        .await?;
        // Active comes later, in `settle`: dependents need only the function to exist.
        Ok(self.outputs(ctx))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let code_changed = changed.iter().any(|c| c.field == CODE);
        let config_changed = changed.iter().any(|c| c.field != CODE);
        if code_changed {
            let zip = &self.package()?.zip;
            retry_transient(ctx.patience, || async {
                ctx.lambda
                    .update_function_code()
                    .function_name(&self.id.name)
                    .zip_file(Blob::new(zip.clone()))
                    .send()
                    .await
                    .aws("UpdateFunctionCode")
            })
            .await?;
            // Lambda refuses a configuration change while the code update is in progress.
            if config_changed {
                self.wait_ready(ctx).await?;
            }
        }
        if config_changed {
            let (role, environment) = (self.role.sendable()?, self.environment()?);
            retry_transient(ctx.patience, || async {
                ctx.lambda
                    .update_function_configuration()
                    .function_name(&self.id.name)
                    .runtime(Runtime::from(self.runtime.as_str()))
                    .role(role)
                    .handler(&self.handler)
                    .timeout(self.timeout)
                    .memory_size(self.memory)
                    .description(self.description.clone().unwrap_or_default())
                    .environment(environment.clone())
                    .send()
                    .await
                    .aws("UpdateFunctionConfiguration")
            })
            .await?;
        }
        Ok(live.outputs.clone())
    }

    async fn settle(&self, ctx: &Ctx, _outputs: &Outputs) -> Result<()> {
        self.wait_ready(ctx).await
    }

    async fn delete(&self, ctx: &Ctx, _live: &Live) -> Result<()> {
        ctx.lambda
            .delete_function()
            .function_name(&self.id.name)
            .send()
            .await
            .aws("DeleteFunction")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        ctx.lambda
            .tag_resource()
            .resource(live.output("arn")?)
            .tags(OWNER_TAG, &ctx.stack)
            .send()
            .await
            .aws("TagResource")?;
        Ok(())
    }
}
