//! API Gateway REST APIs with Lambda proxy routes, the Lambda permission each route needs
//! (the exercise leaves it out; real AWS refuses the call without it), and the stage deployment.
//! A deployment records a hash of the routes it serves, so a redeploy happens only when they change.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use aws_sdk_apigateway::types::{IntegrationType, Op, PatchOperation, RestApi as ApiSummary};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::{Build, Env, FieldDoc, KindImpl, Resource, Shape, env_name, owner_of};
use crate::aws::errors::{AwsResult, Found, retry_transient};
use crate::aws::pacer::{Paced, paced};
use crate::aws::{Ctx, arn};
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Diagnostic, Setting, Spec, Stack, valid_name};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, ResourceId, Value};
use crate::plan::FieldDiff;

pub const KIND: Kind = Kind::new(6, "apis", "rest api");

const DESCRIPTION: &str = "description";
const DEPLOYMENT_PREFIX: &str = "exstack routes ";
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// An API Gateway REST API, deployed to one stage.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "RestApi")]
pub struct RawApi {
    #[schemars(with = "Option<String>")]
    pub description: Option<Spanned<String>>,
    /// The stage the routes are deployed to, e.g. `"dev"`.
    #[schemars(with = "String")]
    pub stage: Spanned<String>,
    /// Routes keyed by `"METHOD /path"`, e.g. `[apis.task-api.routes."POST /tasks"]`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, RawRoute>")]
    pub routes: BTreeMap<Spanned<String>, Spanned<RawRoute>>,
}

/// One route of an API, served by a Lambda function.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Route")]
pub struct RawRoute {
    /// The function's ARN, e.g. `"${functions.api-enqueue.arn}"`.
    #[schemars(with = "String")]
    pub function: Spanned<String>,
    /// `"AWS_PROXY"` (the default and the only one supported).
    #[schemars(with = "Option<String>")]
    pub integration: Option<Spanned<String>>,
    /// `"NONE"` (the default) or `"AWS_IAM"`.
    #[schemars(with = "Option<String>")]
    pub authorization: Option<Spanned<String>>,
}

#[derive(Debug, Clone)]
pub struct RestApiSpec {
    pub description: Option<String>,
    pub stage: String,
    pub routes: Vec<RouteSpec>,
}

#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: String,
    /// Always starts with `/`, no trailing slash: `/tasks`.
    pub path: String,
    pub function: Template,
    pub authorization: String,
}

impl Spec for RestApiSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        self.routes.iter().map(|r| &r.function).collect()
    }

    fn setting(&self, key: &str) -> Option<Setting<'_>> {
        match key {
            "stage" => Some(Setting::Text(self.stage.clone())),
            "routes" => Some(Setting::List(
                self.routes
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect(),
            )),
            _ => None,
        }
    }
}

impl Declare for RestApi {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["id", "name", "url"];
    const ABOUT: &'static str = "API Gateway REST APIs, by name. Others refer to them as `${apis.<name>.id}`, `.url` or `.name`.";
    type Raw = RawApi;
    type Spec = RestApiSpec;

    fn check(_name: &Spanned<String>, a: &RawApi, c: &mut Checker) -> RestApiSpec {
        let stage = a.stage.get_ref();
        if !valid_name(stage, 1, 128, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        }) {
            c.problem(
                Diagnostic::new(
                    format!("`{stage}` is not a valid stage name"),
                    a.stage.span(),
                )
                .with_help("use letters, digits, `-` and `_`, e.g. \"dev\""),
            );
        }
        RestApiSpec {
            description: a.description.as_ref().map(|d| d.get_ref().clone()),
            stage: stage.clone(),
            routes: a
                .routes
                .iter()
                .filter_map(|(key, route)| check_route(key, route.get_ref(), c))
                .collect(),
        }
    }
}

