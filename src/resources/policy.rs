//! Customer-managed IAM policies. A changed document becomes a new default version (the oldest
//! is pruned at IAM's limit of five); documents are compared in a canonical form.

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use serde_json::{Value, json};

use super::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, Resource, ResourceId};
use crate::aws::Ctx;
use crate::aws::errors::{AwsResult, Found};
use crate::manifest::PolicySpec;
use crate::plan::FieldDiff;
use crate::resolve::Resolver;

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

pub struct Policy {
    id: ResourceId,
    description: Option<String>,
    document: String,
}

impl Policy {
    pub fn resolve(name: String, spec: &PolicySpec, r: &Resolver) -> Policy {
        let statements: Vec<Value> = spec
            .statements
            .iter()
            .map(|s| {
                let mut st = json!({
                    "Effect": s.effect,
                    "Action": s.actions,
                    "Resource": r.strings(&s.resources),
                });
                if let Some(sid) = &s.sid {
                    st["Sid"] = json!(sid);
                }
                st
            })
            .collect();
        let document = json!({"Version": "2012-10-17", "Statement": statements});
        Policy {
            id: ResourceId::new(Kind::Policy, name),
            description: spec.description.clone(),
            document: canonical(&document),
        }
    }

    fn arn(&self, ctx: &Ctx) -> String {
        ctx.arn("iam", &format!("policy/{}", self.id.name))
    }

    fn outputs(&self, arn: String) -> Outputs {
        Outputs::from([("arn".into(), arn), ("name".into(), self.id.name.clone())])
    }
}

