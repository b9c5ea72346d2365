//! API Gateway REST APIs with Lambda proxy routes, the Lambda permission each route needs
//! (the exercise leaves it out; real AWS refuses the call without it), and the stage deployment.
//! A deployment records a hash of the routes it serves, so a redeploy happens only when they change.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use aws_sdk_apigateway::types::{IntegrationType, Op, PatchOperation, RestApi as ApiSummary};
use sha2::{Digest, Sha256};

use super::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, Resource, ResourceId, owner_of};
use crate::aws::errors::{AwsResult, Found, retry_transient};
use crate::aws::pacer::{Paced, paced};
use crate::aws::{Ctx, arn};
use crate::manifest::RestApiSpec;
use crate::plan::FieldDiff;
use crate::resolve::{Resolver, UNKNOWN, is_unknown};

const DESCRIPTION: &str = "description";
const DEPLOYMENT_PREFIX: &str = "exstack routes ";

pub struct RestApi {
    id: ResourceId,
    description: String,
    stage: String,
    routes: Vec<Route>,
    region: String,
    account: String,
}

struct Route {
    method: String,
    path: String,
    function_arn: String,
    authorization: String,
}

impl Route {
    fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn integration_uri(&self, region: &str) -> String {
        // API Gateway's service-integration ARN puts the integrated service where the account goes.
        arn::arn(
            region,
            "apigateway",
            "lambda",
            &format!(
                "path/2015-03-31/functions/{}/invocations",
                self.function_arn
            ),
        )
    }

    /// The statement id of the permission this route adds to its function.
    fn permission_id(&self, api: &str) -> String {
        let path: String = self
            .path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("exstack-{api}-{}{path}", self.method)
    }
}

impl RestApi {
    pub fn resolve(name: String, spec: &RestApiSpec, r: &Resolver) -> RestApi {
        RestApi {
            id: ResourceId::new(Kind::RestApi, name),
            description: spec.description.clone().unwrap_or_default(),
            stage: spec.stage.clone(),
            routes: spec
                .routes
                .iter()
                .map(|route| Route {
                    method: route.method.clone(),
                    path: route.path.clone(),
                    function_arn: r.string(&route.function),
                    authorization: route.authorization.clone(),
                })
                .collect(),
            region: r.region.to_owned(),
            account: r.account_id.to_owned(),
        }
    }

    fn route_fields(&self) -> Fields {
        self.routes
            .iter()
            .map(|r| {
                let value = format!(
                    "{} AWS_PROXY {}",
                    r.authorization,
                    r.integration_uri(&self.region)
                );
                (format!("route {}", r.key()), value)
            })
            .collect()
    }

    /// Changes whenever any route changes; stored in the deployment's description.
    fn routes_hash(&self) -> String {
        let fields = self.route_fields();
        if fields.values().any(|v| is_unknown(v)) {
            return UNKNOWN.into();
        }
        let text: String = fields.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let digest = Sha256::digest(text.as_bytes());
        digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }

    fn source_arn(&self, api_id: &str, route: &Route) -> String {
        let method = if route.method == "ANY" {
            "*"
        } else {
            &route.method
        };
        arn::arn(
            &self.region,
            "execute-api",
            &self.account,
            &format!("{api_id}/*/{method}{}", route.path),
        )
    }

    fn desired_with_id(&self, api_id: &str) -> Fields {
        let mut f = self.route_fields();
        f.insert(DESCRIPTION.into(), self.description.clone());
        f.insert(format!("stage {}", self.stage), self.routes_hash());
        for r in &self.routes {
            f.insert(
                format!("permission {}", r.key()),
                self.source_arn(api_id, r),
            );
        }
        f
    }

    /// `url` only where the stage can actually be called (see `Ctx::api_url`); LocalStack's
    /// host-name form as `host_url`.
    async fn outputs(&self, ctx: &Ctx, api_id: &str) -> Outputs {
        let mut out = Outputs::from([
            ("id".into(), api_id.to_owned()),
            ("name".into(), self.id.name.clone()),
        ]);
        if let Some(url) = ctx.api_url(api_id, &self.stage).await {
            out.insert("url".into(), url);
        }
        if let Some(url) = ctx.localstack_host_url(api_id, &self.stage) {
            out.insert("host_url".into(), url);
        }
        out
    }