fn check_route(key: &Spanned<String>, r: &RawRoute, c: &mut Checker) -> Option<RouteSpec> {
    let Some((method, path)) = key.get_ref().split_once(' ') else {
        c.problem(
            Diagnostic::new(
                format!("route `{}` must be \"METHOD /path\"", key.get_ref()),
                key.span(),
            )
            .with_help("e.g. [apis.task-api.routes.\"POST /tasks\"]"),
        );
        return None;
    };
    if !METHODS.contains(&method) {
        c.problem(
            Diagnostic::new(format!("unknown HTTP method `{method}`"), key.span())
                .suggest(method, METHODS),
        );
    }
    let path = path.trim();
    check_path(path, key, c);
    if let Some(i) = &r.integration
        && i.get_ref() != "AWS_PROXY"
    {
        c.problem(
            Diagnostic::new(
                format!("integration `{}` is not supported", i.get_ref()),
                i.span(),
            )
            .with_help("exstack builds Lambda proxy integrations: integration = \"AWS_PROXY\""),
        );
    }
    let authorization = r
        .authorization
        .as_ref()
        .map_or("NONE".to_owned(), |a| a.get_ref().clone());
    if !matches!(authorization.as_str(), "NONE" | "AWS_IAM") {
        let at = r.authorization.as_ref().map_or(key.span(), Spanned::span);
        c.problem(
            Diagnostic::new(
                format!("authorization `{authorization}` is not supported"),
                at,
            )
            .suggest(&authorization, ["NONE", "AWS_IAM"]),
        );
    }
    Some(RouteSpec {
        method: method.to_owned(),
        path: if path == "/" {
            path.to_owned()
        } else {
            path.trim_end_matches('/').to_owned()
        },
        function: c.reference_to(&r.function, super::function::KIND, "arn"),
        authorization,
    })
}

fn check_path(path: &str, key: &Spanned<String>, c: &mut Checker) {
    let segments_ok = path.starts_with('/')
        && path[1..].split('/').all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.{}+".contains(c))
        });
    if !segments_ok && path != "/" {
        c.problem(
            Diagnostic::new(format!("`{path}` is not a resource path"), key.span()).with_help(
                "paths start with `/` and have no empty segments, e.g. /tasks or /tasks/{id}",
            ),
        );
    }
}

impl KindImpl for RestApi {
    const SHAPE: Shape = Shape {
        mermaid: ("[/", "\\]"),
        dot: "trapezium",
    };
    const FIELDS: &'static [FieldDoc] = &[
        FieldDoc::new("route ", "routes.", "route "),
        FieldDoc::new("permission ", "permission.", "invoke permission of "),
        FieldDoc::new("stage ", "stage.", "deployment of its routes to stage ")
            .opaque()
            .graded_by_presence(),
        FieldDoc::new(DESCRIPTION, "description", "description"),
    ];

    fn build(spec: &RestApiSpec, b: &Build<'_>) -> Box<dyn Resource> {
        let r = b.resolver;
        Box::new(RestApi {
            id: ResourceId::new(KIND, b.name),
            description: spec.description.clone().unwrap_or_default(),
            stage: spec.stage.clone(),
            routes: spec
                .routes
                .iter()
                .map(|route| Route {
                    key: RouteKey {
                        method: route.method.clone(),
                        path: route.path.clone(),
                    },
                    function_arn: r.value(&route.function),
                    authorization: route.authorization.clone(),
                })
                .collect(),
            region: r.region.to_owned(),
            account: r.account_id.to_owned(),
        })
    }

    fn predicted(name: &str, _account: &str, _region: &str) -> Outputs {
        Outputs::from([("name".into(), name.into())])
    }

    /// `id`, then each route's URL (and, on LocalStack, its host-name form).
    fn shown(spec: &RestApiSpec, _name: &str, o: &Outputs) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(id) = o.get("id") else { return out };
        out.push(("id".into(), id.clone()));
        // No `url` where the target cannot serve the stage (an emulator without it).
        let Some(base) = o.get("url") else { return out };
        for route in &spec.routes {
            let path = route.path.trim_start_matches('/');
            out.push((
                format!("{} /{path}", route.method),
                format!("{base}/{path}"),
            ));
            if let Some(host) = o.get("host_url") {
                out.push((
                    format!("{} /{path} (host)", route.method),
                    format!("{host}/{path}"),
                ));
            }
        }
        out
    }

    fn env(_stack: &Stack, spec: &RestApiSpec, _name: &str, base: &str, o: &Outputs) -> Env {
        let (Some(id), Some(url)) = (o.get("id"), o.get("url")) else {
            return Env::default();
        };
        let mut vars = vec![
            (format!("{base}_URL"), url.clone()),
            (format!("{base}_ID"), id.clone()),
        ];
        for route in &spec.routes {
            let path = route.path.trim_start_matches('/');
            vars.push((
                format!("{base}_{}_{}_URL", route.method, env_name(path)),
                format!("{url}/{path}"),
            ));
        }
        Env {
            vars,
            alias: Some(("API_URL", url.clone())),
        }
    }
}

