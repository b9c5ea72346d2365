//! What a person reads, as snapshots (issue 9): the plan, status after drift, and the error
//! when nothing answers. The lab's name suffix, the account, ports and times are filtered so
//! the snapshots hold on any machine; `cargo insta review` shows a change.

use aws_sdk_sqs::types::QueueAttributeName;

use crate::util::{Lab, dead_endpoint};

/// Replaces what differs from run to run with placeholders.
fn filtered(lab: &Lab, text: &str, also: &[(&str, &str)]) -> String {
    let mut text = text.replace(&format!("-{}", lab.suffix), "");
    for (from, to) in also {
        text = text.replace(from, to);
    }
    text
}

#[tokio::test]
async fn plan_and_status_as_people_read_them() {
    let lab = Lab::new("snapshot");
    let plan = lab.exstack(&["plan"]).ok();
    insta::assert_snapshot!("plan_from_empty", filtered(&lab, &plan.stdout, &[]));

    lab.exstack(&["up"]).ok();
    let change = lab
        .exstack(&["plan", "--var", "visibility_timeout=45"])
        .ok();
    insta::assert_snapshot!("plan_one_update", filtered(&lab, &change.stdout, &[]));

    // A change by hand, outside exstack: status says what drifted, and exits 3.
    let c = lab.clients().await;
    let url = c.queue_url(&lab.name("task-queue")).await;
    c.sqs
        .set_queue_attributes()
        .queue_url(&url)
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap();
    let status = lab.exstack(&["status"]);
    assert_eq!(status.code, 3, "{}", status.stderr);
    insta::assert_snapshot!("status_drifted", filtered(&lab, &status.stdout, &[]));
}

#[test]
fn nothing_answering_is_one_line_that_says_what_to_do() {
    let lab = Lab::new("snapdead");
    let dead = dead_endpoint();
    let up = lab.exstack(&["up", "--endpoint-url", &dead]);
    assert_eq!(up.code, 1);
    insta::assert_snapshot!(
        "error_nothing_answers",
        filtered(&lab, &up.stderr, &[(&dead, "http://127.0.0.1:<port>")])
    );
}
