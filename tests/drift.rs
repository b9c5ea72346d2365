//! Out-of-band changes, one per resource kind: `status` reports each (exit 3, naming the
//! field) and one `up` repairs it, after which `status` is clean.

use crate::util::{Clients, Lab, Target, target};

/// Converges a lab, applies `break_it`, and checks the status → up → status cycle.
async fn drift_case<F, Fut>(test: &str, expect: &str, break_it: F)
where
    F: FnOnce(Clients, Lab) -> Fut,
    Fut: std::future::Future<Output = Lab>,
{
    let lab = Lab::new(test);
    lab.exstack(&["up"]).ok();
    let clients = lab.clients().await;
    let lab = break_it(clients, lab).await;
    let status = lab.exstack(&["status"]);
    assert_eq!(
        status.code, 3,
        "status after drift should exit 3:\n{}{}",
        status.stdout, status.stderr
    );
    assert!(
        status.stdout.contains(expect),
        "status does not mention `{expect}`:\n{}",
        status.stdout
    );
    let up = lab.exstack(&["up", "-o", "json"]).ok().json();
    assert!(up["calls"]["writes"].as_u64().unwrap() > 0, "{up}");
    let after = lab.exstack(&["status"]);
    assert_eq!(
        after.code, 0,
        "not repaired:\n{}{}",
        after.stdout, after.stderr
    );
    lab.exstack(&["down"]).ok();
}

#[tokio::test]
async fn queue_attribute() {
    drift_case(
        "dqattr",
        "VisibilityTimeout: 30 → 60",
        |c, lab| async move {
            let url = c.queue_url(&lab.name("task-queue")).await;
            c.sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
                    "30",
                )
                .send()
                .await
                .unwrap();
            lab
        },
    )
    .await;
}

