//! S3 buckets. Deleting one empties it first — every object and every version, in batches of
//! a thousand — because S3 refuses to delete a bucket that holds anything.

use anyhow::Result;
use async_trait::async_trait;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier, Tag, Tagging,
};

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::{Build, Env, KindImpl, Resource, Shape};
use crate::aws::errors::{AwsResult, Found};
use crate::aws::{Ctx, arn};
use crate::manifest::template::Template;
use crate::manifest::{Checker, Declare, Diagnostic, Spec, Stack, valid_name};
use crate::model::{Fields, Kind, Live, OWNER_TAG, Outputs, Owner, ResourceId};
use crate::plan::FieldDiff;
use crate::resolve::{Resolver, nothing_captured};

pub const KIND: Kind = Kind::new(1, "buckets", "bucket");

/// An S3 bucket. `exstack down` empties it (all versions) first.
#[derive(Debug, Deserialize, Default, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bucket")]
pub struct RawBucket {
    /// Its name in S3, when it is not the table's. Bucket names are global (on AWS and on the
    /// emulators, across accounts), so a lab for a classroom of accounts on one emulator names
    /// it per account: `name = "task-results-${aws.account_id}"`. `${var.*}` and `${aws.*}` only.
    #[schemars(with = "Option<String>")]
    name: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct BucketSpec {
    name: Option<Template>,
}

impl Spec for BucketSpec {
    fn kind(&self) -> Kind {
        KIND
    }

    fn templates(&self) -> Vec<&Template> {
        self.name.iter().collect()
    }
}

/// Whether `n` is a name S3 takes.
fn is_bucket_name(n: &str) -> bool {
    valid_name(n, 3, 63, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.'
    }) && !n.starts_with(['-', '.'])
        && !n.ends_with(['-', '.'])
}

const BUCKET_NAME_HELP: &str = "bucket names are 3-63 lowercase letters, digits, `-` or `.`, starting and ending with a letter or digit";

/// The `name` setting, checked as far as it can be before the account is known: with a
/// 12-digit account and the longest region's length.
fn checked_name(raw: &Spanned<String>, c: &mut Checker) -> Template {
    let t = c.template(raw);
    if t.references().next().is_some() {
        c.problem(
            Diagnostic::new(
                "a bucket's name cannot refer to another resource",
                raw.span(),
            )
            .with_help("use text, ${var.<name>}, ${aws.account_id} and ${aws.region}"),
        );
        return t;
    }
    let example = Resolver {
        account_id: "000000000000",
        region: "ap-southeast-3",
        outputs: &std::collections::HashMap::new(),
        captured: nothing_captured(),
    }
    .value(&t);
    if let Some(n) = example.known().filter(|n| !is_bucket_name(n)) {
        let written = raw.get_ref();
        let what = if written == n {
            format!("`{n}` is not a valid bucket name")
        } else {
            format!(
                "`{written}` is not a valid bucket name (with an account and region in place: `{n}`)"
            )
        };
        c.problem(Diagnostic::new(what, raw.span()).with_help(BUCKET_NAME_HELP));
    }
    t
}

impl Declare for Bucket {
    const KIND: Kind = KIND;
    const ATTRIBUTES: &'static [&'static str] = &["arn", "name"];
    const ABOUT: &'static str = "S3 buckets, by name (3-63 lowercase letters, digits, `-` or `.`).\nOthers refer to them as `${buckets.<name>.arn}` or `.name`.";
    type Raw = RawBucket;
    type Spec = BucketSpec;

    fn check(name: &Spanned<String>, raw: &RawBucket, c: &mut Checker) -> BucketSpec {
        let n = name.get_ref();
        // With a `name` of its own, the table's name is only what others refer to it by.
        if raw.name.is_none() && !is_bucket_name(n) {
            c.problem(
                Diagnostic::new(format!("`{n}` is not a valid bucket name"), name.span())
                    .with_help(BUCKET_NAME_HELP),
            );
        }
        BucketSpec {
            name: raw.name.as_ref().map(|raw| checked_name(raw, c)),
        }
    }
}

impl KindImpl for Bucket {
    const SHAPE: Shape = Shape {
        mermaid: ("[(", ")]"),
        dot: "cylinder",
    };

    fn build(spec: &BucketSpec, b: &Build<'_>) -> Box<dyn Resource> {
        let r = b.resolver;
        Box::new(Bucket {
            id: ResourceId::new(KIND, b.name),
            name: Self::aws_name(spec, b.name, r.account_id, r.region),
        })
    }

    fn aws_name(spec: &BucketSpec, name: &str, account: &str, region: &str) -> String {
        let Some(t) = &spec.name else {
            return name.to_owned();
        };
        let facts = Resolver {
            account_id: account,
            region,
            outputs: &std::collections::HashMap::new(),
            captured: nothing_captured(),
        };
        // Checked to hold no references, so it is always known.
        facts.value(t).known().unwrap_or(name).to_owned()
    }

    fn predicted(name: &str, account: &str, region: &str) -> Outputs {
        Outputs::from([
            ("name".into(), name.into()),
            ("arn".into(), arn::arn(region, "s3", account, name)),
        ])
    }

    fn shown(_spec: &BucketSpec, name: &str, o: &Outputs) -> Vec<(String, String)> {
        vec![("name".into(), aws_name_of(name, o))]
    }

    fn env(_stack: &Stack, _spec: &BucketSpec, name: &str, base: &str, o: &Outputs) -> Env {
        let name = aws_name_of(name, o);
        Env {
            vars: vec![(format!("{base}_BUCKET"), name.clone())],
            alias: Some(("BUCKET", name)),
        }
    }
}

/// The name S3 knows, from the outputs; the table's name before they exist.
fn aws_name_of(name: &str, o: &Outputs) -> String {
    o.get("name").cloned().unwrap_or_else(|| name.to_owned())
}