pub struct RestApi {
    id: ResourceId,
    description: String,
    stage: String,
    routes: Vec<Route>,
    region: String,
    account: String,
}

/// A route as API Gateway keys it: method and resource path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RouteKey {
    method: String,
    path: String,
}

impl RouteKey {
    /// How the route shows in a plan: `route POST /tasks`.
    fn field(&self) -> String {
        format!("route {} {}", self.method, self.path)
    }

    fn permission_field(&self) -> String {
        format!("permission {} {}", self.method, self.path)
    }
}

struct Route {
    key: RouteKey,
    function_arn: Value,
    authorization: String,
}

/// A route as read: its authorization and what it integrates with (type and URI).
#[derive(Debug, Clone)]
struct LiveRoute {
    authorization: String,
    integration: Option<(String, String)>,
}

impl LiveRoute {
    fn field_value(&self) -> String {
        match &self.integration {
            Some((kind, uri)) => format!("{} {kind} {uri}", self.authorization),
            None => format!("{} (no integration)", self.authorization),
        }
    }
}

/// What `read` found of an API, typed, for `update`.
#[derive(Debug, Clone, Default)]
struct ApiState {
    routes: BTreeMap<RouteKey, LiveRoute>,
    /// The resource id of every path.
    paths: BTreeMap<String, String>,
    /// The source ARN of each route's permission, as its function's policy has it.
    permissions: BTreeMap<RouteKey, String>,
}

impl Route {
    fn integration_uri(&self, region: &str) -> Value {
        // API Gateway's service-integration ARN puts the integrated service where the account goes.
        match self.function_arn.known() {
            Some(function) => arn::arn(
                region,
                "apigateway",
                "lambda",
                &format!("path/2015-03-31/functions/{function}/invocations"),
            )
            .into(),
            None => Value::Unknown,
        }
    }

    /// The statement id of the permission this route adds to its function.
    fn permission_id(&self, api: &str) -> String {
        let path: String = self
            .key
            .path
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("exstack-{api}-{}{path}", self.key.method)
    }

    fn function(&self) -> Result<&str> {
        self.function_arn.sendable()
    }
}

impl RestApi {
    fn route_fields(&self) -> Fields {
        self.routes
            .iter()
            .map(|r| {
                let value = match r.integration_uri(&self.region).known() {
                    Some(uri) => format!("{} AWS_PROXY {uri}", r.authorization).into(),
                    None => Value::Unknown,
                };
                (r.key.field(), value)
            })
            .collect()
    }

    /// Changes whenever any route changes; stored in the deployment's description.
    fn routes_hash(&self) -> Value {
        let fields = self.route_fields();
        if fields.values().any(Value::is_unknown) {
            return Value::Unknown;
        }
        let text: String = fields.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        let digest = Sha256::digest(text.as_bytes());
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
            .into()
    }

    fn source_arn(&self, api_id: &str, route: &Route) -> String {
        let method = if route.key.method == "ANY" {
            "*"
        } else {
            &route.key.method
        };
        arn::arn(
            &self.region,
            "execute-api",
            &self.account,
            &format!("{api_id}/*/{method}{}", route.key.path),
        )
    }

    /// Desired settings; the permissions name the API's id, unknown before it exists.
    fn desired_with_id(&self, api_id: Option<&str>) -> Fields {
        let mut f = self.route_fields();
        f.insert(DESCRIPTION.into(), self.description.clone().into());
        f.insert(format!("stage {}", self.stage), self.routes_hash());
        for r in &self.routes {
            let arn = api_id.map_or(Value::Unknown, |id| self.source_arn(id, r).into());
            f.insert(r.key.permission_field(), arn);
        }
        f
    }

