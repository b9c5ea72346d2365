//! IAM roles: the trust policy (who may assume the role) and the managed policies attached.
//! Attachments live here so that a function depending on its role also waits for its policies.

use std::collections::BTreeSet;

use anyhow::Result;
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;
use toml::Spanned;

use super::policy::{canonical, normalize_document};
use super::{Build, FieldDoc, KindImpl, Resource, Shape, iam};
use crate::aws::errors::{AwsResult, Found};
use crate::aws::{Ctx, arn};
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Diagnostic, Spec};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, ResourceId, Value};
use crate::plan::FieldDiff;
use crate::resolve::all_known;

pub const KIND: Kind = Kind::new(3, "roles", "role");

const TRUST: &str = "trust_policy";
const ATTACHED: &str = "attached_policies";
const DESCRIPTION: &str = "description";

/// An IAM role that AWS services may assume.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Role")]
pub struct RawRole {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// Services that may assume the role, e.g. `["lambda.amazonaws.com"]`.
    #[schemars(with = "Vec<String>")]
    pub trusted_services: Spanned<Vec<Spanned<String>>>,
    /// ARNs of managed policies to attach, e.g. `["${policies.SQSProcessorPolicy.arn}"]`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub policies: Vec<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub description: Option<String>,
    pub trusted_services: Vec<String>,
    /// ARNs of the managed policies attached to the role.
    pub policies: Vec<Template>,
}

impl Spec for RoleSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        self.policies.iter().collect()
    }
}

impl Declare for Role {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name"];
    const ABOUT: &'static str =
        "IAM roles, by name. Others refer to them as `${roles.<name>.arn}` or `.name`.";
    type Raw = RawRole;
    type Spec = RoleSpec;

    fn check(name: &Spanned<String>, r: &RawRole, c: &mut Checker) -> RoleSpec {
        c.check_name(name, "role", 64, iam::name_char);
        if r.trusted_services.get_ref().is_empty() {
            c.problem(
                Diagnostic::new(
                    "a role must trust at least one service",
                    r.trusted_services.span(),
                )
                .with_help(
                    "for a Lambda function's role: trusted_services = [\"lambda.amazonaws.com\"]",
                ),
            );
        }
        for s in r.trusted_services.get_ref() {
            if !s.get_ref().ends_with(".amazonaws.com") {
                c.problem(
                    Diagnostic::new(
                        format!("`{}` is not an AWS service principal", s.get_ref()),
                        s.span(),
                    )
                    .with_help(
                        "service principals end in .amazonaws.com, e.g. \"lambda.amazonaws.com\"",
                    ),
                );
            }
        }
        RoleSpec {
            description: r.description.as_ref().map(|d| d.get_ref().clone()),
            trusted_services: r
                .trusted_services
                .get_ref()
                .iter()
                .map(|s| s.get_ref().clone())
                .collect(),
            policies: c.templates(&r.policies),
        }
    }
}

impl KindImpl for Role {
    const SHAPE: Shape = Shape {
        mermaid: ("{{", "}}"),
        dot: "hexagon",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new(TRUST, "trusted_services", "trust policy").opaque(),
        FieldDoc::new(ATTACHED, "policies", "attached policies"),
        FieldDoc::new(DESCRIPTION, "description", "description"),
    ];

    fn build(spec: &RoleSpec, b: &Build<'_>) -> Box<dyn Resource> {
        Box::new(Role::resolve(b.name.to_owned(), spec, b))
    }

    fn predicted(name: &str, account: &str, region: &str) -> Outputs {
        Outputs::from([
            ("name".into(), name.into()),
            (
                "arn".into(),
                arn::arn(region, "iam", account, &format!("role/{name}")),
            ),
        ])
    }
}

/// The managed policies a live role has attached, as read.
struct Attached(BTreeSet<String>);

pub struct Role {
    id: ResourceId,
    description: Option<String>,
    trust_policy: String,
    /// Unknown while a policy it attaches does not exist yet.
    policies: Option<BTreeSet<String>>,
}

