//! IAM roles: the trust policy (who may assume the role) and the managed policies attached.
//! Attachments live here so that a function depending on its role also waits for its policies.

use std::collections::BTreeSet;

use anyhow::Result;
use async_trait::async_trait;
use serde_json::json;

use super::policy::{canonical, normalize_document};
use super::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, Resource, ResourceId};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found};
use crate::manifest::RoleSpec;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

const TRUST: &str = "trust_policy";
const ATTACHED: &str = "attached_policies";

pub struct Role {
    id: ResourceId,
    description: Option<String>,
    trust_policy: String,
    policies: BTreeSet<String>,
}

impl Role {
    pub fn resolve(name: String, spec: &RoleSpec, r: &Resolver) -> Role {
        let trust = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": spec.trusted_services},
                "Action": "sts:AssumeRole",
            }],
        });
        Role {
            id: ResourceId::new(Kind::Role, name),
            description: spec.description.clone(),
            trust_policy: canonical(&trust),
            policies: r.strings(&spec.policies).into_iter().collect(),
        }
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
        Fields::from([
            (TRUST.into(), self.trust_policy.clone()),
            (ATTACHED.into(), join(&self.policies)),
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
        Ok(Some(Live {
            fields: Fields::from([
                (TRUST.into(), normalize_document(trust)),
                (ATTACHED.into(), join(&attached?)),
            ]),
            outputs: self.outputs(role.arn().to_owned()),
            owner: Owner::from_tag(tag, &ctx.stack),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let created = ctx
            .iam
            .create_role()
            .role_name(&self.id.name)
            .assume_role_policy_document(&self.trust_policy)
            .set_description(self.description.clone())
            .tags(iam_tag(&ctx.stack)?)
            .send()
            .await
            .aws("CreateRole")?;
        self.sync_attachments(ctx, &BTreeSet::new(), &self.policies)
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
                ATTACHED => {
                    let live_set = split(change.live.as_deref().unwrap_or_default());
                    self.sync_attachments(ctx, &live_set, &self.policies)
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
            .tags(iam_tag(&ctx.stack)?)
            .send()
            .await
            .aws("TagRole")?;
        Ok(())
    }
}

pub fn iam_tag(stack: &str) -> Result<aws_sdk_iam::types::Tag> {
    Ok(aws_sdk_iam::types::Tag::builder()
        .key(OWNER_TAG)
        .value(stack)
        .build()?)
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

fn split(s: &str) -> BTreeSet<String> {
    s.split(", ")
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}
