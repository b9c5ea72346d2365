//! Customer-managed IAM policies. A changed document becomes a new default version (the oldest
//! is pruned at IAM's limit of five); documents are compared in a canonical form.

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use toml::Spanned;

use super::{Build, FieldDoc, KindImpl, Resource, Shape, iam};
use crate::aws::errors::{AwsResult, Found};
use crate::aws::{Ctx, arn};
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Diagnostic, Spec};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, ResourceId, Value};
use crate::plan::FieldDiff;
use crate::resolve::all_known;

pub const KIND: Kind = Kind::new(2, "policies", "policy");

const DESCRIPTION: &str = "description";

/// IAM keeps at most five versions of a managed policy.
const MAX_VERSIONS: usize = 5;

/// An IAM managed policy; its statements are rendered to the JSON policy document AWS expects.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Policy")]
pub struct RawPolicy {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// At least one statement, as `[[policies.<name>.statements]]` tables.
    #[schemars(with = "Vec<RawStatement>")]
    pub statements: Spanned<Vec<Spanned<RawStatement>>>,
}

/// One statement of a policy.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Statement")]
pub struct RawStatement {
    /// An optional statement id.
    #[schemars(with = "Option<String>")]
    pub sid: Option<Spanned<String>>,
    /// `"Allow"` (the default) or `"Deny"`.
    #[schemars(with = "Option<String>")]
    pub effect: Option<Spanned<String>>,
    /// Actions, e.g. `["sqs:SendMessage"]`.
    #[schemars(with = "Vec<String>")]
    pub actions: Spanned<Vec<Spanned<String>>>,
    /// Resource ARNs, e.g. `["${queues.task-queue.arn}"]` or `["*"]`.
    #[schemars(with = "Vec<String>")]
    pub resources: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Clone)]
pub struct PolicySpec {
    pub description: Option<String>,
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: String,
    pub actions: Vec<String>,
    pub resources: Vec<Template>,
}

impl Spec for PolicySpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        self.statements.iter().flat_map(|s| &s.resources).collect()
    }
}

impl Declare for Policy {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name"];
    const ABOUT: &'static str =
        "IAM managed policies, by name. Roles attach them as `${policies.<name>.arn}`.";
    type Raw = RawPolicy;
    type Spec = PolicySpec;

    fn check(name: &Spanned<String>, p: &RawPolicy, c: &mut Checker) -> PolicySpec {
        c.check_name(name, "policy", 128, iam::name_char);
        if p.statements.get_ref().is_empty() {
            c.problem(
                Diagnostic::new("a policy needs at least one statement", p.statements.span())
                    .with_help(
                        "add a [[policies.<name>.statements]] table with actions and resources",
                    ),
            );
        }
        PolicySpec {
            description: p.description.as_ref().map(|d| d.get_ref().clone()),
            statements: p
                .statements
                .get_ref()
                .iter()
                .map(|s| statement(s.get_ref(), c))
                .collect(),
        }
    }
}

fn statement(s: &RawStatement, c: &mut Checker) -> Statement {
    let effect = match &s.effect {
        None => "Allow".to_owned(),
        Some(e) if matches!(e.get_ref().as_str(), "Allow" | "Deny") => e.get_ref().clone(),
        Some(e) => {
            c.problem(
                Diagnostic::new(
                    format!(
                        "effect must be \"Allow\" or \"Deny\", not \"{}\"",
                        e.get_ref()
                    ),
                    e.span(),
                )
                .suggest(e.get_ref(), ["Allow", "Deny"]),
            );
            "Allow".to_owned()
        }
    };
    for list in [&s.actions, &s.resources] {
        if list.get_ref().is_empty() {
            c.problem(Diagnostic::new("this list must not be empty", list.span()));
        }
    }
    for action in s.actions.get_ref() {
        let a = action.get_ref();
        let ok = a == "*"
            || a.split_once(':')
                .is_some_and(|(svc, op)| !svc.is_empty() && !op.is_empty());
        if !ok {
            c.problem(
                Diagnostic::new(format!("`{a}` is not an IAM action"), action.span())
                    .with_help("actions are written service:Operation, e.g. \"sqs:SendMessage\""),
            );
        }
    }
    Statement {
        sid: s.sid.as_ref().map(|x| x.get_ref().clone()),
        effect,
        actions: s
            .actions
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect(),
        resources: c.templates(s.resources.get_ref()),
    }
}

impl KindImpl for Policy {
    const SHAPE: Shape = Shape {
        mermaid: (">", "]"),
        dot: "note",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new("document", "statements", "policy document").opaque(),
        FieldDoc::new(DESCRIPTION, "description", "description"),
    ];

    fn build(spec: &PolicySpec, b: &Build<'_>) -> Box<dyn Resource> {
        Box::new(Policy::resolve(b.name.to_owned(), spec, b))
    }

    fn predicted(name: &str, account: &str, region: &str) -> Outputs {
        Outputs::from([
            ("name".into(), name.into()),
            (
                "arn".into(),
                arn::arn(region, "iam", account, &format!("policy/{name}")),
            ),
        ])
    }
}

pub struct Policy {
    id: ResourceId,
    description: Option<String>,
    /// The canonical JSON document, unknown while a resource it names is.
    document: Value,
}