pub struct Bucket {
    id: ResourceId,
    /// Its name in S3: the table's, or its `name` setting.
    name: String,
}

impl Bucket {
    fn journal_entry(&self) -> String {
        self.id.address()
    }

    fn outputs(&self, ctx: &Ctx) -> Outputs {
        Bucket::predicted(&self.name, &ctx.account, &ctx.target.region)
    }

    async fn put_owner_tag(&self, ctx: &Ctx, mut tags: Vec<Tag>) -> Result<()> {
        tags.retain(|t| t.key() != OWNER_TAG);
        tags.push(Tag::builder().key(OWNER_TAG).value(&ctx.stack).build()?);
        ctx.s3
            .put_bucket_tagging()
            .bucket(&self.name)
            .tagging(Tagging::builder().set_tag_set(Some(tags)).build()?)
            .send()
            .await
            .aws("PutBucketTagging")?;
        Ok(())
    }

    async fn tags(&self, ctx: &Ctx) -> Result<Option<Vec<Tag>>> {
        let answer = ctx
            .s3
            .get_bucket_tagging()
            .bucket(&self.name)
            .send()
            .await
            .aws("GetBucketTagging");
        match answer {
            Ok(t) => Ok(Some(t.tag_set)),
            // The bucket exists, with no tags at all.
            Err(e) if e.has_code(&["NoSuchTagSet", "NoSuchTagSetError"]) => Ok(Some(Vec::new())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[async_trait]
impl Resource for Bucket {
    fn id(&self) -> &ResourceId {
        &self.id
    }

    fn desired(&self) -> Fields {
        Fields::new()
    }

    async fn read(&self, ctx: &Ctx) -> Result<Option<Live>> {
        let Some(tags) = self.tags(ctx).await? else {
            return Ok(None);
        };
        let tag = tags
            .iter()
            .find(|t| t.key() == OWNER_TAG)
            .map(|t| t.value());
        let owner = Owner::from_tag(tag, &ctx.stack);
        let mut live = Live::new(Fields::new(), self.outputs(ctx), owner);
        // Ours, created by a run that died before tagging it: the update finishes it.
        if live.owner == Owner::Untagged && ctx.run_files.is_pending(&self.journal_entry()) {
            live.owner = Owner::Us;
            live.unfinished = true;
        }
        Ok(Some(live))
    }

    async fn create(&self, ctx: &Ctx) -> Result<Outputs> {
        // Creating and tagging are two calls: remember the bucket is ours until both are done.
        ctx.run_files.begin(&self.journal_entry())?;
        let mut create = ctx.s3.create_bucket().bucket(&self.name);
        // us-east-1 is the one region that must not be named as a location constraint.
        if ctx.target.region != "us-east-1" {
            create = create.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(ctx.target.region.as_str()))
                    .build(),
            );
        }
        create.send().await.aws("CreateBucket")?;
        self.put_owner_tag(ctx, Vec::new()).await?;
        ctx.run_files.finish(&self.journal_entry())?;
        Ok(self.outputs(ctx))
    }

    async fn update(&self, ctx: &Ctx, live: &Live, _changed: &[FieldDiff]) -> Result<Outputs> {
        if live.unfinished {
            self.tag(ctx, live).await?;
            ctx.run_files.finish(&self.journal_entry())?;
        }
        Ok(live.outputs.clone())
    }

    async fn delete(&self, ctx: &Ctx, _live: &Live) -> Result<()> {
        empty(ctx, &self.name).await?;
        ctx.run_files.finish(&self.journal_entry())?;
        ctx.s3
            .delete_bucket()
            .bucket(&self.name)
            .send()
            .await
            .aws("DeleteBucket")
            .found()?;
        Ok(())
    }

    async fn tag(&self, ctx: &Ctx, _live: &Live) -> Result<()> {
        let tags = self.tags(ctx).await?.unwrap_or_default();
        self.put_owner_tag(ctx, tags).await
    }
}

/// Deletes every object version and delete marker, a page (≤ 1000) per DeleteObjects call.
pub async fn empty(ctx: &Ctx, bucket: &str) -> Result<usize> {
    let mut deleted = 0;
    loop {
        let page = ctx
            .s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
            .aws("ListObjectVersions")
            .found()?;
        let Some(page) = page else { return Ok(deleted) };
        let versions = page.versions().iter().map(|v| (v.key(), v.version_id()));
        let markers = page
            .delete_markers()
            .iter()
            .map(|m| (m.key(), m.version_id()));
        let objects: Vec<ObjectIdentifier> = versions
            .chain(markers)
            .filter_map(|(key, version)| {
                ObjectIdentifier::builder()
                    .set_key(key.map(str::to_owned))
                    .set_version_id(version.filter(|v| *v != "null").map(str::to_owned))
                    .build()
                    .ok()
            })
            .collect();
        if objects.is_empty() {
            return Ok(deleted);
        }
        let count = objects.len();
        let answer = ctx
            .s3
            .delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .aws("DeleteObjects")?;
        // A version S3 will not delete (object lock, a legal hold, a denied permission) would
        // come back on every listing: stop, naming it, instead of trying for ever.
        if let Some(refused) = answer.errors().first() {
            anyhow::bail!(
                "S3 refused to delete {}{} from bucket {bucket}: {} ({}); {} of {count} objects in this batch were not deleted",
                refused.key().unwrap_or("an object"),
                refused
                    .version_id()
                    .map(|v| format!(" (version {v})"))
                    .unwrap_or_default(),
                refused.message().unwrap_or("no reason given"),
                refused.code().unwrap_or("no code"),
                answer.errors().len(),
            );
        }
        deleted += count;
    }
}
