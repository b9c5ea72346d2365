//! up from empty, idempotence, plan, down, and a restart of the emulator between two ups.
//! All of it runs against moto too (EXSTACK_TEST_TARGET=moto).

use crate::util::{Clients, Instance, Lab, Target, target};

#[test]
fn up_converges_then_status_is_clean_and_second_up_writes_nothing() {
    let lab = Lab::new("life");
    let plan = lab.exstack(&["plan", "-o", "json"]).ok().json();
    assert_eq!(plan["summary"]["create"], 11, "{plan}");
    assert_eq!(plan["calls"]["writes"], 0, "plan must not write");

    let up = lab.exstack(&["up", "-o", "json"]).ok().json();
    assert_eq!(up["ok"], true);
    let created = up["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "create")
        .count();
    assert_eq!(created, 11, "{up}");
    let api = lab.name("task-api");
    let url = &up["outputs"][format!("apis.{api}.POST /tasks")];
    let host_url = &up["outputs"][format!("apis.{api}.POST /tasks (host)")];
    assert!(up["outputs"][format!("apis.{api}.id")].is_string(), "{up}");
    match target() {
        // LocalStack serves the stage at its path form and at its own host names.
        Target::LocalStack => {
            let url = url.as_str().unwrap();
            assert!(
                url.starts_with(&lab.endpoint) && url.ends_with("/dev/_user_request_/tasks"),
                "{url}"
            );
            let host_url = host_url.as_str().unwrap();
            assert!(
                host_url.contains(".execute-api.localhost.localstack.cloud:"),
                "{host_url}"
            );
        }
        // MiniStack serves LocalStack's path form and its own host names.
        Target::MiniStack => {
            let url = url.as_str().unwrap();
            assert!(url.starts_with(&lab.endpoint), "{url}");
            let host_url = host_url.as_str().unwrap();
            assert!(host_url.contains(".execute-api.localhost:"), "{host_url}");
        }
        // moto serves no stage: no URL is printed rather than one that does not answer.
        Target::Moto => assert!(url.is_null() && host_url.is_null(), "{up}"),
    }

    let status = lab.exstack(&["status"]).ok();
    assert_eq!(
        status.stdout.matches("in sync").count(),
        11,
        "{}",
        status.stdout
    );

    let again = lab.exstack(&["up", "-o", "json"]).ok().json();
    assert_eq!(
        again["calls"]["writes"], 0,
        "second up wrote: {}",
        again["calls"]
    );
    assert!(again["calls"]["reads"].as_u64().unwrap() > 0);

    let plan = lab.exstack(&["plan"]).ok();
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    lab.exstack(&["down"]).ok();
}

#[tokio::test]
async fn down_leaves_nothing_behind_and_twice_is_fine() {
    let lab = Lab::new("down");
    lab.exstack(&["up"]).ok();
    let c = lab.clients().await;
    let bucket = lab.name("task-results");
    for i in 0..25 {
        c.s3.put_object()
            .bucket(&bucket)
            .key(format!("results/{i}.json"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
            .send()
            .await
            .unwrap();
    }
    let down = lab.exstack(&["down", "-o", "json"]).ok().json();
    let deleted = down["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "delete")
        .count();
    assert_eq!(deleted, 11, "{down}");

    // Everything, listed service by service: no name carrying the lab's suffix is left.
    let suffix = &lab.suffix;
    let mut left: Vec<String> = Vec::new();
    let mut check = |what: &str, names: Vec<&str>| {
        let ours = names.into_iter().filter(|n| n.contains(suffix.as_str()));
        left.extend(ours.map(|n| format!("{what} {n}")));
    };
    let queues = c.sqs.list_queues().send().await.unwrap();
    check(
        "queue",
        queues.queue_urls().iter().map(String::as_str).collect(),
    );
    let buckets = c.s3.list_buckets().send().await.unwrap();
    check(
        "bucket",
        buckets.buckets().iter().filter_map(|b| b.name()).collect(),
    );
    let roles = c.iam.list_roles().send().await.unwrap();
    check(
        "role",
        roles.roles().iter().map(|r| r.role_name()).collect(),
    );
    let policies = c
        .iam
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    let policy_names = policies.policies().iter().filter_map(|p| p.policy_name());
    check("policy", policy_names.collect());
    let functions = c.lambda.list_functions().send().await.unwrap();
    let function_names = functions
        .functions()
        .iter()
        .filter_map(|f| f.function_name());
    check("function", function_names.collect());
    let mappings = c.lambda.list_event_source_mappings().send().await.unwrap();
    let sources = mappings
        .event_source_mappings()
        .iter()
        .filter_map(|m| m.event_source_arn());
    check("mapping on", sources.collect());
    let apis = c.apigateway.get_rest_apis().send().await.unwrap();
    check(
        "rest api",
        apis.items().iter().filter_map(|a| a.name()).collect(),
    );
    assert!(left.is_empty(), "down left behind: {left:?}");

    let again = lab.exstack(&["down", "-o", "json"]).ok().json();
    assert_eq!(again["calls"]["writes"], 0, "{again}");
}

/// LocalStack and moto keep state in memory: after a restart the next `up` recreates everything.
#[test]
fn up_after_localstack_restart_recreates_everything() {
    let base = match target() {
        Target::LocalStack => 4571,
        Target::MiniStack => 4591,
        Target::Moto => 5071,
    };
    let instance = Instance::start(base);
    let lab = Lab::with_endpoint("restart", &instance.endpoint);
    lab.exstack(&["up"]).ok();
    instance.run("stop");
    instance.run("start");
    let up = lab.exstack(&["up", "-o", "json"]);
    let up = up.ok().json();
    let created = up["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["action"] == "create")
        .count();
    assert_eq!(created, 11, "{up}");
}

/// Converges `lab` in `region` and checks, from the service's own answers, that what exstack
/// built names the region and the partition: the redrive target, the attached policies, the
/// API's integration; and the bucket is where it was asked to be.
async fn converges_in(lab: &Lab, region: &str, partition: &str) {
    lab.set_region(region);
    lab.exstack(&["up"]).ok();
    lab.exstack(&["status"]).ok();
    let c = Clients::in_region(&lab.endpoint, region).await;
    let account = c.account().await;

    let url = c.queue_url(&lab.name("task-queue")).await;
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .unwrap();
    let redrive =
        &attrs.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy];
    let dlq = format!(
        "arn:{partition}:sqs:{region}:{account}:{}",
        lab.name("task-dlq")
    );
    assert!(redrive.contains(&dlq), "{redrive} does not name {dlq}");

    let attached = c
        .iam
        .list_attached_role_policies()
        .role_name(lab.name("lambda-api-enqueue"))
        .send()
        .await
        .unwrap();
    let policy = format!(
        "arn:{partition}:iam::{account}:policy/{}",
        lab.name("ApiEnqueuePolicy")
    );
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(policy.as_str())
    );

    let location =
        c.s3.get_bucket_location()
            .bucket(lab.name("task-results"))
            .send()
            .await
            .unwrap();
    assert_eq!(
        location.location_constraint().map(|l| l.as_str()),
        Some(region)
    );

    let apis = c.apigateway.get_rest_apis().send().await.unwrap();
    let api = apis
        .items()
        .iter()
        .find(|a| a.name() == Some(lab.name("task-api").as_str()))
        .unwrap();
    let tasks = c.tasks_route_id(api.id().unwrap()).await.unwrap();
    let integration = c
        .apigateway
        .get_integration()
        .rest_api_id(api.id().unwrap())
        .resource_id(tasks)
        .http_method("POST")
        .send()
        .await
        .unwrap();
    let uri = integration.uri().unwrap();
    let expected = format!(
        "arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/arn:{partition}:lambda:{region}:{account}:function:{}/invocations",
        lab.name("api-enqueue")
    );
    assert_eq!(uri, expected);

    lab.exstack(&["down"]).ok();
}

/// Outside us-east-1: the bucket gets its LocationConstraint, ARNs name the region.
#[tokio::test]
async fn up_in_another_region() {
    let lab = Lab::new("region");
    converges_in(&lab, "eu-west-1", "aws").await;
}

/// China's regions are their own partition: every ARN exstack builds is `arn:aws-cn:...`.
#[tokio::test]
async fn up_in_a_china_region_uses_the_aws_cn_partition() {
    if target() == Target::LocalStack {
        eprintln!(
            "skipped up_in_a_china_region_uses_the_aws_cn_partition: LocalStack serves cn-north-1 as us-east-1 with arn:aws ARNs (docs/compatibility.md)"
        );
        return;
    }
    if target() == Target::MiniStack {
        eprintln!(
            "skipped up_in_a_china_region_uses_the_aws_cn_partition: MiniStack 1.5.33 refuses a redrive policy naming an arn:aws-cn: queue (InvalidAttributeValue; docs/compatibility.md)"
        );
        return;
    }
    let lab = Lab::new("china");
    converges_in(&lab, "cn-north-1", "aws-cn").await;
}

/// An object S3 refuses to delete (here under a legal hold) makes `down` stop and name it,
/// instead of listing and deleting the same page for ever; once the hold is lifted, `down`
/// finishes.
#[tokio::test]
async fn down_names_an_object_s3_will_not_delete() {
    use aws_sdk_s3::types::{
        BucketVersioningStatus, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
        ObjectLockLegalHoldStatus, VersioningConfiguration,
    };
    let lab = Lab::new("dlock");
    lab.exstack(&["up"]).ok();
    let c = lab.clients().await;
    let bucket = lab.name("task-results");
    let versioning = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    c.s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(versioning)
        .send()
        .await
        .unwrap();
    let lock = ObjectLockConfiguration::builder()
        .object_lock_enabled(ObjectLockEnabled::Enabled)
        .build();
    c.s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(lock)
        .send()
        .await
        .unwrap();
    c.s3.put_object()
        .bucket(&bucket)
        .key("held.json")
        .body(b"{}".to_vec().into())
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let down = lab.exstack(&["down"]);
    assert_eq!(down.code, 1, "{}{}", down.stdout, down.stderr);
    assert!(down.stderr.contains("held.json"), "{}", down.stderr);
    let versions =
        c.s3.list_object_versions()
            .bucket(&bucket)
            .send()
            .await
            .unwrap();
    for v in versions.versions() {
        let off = ObjectLockLegalHold::builder()
            .status(ObjectLockLegalHoldStatus::Off)
            .build();
        c.s3.put_object_legal_hold()
            .bucket(&bucket)
            .key(v.key().unwrap())
            .set_version_id(v.version_id().map(str::to_owned))
            .legal_hold(off)
            .send()
            .await
            .unwrap();
    }
    lab.exstack(&["down"]).ok();
}
