//! What a person sees on a terminal (issue 9): a spinner per resource while it is worked on,
//! a ✓ line when it is done, colour unless NO_COLOR, and nothing left of the spinners at the
//! end. `script` (util-linux) gives exstack a pseudo-terminal, as a person's shell would.

use std::process::Command;

use crate::util::{Lab, Run, dead_endpoint, run};

/// Runs exstack in `lab` on a pseudo-terminal; stdout is what the terminal received.
fn on_terminal(lab: &Lab, args: &str, env: &[(&str, &str)]) -> Run {
    let exe = env!("CARGO_BIN_EXE_exstack");
    let mut cmd = Command::new("script");
    cmd.args(["-qfec", &format!("{exe} {args}"), "/dev/null"])
        .current_dir(lab.dir.path())
        .env("AWS_ENDPOINT_URL", &lab.endpoint)
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .env_remove("AWS_REGION")
        .env_remove("AWS_PROFILE");
    cmd.envs(env.iter().copied());
    run(cmd)
}

// anstyle writes bold and the colour as two sequences.
const GREEN: &str = "\x1b[1m\x1b[32m";
const RED: &str = "\x1b[1m\x1b[31m";

#[test]
fn up_on_a_terminal_shows_spinners_then_marks_and_ends_cleanly() {
    let lab = Lab::new("tty");
    let up = on_terminal(&lab, "up", &[]);
    assert_eq!(up.code, 0, "{}", up.stdout);
    let screen = &up.stdout;
    assert!(
        screen.contains("Creating   function task-processor"),
        "a spinner line while the function is created:\n{screen}"
    );
    assert!(
        screen.contains(&format!("{GREEN}✓\x1b[0m Created    queue task-dlq")),
        "a green ✓ line once the queue is done:\n{screen}"
    );
    // Ends cleanly: after the closing line only the outputs, no spinner redrawn.
    let tail = &screen[screen.rfind("Finished").expect("a Finished line")..];
    assert!(tail.contains("11 created"), "{tail}");
    assert!(
        !tail.contains("Creating"),
        "a spinner outlived the run:\n{tail}"
    );
    assert!(tail.contains("apis.task-api"), "outputs follow:\n{tail}");
}

#[test]
fn no_color_and_color_never_turn_colour_off() {
    let lab = Lab::new("nocolor");
    for (args, env) in [
        ("status", vec![("NO_COLOR", "1")]),
        ("status --color never", vec![]),
    ] {
        let run = on_terminal(&lab, args, &env);
        assert!(
            !run.stdout.contains('\x1b'),
            "{args} {env:?}:\n{}",
            run.stdout
        );
    }
    // And it is on by default on a terminal (so the two above prove something).
    let run = on_terminal(&lab, "status -v", &[]);
    assert!(run.stdout.contains(GREEN), "{}", run.stdout);
}

#[test]
fn a_fleet_on_a_terminal_has_a_row_per_machine_ending_in_a_mark() {
    let lab = Lab::new("ttyfleet");
    let dead = dead_endpoint();
    let args = format!(
        "status --endpoint-url {} --endpoint-url {dead}",
        lab.endpoint
    );
    let run = on_terminal(&lab, &args, &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let dead_name = dead.trim_start_matches("http://");
    assert!(
        run.stdout.contains(&format!("{dead_name} {RED}✗")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("TARGET"),
        "the table follows: {}",
        run.stdout
    );
}