impl Policy {
    fn resolve(name: String, spec: &PolicySpec, b: &Build<'_>) -> Policy {
        let statements: Option<Vec<Json>> = spec
            .statements
            .iter()
            .map(|s| {
                let resources = all_known(&b.resolver.values(&s.resources))?;
                let mut st = json!({
                    "Effect": s.effect,
                    "Action": s.actions,
                    "Resource": resources,
                });
                if let Some(sid) = &s.sid {
                    st["Sid"] = json!(sid);
                }
                Some(st)
            })
            .collect();
        let document = statements.map_or(Value::Unknown, |statements| {
            canonical(&json!({"Version": "2012-10-17", "Statement": statements})).into()
        });
        Policy {
            id: ResourceId::new(KIND, name),
            description: spec.description.clone(),
            document,
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
        let description = self.description.clone().unwrap_or_default();
        Fields::from([
            ("document".into(), self.document.clone()),
            (DESCRIPTION.into(), description.into()),
        ])
    }

    /// IAM cannot change a policy's description: only a new policy has another.
    fn replaced_by(&self) -> &'static [&'static str] {
        &[DESCRIPTION]
    }

    /// The new policy is attached again to every role the old one was attached to.
    async fn replace(&self, ctx: &Ctx, live: &Live) -> Result<Outputs> {
        let roles = attached_roles(ctx, live.output("arn")?).await?;
        self.delete(ctx, live).await?;
        let outputs = self.create(ctx).await?;
        let arn = outputs.get("arn").context("CreatePolicy gave no ARN")?;
        for role in roles {
            ctx.iam
                .attach_role_policy()
                .role_name(role)
                .policy_arn(arn)
                .send()
                .await
                .aws("AttachRolePolicy")?;
        }
        Ok(outputs)
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
        let description = policy.description().unwrap_or_default();
        Ok(Some(Live::new(
            Fields::from([
                ("document".into(), normalize_document(&doc).into()),
                (DESCRIPTION.into(), description.into()),
            ]),
            self.outputs(arn),
            Owner::from_tag(tag, &ctx.stack),
        )))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let created = ctx
            .iam
            .create_policy()
            .policy_name(&self.id.name)
            .policy_document(self.document.sendable()?)
            .set_description(self.description.clone())
            .tags(iam::tag(&ctx.stack)?)
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
        let arn = live.output("arn")?;
        let versions = non_default_versions(ctx, arn).await?;
        if versions.len() + 1 >= MAX_VERSIONS {
            // Oldest first: IAM lists versions newest first.
            if let Some(oldest) = versions.last() {
                delete_version(ctx, arn, oldest).await?;
            }
        }
        ctx.iam
            .create_policy_version()
            .policy_arn(arn)
            .policy_document(self.document.sendable()?)
            .set_as_default(true)
            .send()
            .await
            .aws("CreatePolicyVersion")?;
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let arn = live.output("arn")?;
        for name in attached_roles(ctx, arn).await? {
            ctx.iam
                .detach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .aws("DetachRolePolicy")
                .found()?;
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
            .policy_arn(live.output("arn")?)
            .tags(iam::tag(&ctx.stack)?)
            .send()
            .await
            .aws("TagPolicy")?;
        Ok(())
    }
}

/// The roles the policy is attached to.
async fn attached_roles(ctx: &Ctx, arn: &str) -> Result<Vec<String>> {
    let attached = ctx
        .iam
        .list_entities_for_policy()
        .policy_arn(arn)
        .send()
        .await
        .aws("ListEntitiesForPolicy")
        .found()?;
    Ok(attached
        .iter()
        .flat_map(|a| a.policy_roles())
        .filter_map(|r| r.role_name().map(str::to_owned))
        .collect())
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
pub(super) fn normalize_document(raw: &str) -> String {
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy();
    match serde_json::from_str::<Json>(&decoded) {
        Ok(v) => canonical(&v),
        Err(_) => decoded.into_owned(),
    }
}

/// A form in which equal policies are equal text: keys sorted (serde_json's map is ordered),
/// one-element lists written as lists, lists of actions and resources sorted, statements sorted.
pub(super) fn canonical(doc: &Json) -> String {
    let mut doc = doc.clone();
    if let Some(statements) = doc.get_mut("Statement") {
        if !statements.is_array() {
            *statements = Json::Array(vec![statements.take()]);
        }
        let list = statements.as_array_mut().expect("made an array above");
        for st in list.iter_mut() {
            for key in ["Action", "NotAction", "Resource", "NotResource"] {
                if let Some(v) = st.get_mut(key) {
                    *v = sorted_list(v.take());
                }
            }
            if let Some(Json::Object(principal)) = st.get_mut("Principal") {
                for v in principal.values_mut() {
                    *v = sorted_list(v.take());
                }
            }
        }
        list.sort_by_key(|s| s.to_string());
    }
    doc.to_string()
}

fn sorted_list(v: Json) -> Json {
    let mut items = match v {
        Json::Array(items) => items,
        one => vec![one],
    };
    items.sort_by_key(|i| i.to_string());
    items.dedup();
    Json::Array(items)
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