#[async_trait]
impl Resource for Policy {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        Fields::from([("document".into(), self.document.clone())])
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let arn = self.arn(ctx);
        let found = ctx
            .iam
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .aws("GetPolicy")
            .found()?;
        let Some(policy) = found.and_then(|p| p.policy) else {
            return Ok(None);
        };
        let version = policy.default_version_id().unwrap_or("v1");
        let doc = ctx
            .iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(version)
            .send()
            .await
            .aws("GetPolicyVersion")
            .found()?
            .and_then(|v| v.policy_version)
            .and_then(|v| v.document)
            .unwrap_or_default();
        let tag = policy
            .tags()
            .iter()
            .find(|t| t.key() == OWNER_TAG)
            .map(|t| t.value());
        Ok(Some(Live {
            fields: Fields::from([("document".into(), normalize_document(&doc))]),
            outputs: self.outputs(arn),
            owner: Owner::from_tag(tag, &ctx.stack),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let created = ctx
            .iam
            .create_policy()
            .policy_name(&self.id.name)
            .policy_document(&self.document)
            .set_description(self.description.clone())
            .tags(super::role::iam_tag(&ctx.stack)?)
            .send()
            .await
            .aws("CreatePolicy")?;
        let arn = created
            .policy
            .and_then(|p| p.arn)
            .unwrap_or_else(|| self.arn(ctx));
        Ok(self.outputs(arn))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, _changed: &[FieldDiff]) -> Result<Outputs> {
        let arn = live.outputs["arn"].clone();
        let versions = non_default_versions(ctx, &arn).await?;
        if versions.len() + 1 >= MAX_VERSIONS {
            // Oldest first: IAM lists versions newest first.
            if let Some(oldest) = versions.last() {
                delete_version(ctx, &arn, oldest).await?;
            }
        }
        ctx.iam
            .create_policy_version()
            .policy_arn(&arn)
            .policy_document(&self.document)
            .set_as_default(true)
            .send()
            .await
            .aws("CreatePolicyVersion")?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let arn = &live.outputs["arn"];
        let attached = ctx
            .iam
            .list_entities_for_policy()
            .policy_arn(arn)
            .send()
            .await
            .aws("ListEntitiesForPolicy")
            .found()?;
        for role in attached.iter().flat_map(|a| a.policy_roles()) {
            if let Some(name) = role.role_name() {
                ctx.iam
                    .detach_role_policy()
                    .role_name(name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .aws("DetachRolePolicy")
                    .found()?;
            }
        }
        for version in non_default_versions(ctx, arn).await? {
            delete_version(ctx, arn, &version).await?;
        }
        ctx.iam
            .delete_policy()
            .policy_arn(arn)
            .send()
            .await
            .aws("DeletePolicy")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        ctx.iam
            .tag_policy()
            .policy_arn(&live.outputs["arn"])
            .tags(super::role::iam_tag(&ctx.stack)?)
            .send()
            .await
            .aws("TagPolicy")?;
        Ok(())
    }
}

/// Version ids other than the default, newest first.
async fn non_default_versions(ctx: &Ctx, arn: &str) -> Result<Vec<String>> {
    let listed = ctx
        .iam
        .list_policy_versions()
        .policy_arn(arn)
        .send()
        .await
        .aws("ListPolicyVersions")
        .found()?;
    let mut versions: Vec<_> = listed
        .map(|l| l.versions.unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .filter(|v| !v.is_default_version)
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.create_date));
    Ok(versions.into_iter().filter_map(|v| v.version_id).collect())
}

async fn delete_version(ctx: &Ctx, arn: &str, version: &str) -> Result<()> {
    ctx.iam
        .delete_policy_version()
        .policy_arn(arn)
        .version_id(version)
        .send()
        .await
        .aws("DeletePolicyVersion")
        .found()
        .context("pruning an old policy version")?;
    Ok(())
}

/// IAM returns documents URL-encoded; undo that, then canonicalize.
pub fn normalize_document(raw: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    match serde_json::from_str::<Value>(&decoded) {
        Ok(v) => canonical(&v),
        Err(_) => decoded.into_owned(),
    }
}

/// A form in which equal policies are equal text: keys sorted (serde_json's map is ordered),
/// one-element lists written as lists, lists of actions and resources sorted, statements sorted.
pub fn canonical(doc: &Value) -> String {
    let mut doc = doc.clone();
    if let Some(statements) = doc.get_mut("Statement") {
        if !statements.is_array() {
            *statements = Value::Array(vec![statements.take()]);
        }
        let list = statements.as_array_mut().expect("made an array above");
        for st in list.iter_mut() {
            for key in ["Action", "NotAction", "Resource", "NotResource"] {
                if let Some(v) = st.get_mut(key) {
                    *v = sorted_list(v.take());
                }
            }
            if let Some(Value::Object(principal)) = st.get_mut("Principal") {
                for v in principal.values_mut() {
                    *v = sorted_list(v.take());
                }
            }
        }
        list.sort_by_key(|s| s.to_string());
    }
    doc.to_string()
}

fn sorted_list(v: Value) -> Value {
    let mut items = match v {
        Value::Array(items) => items,
        one => vec![one],
    };
    items.sort_by_key(|i| i.to_string());
    items.dedup();
    Value::Array(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_policies_are_equal_text() {
        let a = json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:PutObject"],"Resource":"arn:b"},
            {"Effect":"Allow","Action":["sqs:B","sqs:A"],"Resource":["arn:a"]}]});
        let b = json!({"Statement":[
            {"Resource":["arn:a"],"Action":["sqs:A","sqs:B"],"Effect":"Allow"},
            {"Action":"s3:PutObject","Effect":"Allow","Resource":["arn:b"]}],"Version":"2012-10-17"});
        assert_eq!(canonical(&a), canonical(&b));
    }

    #[test]
    fn url_encoded_documents_are_decoded() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22%2A%22%7D%7D";
        let plain = json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]});
        assert_eq!(normalize_document(encoded), canonical(&plain));
    }

    #[test]
    fn different_actions_stay_different() {
        let a = json!({"Statement":[{"Action":"sqs:A"}]});
        let b = json!({"Statement":[{"Action":"sqs:B"}]});
        assert_ne!(canonical(&a), canonical(&b));
    }
}
