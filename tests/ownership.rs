//! A same-named resource the stack does not own (a student made it by hand) is never touched
//! by surprise: `up` and `down` leave it alone and say so; flags make the choice explicit.

use crate::util::Lab;

#[tokio::test]
async fn hand_made_queue_is_left_alone_until_asked() {
    let lab = Lab::new("own");
    let c = lab.clients().await;
    let name = lab.name("task-dlq");
    c.sqs.create_queue().queue_name(&name).send().await.unwrap();

    let up = lab.exstack(&["up"]);
    assert_eq!(up.code, 1, "{}", up.stderr);
    assert!(
        up.stderr.contains("without this stack's ownership tag"),
        "{}",
        up.stderr
    );
    // Its dependents wait for it; everything else is created.
    assert!(up.stderr.contains("Skipped queue"), "{}", up.stderr);

    let status = lab.exstack(&["status"]);
    assert_eq!(status.code, 3);
    assert!(
        status.stdout.contains("not owned  queue"),
        "{}",
        status.stdout
    );

    // down deletes what it owns, not the hand-made queue.
    lab.exstack(&["down"]).ok();
    c.sqs
        .get_queue_url()
        .queue_name(&name)
        .send()
        .await
        .expect("hand-made queue survives down");

    // The instructor's explicit choice: adopt it...
    lab.exstack(&["up", "--adopt"]).ok();
    lab.exstack(&["status"]).ok();
    lab.exstack(&["down"]).ok();
    assert!(
        c.sqs
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .is_err(),
        "adopted queue is ours now"
    );
}

#[tokio::test]
async fn down_include_unowned_removes_hand_made_but_not_another_stacks() {
    let lab = Lab::new("ownall");
    let c = lab.clients().await;
    let hand_made = lab.name("task-dlq");
    let other_stacks = lab.name("task-queue");
    c.sqs
        .create_queue()
        .queue_name(&hand_made)
        .send()
        .await
        .unwrap();
    c.sqs
        .create_queue()
        .queue_name(&other_stacks)
        .tags("exstack:stack", "someone-else")
        .send()
        .await
        .unwrap();

    let down = lab.exstack(&["down", "--include-unowned"]);
    assert!(
        c.sqs
            .get_queue_url()
            .queue_name(&hand_made)
            .send()
            .await
            .is_err(),
        "{}",
        down.stderr
    );
    assert!(
        c.sqs
            .get_queue_url()
            .queue_name(&other_stacks)
            .send()
            .await
            .is_ok(),
        "another stack's queue was deleted"
    );
    assert!(
        down.stderr.contains("belongs to stack `someone-else`"),
        "{}",
        down.stderr
    );

    let up = lab.exstack(&["up", "--adopt"]);
    assert_eq!(up.code, 1, "another stack's resource must not be adopted");
    let url = c.queue_url(&other_stacks).await;
    c.sqs.delete_queue().queue_url(url).send().await.unwrap();
    lab.exstack(&["down"]).ok();
}