#[tokio::test]
async fn redrive_policy() {
    drift_case(
        "dredrive",
        "RedrivePolicy.maxReceiveCount: 7 → 3",
        |c, lab| async move {
            let url = c.queue_url(&lab.name("task-queue")).await;
            let dlq = format!(
                "arn:aws:sqs:us-east-1:{}:{}",
                c.account().await,
                lab.name("task-dlq")
            );
            let policy = format!(r#"{{"deadLetterTargetArn":"{dlq}","maxReceiveCount":"7"}}"#);
            c.sqs
                .set_queue_attributes()
                .queue_url(url)
                .attributes(
                    aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                    policy,
                )
                .send()
                .await
                .unwrap();
            lab
        },
    )
    .await;
}

#[tokio::test]
async fn deleted_mapping() {
    drift_case(
        "dmap",
        "missing  event source mapping",
        |c, lab| async move {
            crate::util::delete_mappings(&c, &lab.name("task-processor")).await;
            lab
        },
    )
    .await;
}

#[tokio::test]
async fn changed_environment_variable() {
    drift_case(
        "denv",
        "environment.QUEUE_URL: http://wrong",
        |c, lab| async move {
            let env = aws_sdk_lambda::types::Environment::builder()
                .variables("QUEUE_URL", "http://wrong")
                .build();
            c.lambda
                .update_function_configuration()
                .function_name(lab.name("api-enqueue"))
                .environment(env)
                .send()
                .await
                .unwrap();
            lab
        },
    )
    .await;
}

#[tokio::test]
async fn edited_function_code() {
    drift_case("dcode", "CodeSha256:", |c, lab| async move {
        c.replace_code(&lab.name("task-processor"), "task_processor.py")
            .await;
        lab
    })
    .await;
}

#[tokio::test]
async fn detached_policy() {
    drift_case("ddetach", "attached_policies:", |c, lab| async move {
        let arn = format!(
            "arn:aws:iam::{}:policy/{}",
            c.account().await,
            lab.name("SQSProcessorPolicy")
        );
        c.iam
            .detach_role_policy()
            .role_name(lab.name("lambda-sqs-processor"))
            .policy_arn(arn)
            .send()
            .await
            .unwrap();
        lab
    })
    .await;
}

#[tokio::test]
async fn changed_policy_document() {
    drift_case("dpoldoc", "document:", |c, lab| async move {
        let arn = format!("arn:aws:iam::{}:policy/{}", c.account().await, lab.name("ApiEnqueuePolicy"));
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sqs:*","Resource":"*"}]}"#;
        c.iam.create_policy_version().policy_arn(arn).policy_document(doc).set_as_default(true).send().await.unwrap();
        lab
    })
    .await;
}

#[tokio::test]
async fn deleted_api_method() {
    drift_case("dmethod", "route POST /tasks", |c, lab| async move {
        let apis = c.apigateway.get_rest_apis().send().await.unwrap();
        let api = apis
            .items()
            .iter()
            .find(|a| a.name() == Some(lab.name("task-api").as_str()))
            .unwrap();
        let id = api.id().unwrap();
        let tasks = c.tasks_route_id(id).await.unwrap();
        c.apigateway
            .delete_method()
            .rest_api_id(id)
            .resource_id(tasks)
            .http_method("POST")
            .send()
            .await
            .unwrap();
        lab
    })
    .await;
}

#[tokio::test]
async fn deleted_bucket() {
    drift_case("dbucket", "missing  bucket", |c, lab| async move {
        c.s3.delete_bucket()
            .bucket(lab.name("task-results"))
            .send()
            .await
            .unwrap();
        lab
    })
    .await;
}

/// Editing stack.toml is drift too: the plan names the field, and up changes it in place.
#[tokio::test]
async fn edited_stack_updates_in_place() {
    let lab = Lab::new("dedit");
    lab.exstack(&["up"]).ok();
    lab.edit_stack("batch_size = 5", "batch_size = 7");
    let plan = lab.exstack(&["plan"]).ok();
    assert!(plan.stdout.contains("BatchSize: 5 → 7"), "{}", plan.stdout);
    assert!(
        plan.stdout.contains("0 to create, 1 to update"),
        "{}",
        plan.stdout
    );
    lab.exstack(&["up"]).ok();
    lab.exstack(&["status"]).ok();
    lab.exstack(&["down"]).ok();
}

/// The API deleted out of band: `up` makes a new one (a new id) and moves the function's
/// permission to it. AWS (and LocalStack) refuse a second statement with the permission's id, so
/// exstack replaces it in the same run; moto accepts the duplicate, `status` shows both, and
/// the next `up` leaves one.
#[tokio::test]
async fn deleted_api_gets_a_new_api_and_permission() {
    let lab = Lab::new("dapi");
    lab.exstack(&["up"]).ok();
    let c = lab.clients().await;
    let apis = c.apigateway.get_rest_apis().send().await.unwrap();
    let old = apis
        .items()
        .iter()
        .find(|a| a.name() == Some(lab.name("task-api").as_str()))
        .unwrap();
    c.apigateway
        .delete_rest_api()
        .rest_api_id(old.id().unwrap())
        .send()
        .await
        .unwrap();
    let status = lab.exstack(&["status"]);
    assert_eq!(status.code, 3);
    assert!(
        status.stdout.contains("missing  rest api"),
        "{}",
        status.stdout
    );
    lab.exstack(&["up"]).ok();
    let after = lab.exstack(&["status"]);
    match target() {
        Target::LocalStack | Target::MiniStack => assert_eq!(after.code, 0, "{}", after.stdout),
        Target::Moto => {
            assert_eq!(after.code, 3, "{}", after.stdout);
            assert!(
                after.stdout.contains("(2 statements with id exstack-"),
                "{}",
                after.stdout
            );
            lab.exstack(&["up"]).ok();
            lab.exstack(&["status"]).ok();
        }
    }
    lab.exstack(&["down"]).ok();
}

/// A description written into stack.toml after the lab is up: each is planned as a change,
/// `up` applies it in place, and the lab is then in sync (it used to be sent only on create).
#[tokio::test]
async fn edited_descriptions_are_planned_and_applied() {
    let lab = Lab::new("ddesc");
    lab.exstack(&["up"]).ok();
    lab.edit_stack(
        "handler = \"task_processor.handler\"",
        "handler = \"task_processor.handler\"\ndescription = \"Processes tasks\"",
    );
    lab.edit_stack(
        "trusted_services = [\"lambda.amazonaws.com\"]",
        "description = \"Lets the processor read tasks\"\ntrusted_services = [\"lambda.amazonaws.com\"]",
    );
    let plan = lab.exstack(&["plan"]).ok();
    assert!(
        plan.stdout.contains("Description:  → Processes tasks"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("description:  → Lets the processor read tasks"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("0 to create, 2 to update"),
        "{}",
        plan.stdout
    );
    lab.exstack(&["up"]).ok();
    let status = lab.exstack(&["status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    lab.exstack(&["down"]).ok();
}

/// IAM cannot change a policy's description, so a new one replaces the policy: the plan says
/// so, and the new policy is attached to the roles the old one was (status then in sync,
/// attachments included).
#[tokio::test]
async fn a_policy_description_replaces_it_and_keeps_its_roles() {
    let lab = Lab::new("dpoldesc");
    lab.exstack(&["up"]).ok();
    let marker = format!("[[policies.{}.statements]]", lab.name("SQSProcessorPolicy"));
    lab.edit_stack(
        &marker,
        &format!("description = \"Reads tasks, writes results\"\n\n{marker}"),
    );
    let plan = lab.exstack(&["plan"]).ok();
    assert!(
        plan.stdout
            .contains("description:  → Reads tasks, writes results (forces replacement)"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("1 to replace"), "{}", plan.stdout);
    lab.exstack(&["up"]).ok();
    let status = lab.exstack(&["status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    lab.exstack(&["down"]).ok();
}