impl Role {
    fn resolve(name: String, spec: &RoleSpec, b: &Build<'_>) -> Role {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": spec.trusted_services},
                "Action": "sts:AssumeRole",
            }],
        });
        Role {
            id: ResourceId::new(KIND, name),
            description: spec.description.clone(),
            trust_policy: canonical(&trust),
            policies: all_known(&b.resolver.values(&spec.policies))
                .map(|p| p.into_iter().collect()),
        }
    }

    fn wanted(&self) -> Result<&BTreeSet<String>> {
        self.policies
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the ARN of a policy of {} is still unknown", self.id))
    }

    async fn attached(&self, ctx: &Ctx) -> Result<BTreeSet<String>> {
        let listed = ctx
            .iam
            .list_attached_role_policies()
            .role_name(&self.id.name)
            .send()
            .await
            .aws("ListAttachedRolePolicies")
            .found()?;
        Ok(listed
            .iter()
            .flat_map(|l| l.attached_policies())
            .filter_map(|p| p.policy_arn().map(str::to_owned))
            .collect())
    }

    /// Attaches what `wanted` has and `live` lacks, and detaches the rest.
    async fn sync_attachments(
        &self,
        ctx: &Ctx,
        live: &BTreeSet<String>,
        wanted: &BTreeSet<String>,
    ) -> Result<()> {
        for arn in wanted.difference(live) {
            ctx.iam
                .attach_role_policy()
                .role_name(&self.id.name)
                .policy_arn(arn)
                .send()
                .await
                .aws("AttachRolePolicy")?;
        }
        for arn in live.difference(wanted) {
            ctx.iam
                .detach_role_policy()
                .role_name(&self.id.name)
                .policy_arn(arn)
                .send()
                .await
                .aws("DetachRolePolicy")
                .found()?;
        }
        Ok(())
    }

    fn outputs(&self, arn: String) -> Outputs {
        Outputs::from([("arn".into(), arn), ("name".into(), self.id.name.clone())])
    }
}

#[async_trait]
impl Resource for Role {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        let attached = self
            .policies
            .as_ref()
            .map_or(Value::Unknown, |p| join(p).into());
        let description = self.description.clone().unwrap_or_default();
        Fields::from([
            (TRUST.into(), self.trust_policy.clone().into()),
            (ATTACHED.into(), attached),
            (DESCRIPTION.into(), description.into()),
        ])
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let (role, attached) = tokio::join!(
            ctx.iam.get_role().role_name(&self.id.name).send(),
            self.attached(ctx)
        );
        let Some(role) = role.aws("GetRole").found()?.and_then(|r| r.role) else {
            return Ok(None);
        };
        let trust = role.assume_role_policy_document().unwrap_or_default();
        let tag = role
            .tags()
            .iter()
            .find(|t| t.key() == OWNER_TAG)
            .map(|t| t.value());
        let attached = attached?;
        let fields = Fields::from([
            (TRUST.into(), normalize_document(trust).into()),
            (ATTACHED.into(), join(&attached).into()),
            (
                DESCRIPTION.into(),
                role.description().unwrap_or_default().into(),
            ),
        ]);
        let owner = Owner::from_tag(tag, &ctx.stack);
        Ok(Some(
            Live::new(fields, self.outputs(role.arn().to_owned()), owner)
                .with_state(Attached(attached)),
        ))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let created = ctx
            .iam
            .create_role()
            .role_name(&self.id.name)
            .assume_role_policy_document(&self.trust_policy)
            .set_description(self.description.clone())
            .tags(iam::tag(&ctx.stack)?)
            .send()
            .await
            .aws("CreateRole")?;
        self.sync_attachments(ctx, &BTreeSet::new(), self.wanted()?)
            .await?;
        let arn = created.role.map(|r| r.arn).unwrap_or_default();
        Ok(self.outputs(arn))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        for change in changed {
            match change.field.as_str() {
                TRUST => {
                    ctx.iam
                        .update_assume_role_policy()
                        .role_name(&self.id.name)
                        .policy_document(&self.trust_policy)
                        .send()
                        .await
                        .aws("UpdateAssumeRolePolicy")?;
                }
                DESCRIPTION => {
                    ctx.iam
                        .update_role()
                        .role_name(&self.id.name)
                        .description(self.description.clone().unwrap_or_default())
                        .send()
                        .await
                        .aws("UpdateRole")?;
                }
                ATTACHED => {
                    let attached = match live.state::<Attached>() {
                        Some(Attached(set)) => set.clone(),
                        None => self.attached(ctx).await?,
                    };
                    self.sync_attachments(ctx, &attached, self.wanted()?)
                        .await?;
                }
                _ => {}
            }
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, _live: &Live) -> Result<()> {
        // IAM refuses to delete a role that still has policies.
        let attached = self.attached(ctx).await?;
        self.sync_attachments(ctx, &attached, &BTreeSet::new())
            .await?;
        let inline = ctx
            .iam
            .list_role_policies()
            .role_name(&self.id.name)
            .send()
            .await
            .aws("ListRolePolicies")
            .found()?;
        for name in inline.iter().flat_map(|l| l.policy_names()) {
            ctx.iam
                .delete_role_policy()
                .role_name(&self.id.name)
                .policy_name(name)
                .send()
                .await
                .aws("DeleteRolePolicy")
                .found()?;
        }
        ctx.iam
            .delete_role()
            .role_name(&self.id.name)
            .send()
            .await
            .aws("DeleteRole")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, _live: &Live) -> Result<()> {
        ctx.iam
            .tag_role()
            .role_name(&self.id.name)
            .tags(iam::tag(&ctx.stack)?)
            .send()
            .await
            .aws("TagRole")?;
        Ok(())
    }
}

/// The attached set as one comparable, readable field.
fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}