    /// Every API with this name; more than one happens only when something else made them.
    async fn find(&self, ctx: &Ctx) -> Result<Vec<ApiSummary>> {
        let mut found = Vec::new();
        let mut position = None;
        loop {
            let page = ctx
                .apigateway
                .get_rest_apis()
                .limit(500)
                .set_position(position)
                .send()
                .await
                .aws("GetRestApis")?;
            found.extend(
                page.items()
                    .iter()
                    .filter(|a| a.name() == Some(self.id.name.as_str()))
                    .cloned(),
            );
            position = page.position().map(str::to_owned);
            if position.is_none() {
                return Ok(found);
            }
        }
    }

    /// Live routes as (route key → value) and the resource id of every path.
    async fn read_routes(
        &self,
        ctx: &Ctx,
        api_id: &str,
    ) -> Result<(Fields, BTreeMap<String, String>)> {
        let resources = ctx
            .apigateway
            .get_resources()
            .rest_api_id(api_id)
            .embed("methods")
            .limit(500)
            .send()
            .await
            .aws("GetResources")?;
        let mut routes = Fields::new();
        let mut paths = BTreeMap::new();
        for res in resources.items() {
            let (Some(path), Some(id)) = (res.path(), res.id()) else {
                continue;
            };
            paths.insert(path.to_owned(), id.to_owned());
            for (method, m) in res.resource_methods().into_iter().flatten() {
                let integration = match m.method_integration() {
                    Some(i) => Some(i.clone()),
                    None => ctx
                        .apigateway
                        .get_integration()
                        .rest_api_id(api_id)
                        .resource_id(id)
                        .http_method(method)
                        .send()
                        .await
                        .aws("GetIntegration")
                        .found()?
                        .map(|i| {
                            aws_sdk_apigateway::types::Integration::builder()
                                .set_type(i.r#type)
                                .set_uri(i.uri)
                                .build()
                        }),
                };
                let auth = m.authorization_type().unwrap_or("NONE");
                let value = match integration {
                    Some(i) => format!(
                        "{auth} {} {}",
                        i.r#type().map(|t| t.as_str()).unwrap_or("NONE"),
                        i.uri().unwrap_or_default()
                    ),
                    None => format!("{auth} (no integration)"),
                };
                routes.insert(format!("route {method} {path}"), value);
            }
        }
        Ok((routes, paths))
    }

    /// The routes hash the stage's current deployment serves, if the stage exists.
    async fn deployed_hash(&self, ctx: &Ctx, api_id: &str) -> Result<Option<String>> {
        let stage = ctx
            .apigateway
            .get_stage()
            .rest_api_id(api_id)
            .stage_name(&self.stage)
            .send()
            .await
            .aws("GetStage")
            .found()?;
        let Some(deployment_id) = stage.and_then(|s| s.deployment_id) else {
            return Ok(None);
        };
        let deployment = ctx
            .apigateway
            .get_deployment()
            .rest_api_id(api_id)
            .deployment_id(deployment_id)
            .send()
            .await
            .aws("GetDeployment")
            .found()?;
        let description = deployment.and_then(|d| d.description).unwrap_or_default();
        Ok(Some(
            description
                .strip_prefix(DEPLOYMENT_PREFIX)
                .unwrap_or("(deployed by something else)")
                .to_owned(),
        ))
    }

    /// The SourceArn of each route's permission, as the function's resource policy has it.
    async fn read_permissions(&self, ctx: &Ctx) -> Result<Fields> {
        let mut out = Fields::new();
        for route in &self.routes {
            let policy = ctx
                .lambda
                .get_policy()
                .function_name(&route.function_arn)
                .send()
                .await
                .aws("GetPolicy")
                .found()?;
            let doc = policy.and_then(|p| p.policy).unwrap_or_default();
            if let Some(arn) = permission_source(&doc, &route.permission_id(&self.id.name)) {
                out.insert(format!("permission {}", route.key()), arn);
            }
        }
        Ok(out)
    }

    /// Makes every route exist with its method, proxy integration and permission.
    async fn put_routes(
        &self,
        ctx: &Ctx,
        api_id: &str,
        live_routes: &Fields,
        mut paths: BTreeMap<String, String>,
    ) -> Result<()> {
        for route in &self.routes {
            let resource_id = ensure_path(ctx, api_id, &route.path, &mut paths).await?;
            let key = format!("route {}", route.key());
            if !live_routes.contains_key(&key) {
                ctx.apigateway
                    .put_method()
                    .rest_api_id(api_id)
                    .resource_id(&resource_id)
                    .http_method(&route.method)
                    .authorization_type(&route.authorization)
                    .send()
                    .await
                    .aws("PutMethod")?;
            } else if !live_routes[&key].starts_with(&format!("{} ", route.authorization)) {
                ctx.apigateway
                    .update_method()
                    .rest_api_id(api_id)
                    .resource_id(&resource_id)
                    .http_method(&route.method)
                    .patch_operations(
                        PatchOperation::builder()
                            .op(Op::Replace)
                            .path("/authorizationType")
                            .value(&route.authorization)
                            .build(),
                    )
                    .send()
                    .await
                    .aws("UpdateMethod")?;
            }
            ctx.apigateway
                .put_integration()
                .rest_api_id(api_id)
                .resource_id(&resource_id)
                .http_method(&route.method)
                .r#type(IntegrationType::AwsProxy)
                // Lambda is always invoked with POST, whatever the route's method.
                .integration_http_method("POST")
                .uri(route.integration_uri(&self.region))
                .send()
                .await
                .aws("PutIntegration")?;
        }
        Ok(())
    }

    /// Lets API Gateway invoke the route's function. A statement of the same id left from an
    /// earlier API (another id, so another source ARN) is replaced: removed first when the read
    /// saw it (`replace`), else when AddPermission says the id is taken, as AWS documents.
    async fn grant(&self, ctx: &Ctx, api_id: &str, route: &Route, replace: bool) -> Result<()> {
        let sid = route.permission_id(&self.id.name);
        if replace {
            self.revoke(ctx, route, &sid).await?;
        }
        let add = || async {
            ctx.lambda
                .add_permission()
                .function_name(&route.function_arn)
                .statement_id(&sid)
                .action("lambda:InvokeFunction")
                .principal("apigateway.amazonaws.com")
                .source_arn(self.source_arn(api_id, route))
                .send()
                .await
                .aws("AddPermission")
        };
        match add().await {
            Err(e) if e.has_code(&["ResourceConflictException"]) => {
                self.revoke(ctx, route, &sid).await?;
                retry_transient(ctx.patience, add).await?;
            }
            other => {
                other?;
            }
        }
        Ok(())
    }

    /// Removes every statement `sid` from the route's function. AWS keeps statement ids unique,
    /// but moto accepts a second AddPermission with a taken id and removes one per call.
    async fn revoke(&self, ctx: &Ctx, route: &Route, sid: &str) -> Result<()> {
        // Bounded: a function policy holds at most 20 KB of statements.
        for _ in 0..100 {
            let removed = ctx
                .lambda
                .remove_permission()
                .function_name(&route.function_arn)
                .statement_id(sid)
                .send()
                .await
                .aws("RemovePermission")
                .found()?;
            if removed.is_none() {
                return Ok(());
            }
        }
        anyhow::bail!(
            "statement {sid} is still in the policy of {} after 100 removals",
            route.function_arn
        )
    }

    async fn grant_all(&self, ctx: &Ctx, api_id: &str) -> Result<()> {
        let grants = self
            .routes
            .iter()
            .map(|r| self.grant(ctx, api_id, r, false));
        futures::future::try_join_all(grants).await?;
        Ok(())
    }

    async fn deploy(&self, ctx: &Ctx, api_id: &str) -> Result<()> {
        let give_up = ctx.patience.give_up_after;
        paced(
            ctx.pacer.as_deref(),
            Paced::CreateDeployment,
            give_up,
            || async {
                ctx.apigateway
                    .create_deployment()
                    .rest_api_id(api_id)
                    .stage_name(&self.stage)
                    .description(format!("{DEPLOYMENT_PREFIX}{}", self.routes_hash()))
                    .send()
                    .await
                    .aws("CreateDeployment")
            },
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Resource for RestApi {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    /// Before the API exists its id is unknown, but that is no dependency to wait for.
    fn desired(&self) -> Fields {
        self.desired_with_id("(new)")
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let apis = self.find(ctx).await?;
        // Prefer ours when a name is taken twice, so a stray copy never hides our API.
        let pick = apis
            .iter()
            .find(|a| owner_of(a.tags().into_iter().flatten(), &ctx.stack) == Owner::Us)
            .or(apis.first());
        let Some(api) = pick else { return Ok(None) };
        let api_id = api.id().unwrap_or_default().to_owned();
        let (routes, deployed, permissions) = tokio::join!(
            self.read_routes(ctx, &api_id),
            self.deployed_hash(ctx, &api_id),
            self.read_permissions(ctx)
        );
        let (mut fields, _) = routes?;
        fields.insert(
            DESCRIPTION.into(),
            api.description().unwrap_or_default().to_owned(),
        );
        if let Some(hash) = deployed? {
            fields.insert(format!("stage {}", self.stage), hash);
        }
        fields.extend(permissions?);
        Ok(Some(Live {
            fields,
            outputs: self.outputs(ctx, &api_id).await,
            owner: owner_of(api.tags().into_iter().flatten(), &ctx.stack),
        }))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        let give_up = ctx.patience.give_up_after;
        let created = paced(
            ctx.pacer.as_deref(),
            Paced::CreateRestApi,
            give_up,
            || async {
                ctx.apigateway
                    .create_rest_api()
                    .name(&self.id.name)
                    .description(&self.description)
                    .tags(OWNER_TAG, &ctx.stack)
                    .send()
                    .await
                    .aws("CreateRestApi")
            },
        )
        .await?;
        let api_id = created
            .id()
            .context("CreateRestApi returned no id")?
            .to_owned();
        let mut paths = BTreeMap::new();
        if let Some(root) = created.root_resource_id() {
            paths.insert("/".to_owned(), root.to_owned());
        }
        // Permissions are independent of the routes' resources and methods: both at once.
        let no_routes = Fields::new();
        tokio::try_join!(
            self.put_routes(ctx, &api_id, &no_routes, paths),
            self.grant_all(ctx, &api_id)
        )?;
        self.deploy(ctx, &api_id).await?;
        Ok(self.outputs(ctx, &api_id).await)
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let api_id = live.outputs["id"].clone();
        let touches = |prefix: &str| changed.iter().any(|c| c.field.starts_with(prefix));
        if touches(DESCRIPTION) {
            ctx.apigateway
                .update_rest_api()
                .rest_api_id(&api_id)
                .patch_operations(
                    PatchOperation::builder()
                        .op(Op::Replace)
                        .path("/description")
                        .value(&self.description)
                        .build(),
                )
                .send()
                .await
                .aws("UpdateRestApi")?;
        }
        let routes_changed = touches("route ");
        if routes_changed {
            let (live_routes, paths) = self.read_routes(ctx, &api_id).await?;
            self.put_routes(ctx, &api_id, &live_routes, paths.clone())
                .await?;
            let desired = self.route_fields();
            for key in live_routes.keys().filter(|k| !desired.contains_key(*k)) {
                delete_route(ctx, &api_id, key, &paths).await?;
            }
        }
        let desired = self.desired_with_id(&api_id);
        for route in &self.routes {
            let key = format!("permission {}", route.key());
            if live.fields.get(&key) != desired.get(&key) {
                let seen = live.fields.contains_key(&key);
                self.grant(ctx, &api_id, route, seen).await?;
            }
        }
        if routes_changed || touches("stage ") {
            self.deploy(ctx, &api_id).await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        for route in &self.routes {
            ctx.lambda
                .remove_permission()
                .function_name(&route.function_arn)
                .statement_id(route.permission_id(&self.id.name))
                .send()
                .await
                .aws("RemovePermission")
                .found()?;
        }
        // Paced: AWS allows one DeleteRestApi every 30 s per account.
        let give_up = ctx.patience.give_up_after;
        retry_transient(ctx.patience, || {
            paced(
                ctx.pacer.as_deref(),
                Paced::DeleteRestApi,
                give_up,
                || async {
                    ctx.apigateway
                        .delete_rest_api()
                        .rest_api_id(&live.outputs["id"])
                        .send()
                        .await
                        .aws("DeleteRestApi")
                        .found()
                },
            )
        })
        .await?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        let arn = arn::arn(
            &self.region,
            "apigateway",
            "",
            &format!("/restapis/{}", live.outputs["id"]),
        );
        ctx.apigateway
            .tag_resource()
            .resource_arn(arn)
            .tags(OWNER_TAG, &ctx.stack)
            .send()
            .await
            .aws("TagResource")?;
        Ok(())
    }

    /// The real comparison needs the live API id (permissions name it), known only after read.
    fn desired_for(&self, live: Option<&Live>) -> Fields {
        match live.and_then(|l| l.outputs.get("id")) {
            Some(id) => self.desired_with_id(id),
            None => self.desired(),
        }
    }
}

/// Creates the missing segments of `path` and returns its resource id.
async fn ensure_path(
    ctx: &Ctx,
    api_id: &str,
    path: &str,
    paths: &mut BTreeMap<String, String>,
) -> Result<String> {
    let mut current = String::new();
    let mut parent = paths
        .get("/")
        .cloned()
        .context("the API has no root resource")?;
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        current = format!("{current}/{segment}");
        if let Some(id) = paths.get(&current) {
            parent = id.clone();
            continue;
        }
        let created = ctx
            .apigateway
            .create_resource()
            .rest_api_id(api_id)
            .parent_id(&parent)
            .path_part(segment)
            .send()
            .await
            .aws("CreateResource")?;
        parent = created
            .id()
            .context("CreateResource returned no id")?
            .to_owned();
        paths.insert(current.clone(), parent.clone());
    }
    Ok(parent)
}

/// Removes a method stack.toml no longer has (`route POST /old`).
async fn delete_route(
    ctx: &Ctx,
    api_id: &str,
    key: &str,
    paths: &BTreeMap<String, String>,
) -> Result<()> {
    let Some((method, path)) = key.trim_start_matches("route ").split_once(' ') else {
        return Ok(());
    };
    let Some(resource_id) = paths.get(path) else {
        return Ok(());
    };
    ctx.apigateway
        .delete_method()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(method)
        .send()
        .await
        .aws("DeleteMethod")
        .found()?;
    Ok(())
}

/// The `AWS:SourceArn` condition of statement `sid` in a Lambda resource policy.
/// Several statements with one id (which moto allows, AWS does not) are reported as such, so
/// they show as drift rather than hiding behind the first.
fn permission_source(policy: &str, sid: &str) -> Option<String> {
    let doc: serde_json::Value = serde_json::from_str(policy).ok()?;
    let statements = doc.get("Statement")?.as_array()?;
    let ours: Vec<_> = statements
        .iter()
        .filter(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))
        .collect();
    match ours[..] {
        [] => None,
        [st] => {
            let arn = st
                .pointer("/Condition/ArnLike/AWS:SourceArn")
                .and_then(|v| v.as_str());
            Some(arn.unwrap_or("(any source)").to_owned())
        }
        _ => Some(format!("({} statements with id {sid})", ours.len())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(region: &str) -> RestApi {
        RestApi {
            id: ResourceId::new(Kind::RestApi, "task-api"),
            description: String::new(),
            stage: "dev".into(),
            routes: vec![Route {
                method: "POST".into(),
                path: "/tasks".into(),
                function_arn: format!("arn:aws-cn:lambda:{region}:111122223333:function:f"),
                authorization: "NONE".into(),
            }],
            region: region.into(),
            account: "111122223333".into(),
        }
    }

    #[test]
    fn integration_and_permission_arns_carry_the_partition() {
        let cn = api("cn-north-1");
        let route = &cn.routes[0];
        assert_eq!(
            route.integration_uri(&cn.region),
            "arn:aws-cn:apigateway:cn-north-1:lambda:path/2015-03-31/functions/arn:aws-cn:lambda:cn-north-1:111122223333:function:f/invocations"
        );
        assert_eq!(
            cn.source_arn("abc123", route),
            "arn:aws-cn:execute-api:cn-north-1:111122223333:abc123/*/POST/tasks"
        );
        let us = api("us-east-1");
        assert!(
            us.source_arn("abc123", &us.routes[0])
                .starts_with("arn:aws:execute-api:us-east-1:111122223333:")
        );
    }

    #[test]
    fn finds_the_source_arn_of_our_statement() {
        let policy = r#"{"Statement":[{"Sid":"other"},{"Sid":"exstack-api-POST_tasks","Condition":{"ArnLike":{"AWS:SourceArn":"arn:x/*/POST/tasks"}}}]}"#;
        assert_eq!(
            permission_source(policy, "exstack-api-POST_tasks").as_deref(),
            Some("arn:x/*/POST/tasks")
        );
        assert_eq!(permission_source(policy, "missing"), None);
        let twice = r#"{"Statement":[{"Sid":"s","Condition":{"ArnLike":{"AWS:SourceArn":"arn:old"}}},{"Sid":"s","Condition":{"ArnLike":{"AWS:SourceArn":"arn:new"}}}]}"#;
        assert_eq!(
            permission_source(twice, "s").as_deref(),
            Some("(2 statements with id s)")
        );
    }
}
