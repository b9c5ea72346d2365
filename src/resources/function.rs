//! Lambda functions. Code is uploaded only when the zip's SHA-256 differs from the live
//! `CodeSha256`; configuration goes through UpdateFunctionConfiguration; every change waits
//! for Lambda to finish the previous one.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Result, bail};
use async_trait::async_trait;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, Runtime, State};

use super::{Fields, Kind, Live, OWNER_TAG, Outputs, Resource, ResourceId, owner_of};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found, retry_transient, wait_until};
use crate::manifest::FunctionSpec;
use crate::package::Package;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

const CODE: &str = "CodeSha256";
const ENV_PREFIX: &str = "environment.";

pub struct Function {
    id: ResourceId,
    handler: String,
    runtime: String,
    role: String,
    timeout: i64,
    memory: i64,
    description: Option<String>,
    environment: HashMap<String, String>,
    package: Arc<Package>,
}

impl Function {
    pub fn resolve(
        name: String,
        spec: &FunctionSpec,
        package: Arc<Package>,
        r: &Resolver,
    ) -> Function {
        Function {
            id: ResourceId::new(Kind::Function, name),
            handler: spec.handler.clone(),
            runtime: spec.runtime.clone(),
            role: r.string(&spec.role),
            timeout: spec.timeout,
            memory: spec.memory,
            description: spec.description.clone(),
            environment: spec
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), r.string(v)))
                .collect(),
            package,
        }
    }

    fn environment(&self) -> Environment {
        Environment::builder()
            .set_variables(Some(self.environment.clone()))
            .build()
    }

    fn timeout(&self) -> i32 {
        i32::try_from(self.timeout).unwrap_or(i32::MAX)
    }

    fn memory(&self) -> i32 {
        i32::try_from(self.memory).unwrap_or(i32::MAX)
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
        Kind::Function.predicted_outputs(&self.id.name, &ctx.account, &ctx.target.region)
    }
}

#[async_trait]
impl Resource for Function {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        let mut f = Fields::from([
            ("Runtime".into(), self.runtime.clone()),
            ("Handler".into(), self.handler.clone()),
            ("Role".into(), self.role.clone()),
            ("Timeout".into(), self.timeout.to_string()),
            ("MemorySize".into(), self.memory.to_string()),
            (CODE.into(), self.package.sha256.clone()),
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
        let mut fields = Fields::from([
            (
                "Runtime".into(),
                c.runtime()
                    .map(|r| r.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("Handler".into(), c.handler().unwrap_or_default().to_owned()),
            ("Role".into(), c.role().unwrap_or_default().to_owned()),
            (
                "Timeout".into(),
                c.timeout().unwrap_or_default().to_string(),
            ),
            (
                "MemorySize".into(),
                c.memory_size().unwrap_or_default().to_string(),
            ),
            (CODE.into(), c.code_sha256().unwrap_or_default().to_owned()),
        ]);
        let env = c.environment().and_then(|e| e.variables());
        for (k, v) in env.into_iter().flatten() {
            fields.insert(format!("{ENV_PREFIX}{k}"), v.clone());
        }
        let mut outputs = self.outputs(ctx);
        if let Some(arn) = c.function_arn() {
            outputs.insert("arn".into(), arn.to_owned());
        }
        Ok(Some(Live {
            fields,
            outputs,
            owner: owner_of(function.tags().into_iter().flatten(), &ctx.stack),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        // Retried: a role made seconds ago may not yet be assumable by Lambda (IAM propagation).
        retry_transient(ctx.patience, || async {
            ctx.lambda
                .create_function()
                .function_name(&self.id.name)
                .runtime(Runtime::from(self.runtime.as_str()))
                .role(&self.role)
                .handler(&self.handler)
                .code(
                    FunctionCode::builder()
                        .zip_file(Blob::new(self.package.zip.clone()))
                        .build(),
                )
                .timeout(self.timeout())
                .memory_size(self.memory())
                .set_description(self.description.clone())
                .environment(self.environment())
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
            retry_transient(ctx.patience, || async {
                ctx.lambda
                    .update_function_code()
                    .function_name(&self.id.name)
                    .zip_file(Blob::new(self.package.zip.clone()))
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
            retry_transient(ctx.patience, || async {
                ctx.lambda
                    .update_function_configuration()
                    .function_name(&self.id.name)
                    .runtime(Runtime::from(self.runtime.as_str()))
                    .role(&self.role)
                    .handler(&self.handler)
                    .timeout(self.timeout())
                    .memory_size(self.memory())
                    .environment(self.environment())
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
            .resource(&live.outputs["arn"])
            .tags(OWNER_TAG, &ctx.stack)
            .send()
            .await
            .aws("TagResource")?;
        Ok(())
    }
}