    /// `url` only where the stage can actually be called (see `Ctx::api_url`); the emulator's
    /// host-name form as `host_url`.
    async fn outputs(&self, ctx: &Ctx, api_id: &str) -> Outputs {
        let mut out = Outputs::from([
            ("id".into(), api_id.to_owned()),
            ("name".into(), self.id.name.clone()),
        ]);
        if let Some(url) = ctx.api_url(api_id, &self.stage).await {
            out.insert("url".into(), url);
        }
        if let Some(url) = ctx.emulator_host_url(api_id, &self.stage) {
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

    /// Live routes and the resource id of every path.
    async fn read_routes(&self, ctx: &Ctx, api_id: &str) -> Result<ApiState> {
        let resources = ctx
            .apigateway
            .get_resources()
            .rest_api_id(api_id)
            .embed("methods")
            .limit(500)
            .send()
            .await
            .aws("GetResources")?;
        let mut state = ApiState::default();
        for res in resources.items() {
            let (Some(path), Some(id)) = (res.path(), res.id()) else {
                continue;
            };
            state.paths.insert(path.to_owned(), id.to_owned());
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
                let key = RouteKey {
                    method: method.clone(),
                    path: path.to_owned(),
                };
                let route = LiveRoute {
                    authorization: m.authorization_type().unwrap_or("NONE").to_owned(),
                    integration: integration.map(|i| {
                        let kind = i.r#type().map_or("NONE", |t| t.as_str()).to_owned();
                        (kind, i.uri().unwrap_or_default().to_owned())
                    }),
                };
                state.routes.insert(key, route);
            }
        }
        Ok(state)
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
    async fn read_permissions(&self, ctx: &Ctx) -> Result<BTreeMap<RouteKey, String>> {
        let mut out = BTreeMap::new();
        for route in &self.routes {
            // A function that does not exist yet holds no permission.
            let Some(function) = route.function_arn.known() else {
                continue;
            };
            let policy = ctx
                .lambda
                .get_policy()
                .function_name(function)
                .send()
                .await
                .aws("GetPolicy")
                .found()?;
            let doc = policy.and_then(|p| p.policy).unwrap_or_default();
            if let Some(arn) = permission_source(&doc, &route.permission_id(&self.id.name)) {
                out.insert(route.key.clone(), arn);
            }
        }
        Ok(out)
    }

    /// Makes every route exist with its method, proxy integration and permission.
    async fn put_routes(&self, ctx: &Ctx, api_id: &str, live: &ApiState) -> Result<()> {
        let mut paths = live.paths.clone();
        for route in &self.routes {
            let resource_id = ensure_path(ctx, api_id, &route.key.path, &mut paths).await?;
            let method = &route.key.method;
            match live.routes.get(&route.key) {
                None => {
                    ctx.apigateway
                        .put_method()
                        .rest_api_id(api_id)
                        .resource_id(&resource_id)
                        .http_method(method)
                        .authorization_type(&route.authorization)
                        .send()
                        .await
                        .aws("PutMethod")?;
                }
                Some(l) if l.authorization != route.authorization => {
                    ctx.apigateway
                        .update_method()
                        .rest_api_id(api_id)
                        .resource_id(&resource_id)
                        .http_method(method)
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
                Some(_) => {}
            }
            ctx.apigateway
                .put_integration()
                .rest_api_id(api_id)
                .resource_id(&resource_id)
                .http_method(method)
                .r#type(IntegrationType::AwsProxy)
                // Lambda is always invoked with POST, whatever the route's method.
                .integration_http_method("POST")
                .uri(route.integration_uri(&self.region).sendable()?)
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
        let function = route.function()?;
        let add = || async {
            ctx.lambda
                .add_permission()
                .function_name(function)
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
                .function_name(route.function()?)
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
        let hash = self.routes_hash();
        let hash = hash.sendable()?;
        paced(
            ctx.pacer.as_deref(),
            Paced::CreateDeployment,
            give_up,
            || async {
                ctx.apigateway
                    .create_deployment()
                    .rest_api_id(api_id)
                    .stage_name(&self.stage)
                    .description(format!("{DEPLOYMENT_PREFIX}{hash}"))
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
        self.desired_with_id(None)
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let apis = self.find(ctx).await?;
        // Prefer ours when a name is taken twice, so a stray copy never hides our API.
        let pick = apis
            .iter()
            .find(|a| owner_of(a.tags().into_iter().flatten(), &ctx.stack) == Owner::Us)
            .or(apis.first());
        let Some(api) = pick else { return Ok(None) };
        let api_id = api
            .id()
            .context("GetRestApis listed an API without an id")?;
        let (routes, deployed, permissions) = tokio::join!(
            self.read_routes(ctx, api_id),
            self.deployed_hash(ctx, api_id),
            self.read_permissions(ctx)
        );
        let mut state = routes?;
        state.permissions = permissions?;
        let mut fields: Fields = state
            .routes
            .iter()
            .map(|(k, r)| (k.field(), r.field_value().into()))
            .collect();
        fields.insert(
            DESCRIPTION.into(),
            api.description().unwrap_or_default().into(),
        );
        if let Some(hash) = deployed? {
            fields.insert(format!("stage {}", self.stage), hash.into());
        }
        for (key, arn) in &state.permissions {
            fields.insert(key.permission_field(), arn.as_str().into());
        }
        let owner = owner_of(api.tags().into_iter().flatten(), &ctx.stack);
        let outputs = self.outputs(ctx, api_id).await;
        Ok(Some(Live::new(fields, outputs, owner).with_state(state)))
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
        let mut empty = ApiState::default();
        if let Some(root) = created.root_resource_id() {
            empty.paths.insert("/".to_owned(), root.to_owned());
        }
        // Permissions are independent of the routes' resources and methods: both at once.
        tokio::try_join!(
            self.put_routes(ctx, &api_id, &empty),
            self.grant_all(ctx, &api_id)
        )?;
        self.deploy(ctx, &api_id).await?;
        Ok(self.outputs(ctx, &api_id).await)
    }

    async fn update(&self, ctx: &Ctx, live: &Live, changed: &[FieldDiff]) -> Result<Outputs> {
        let api_id = live.output("id")?;
        let touches = |prefix: &str| changed.iter().any(|c| c.field.starts_with(prefix));
        if touches(DESCRIPTION) {
            ctx.apigateway
                .update_rest_api()
                .rest_api_id(api_id)
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
        let seen = match live.state::<ApiState>() {
            Some(state) => state.clone(),
            None => self.read_routes(ctx, api_id).await?,
        };
        let routes_changed = self.routes_differ(&seen);
        if routes_changed {
            // Read again: the state may be from a plan made before another run changed it.
            let current = self.read_routes(ctx, api_id).await?;
            self.put_routes(ctx, api_id, &current).await?;
            let wanted: Vec<&RouteKey> = self.routes.iter().map(|r| &r.key).collect();
            for key in current.routes.keys().filter(|k| !wanted.contains(k)) {
                delete_route(ctx, api_id, key, &current.paths).await?;
            }
        }
        for route in &self.routes {
            let want = self.source_arn(api_id, route);
            let have = seen.permissions.get(&route.key);
            if have != Some(&want) {
                self.grant(ctx, api_id, route, have.is_some()).await?;
            }
        }
        if routes_changed || touches("stage ") {
            self.deploy(ctx, api_id).await?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, live: &Live) -> Result<()> {
        for route in &self.routes {
            let Some(function) = route.function_arn.known() else {
                continue;
            };
            ctx.lambda
                .remove_permission()
                .function_name(function)
                .statement_id(route.permission_id(&self.id.name))
                .send()
                .await
                .aws("RemovePermission")
                .found()?;
        }
        let api_id = live.output("id")?;
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
                        .rest_api_id(api_id)
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
        let resource = format!("/restapis/{}", live.output("id")?);
        let arn = arn::arn(&self.region, "apigateway", "", &resource);
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
        self.desired_with_id(live.and_then(|l| l.outputs.get("id")).map(String::as_str))
    }
}

impl RestApi {
    /// Whether the live routes differ from the desired ones (method, authorization, target).
    fn routes_differ(&self, live: &ApiState) -> bool {
        let desired = self.route_fields();
        let seen: Fields = live
            .routes
            .iter()
            .map(|(k, r)| (k.field(), r.field_value().into()))
            .collect();
        desired != seen
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

/// Removes a method stack.toml no longer has.
async fn delete_route(
    ctx: &Ctx,
    api_id: &str,
    key: &RouteKey,
    paths: &BTreeMap<String, String>,
) -> Result<()> {
    let Some(resource_id) = paths.get(&key.path) else {
        return Ok(());
    };
    ctx.apigateway
        .delete_method()
        .rest_api_id(api_id)
        .resource_id(resource_id)
        .http_method(&key.method)
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
            id: ResourceId::new(KIND, "task-api"),
            description: String::new(),
            stage: "dev".into(),
            routes: vec![Route {
                key: RouteKey {
                    method: "POST".into(),
                    path: "/tasks".into(),
                },
                function_arn: format!("arn:aws-cn:lambda:{region}:111122223333:function:f").into(),
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
            route.integration_uri(&cn.region).to_string(),
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
