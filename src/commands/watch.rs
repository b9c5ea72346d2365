//! `exstack up --watch`: one `up`, then on every save of stack.toml or of a function's code,
//! re-plan and apply what changed. Errors (an invalid stack.toml, a failed call) are shown
//! and watching goes on. Ctrl-C while idle ends it with exit 0; during an apply, the calls in
//! flight finish and it exits 130, as `up` does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Result;
use tokio_util::sync::CancellationToken;

use super::Exit;
use super::report::{self, Plain, Report};
use super::up::{self, Up};
use crate::aws::Ctx;
use crate::cli::{Global, UpArgs};
use crate::manifest::Stack;
use crate::output::Printer;

/// How often file times are looked at: a few `stat`s, so cheap enough to do often.
const POLL: Duration = Duration::from_millis(100);
/// A burst of saves (an editor's temp file and rename, a `git checkout`) counts as one change
/// once nothing has changed for this long.
const QUIET: Duration = Duration::from_millis(60);
/// A burst that never settles is applied anyway after this long.
const MAX_SETTLE: Duration = Duration::from_secs(2);

pub async fn run(
    ctx: &Ctx,
    stack: &Stack,
    g: &Global,
    printer: &Printer,
    args: UpArgs,
    cancel: &CancellationToken,
) -> Result<Plain> {
    let mut watched = Watched::of(&g.file, stack);
    let mut seen = watched.fingerprint();
    let first = {
        let _lock = super::lock(ctx, &stack.name, printer).await?;
        up::run(ctx, stack, printer, args, cancel).await
    };
    if interrupted(printer, first) {
        return Ok(ended(Exit::Interrupted));
    }
    printer.status(
        "Watching",
        format_args!("{} (Ctrl-C to stop)", watched.describe()),
    );
    loop {
        tokio::select! {
            () = cancel.cancelled() => {
                printer.status("Stopped", "watching");
                return Ok(ended(Exit::Success));
            }
            () = tokio::time::sleep(POLL) => {}
        }
        let mut now = watched.fingerprint();
        if now == seen {
            continue;
        }
        let burst = Instant::now();
        loop {
            tokio::time::sleep(QUIET).await;
            let again = watched.fingerprint();
            if again == now || burst.elapsed() > MAX_SETTLE {
                break;
            }
            now = again;
        }
        let changed = changed_paths(&seen, &now);
        let saved_at = latest_time(&now, &changed);
        printer.status("Changed", list(&changed));
        seen = now;
        let stack = match super::load_stack(g) {
            Ok(s) => s,
            Err(e) => {
                printer.error(format_args!("{e:#}"));
                printer.status("Watching", "(fix the error and save again)");
                continue;
            }
        };
        if stack.name != ctx.stack {
            printer.error(format_args!(
                "the stack's name changed from `{}` to `{}`; stop and run `exstack up --watch` again to switch stacks",
                ctx.stack, stack.name
            ));
            continue;
        }
        // Code directories may have changed with stack.toml; look at the new set from now on.
        watched = Watched::of(&g.file, &stack);
        seen = watched.fingerprint();
        let applied = {
            let _lock = super::lock(ctx, &stack.name, printer).await?;
            up::apply(ctx, &stack, printer, args, cancel).await
        };
        if interrupted(printer, applied) {
            return Ok(ended(Exit::Interrupted));
        }
        let after = saved_at
            .and_then(|t| t.elapsed().ok())
            .map(|d| format!("applied {:.2}s after the save; ", d.as_secs_f64()))
            .unwrap_or_default();
        printer.status("Watching", format_args!("({after}Ctrl-C to stop)"));
    }
}

/// Shows one `up`'s report (or why it could not run) as soon as it ends; true when Ctrl-C
/// interrupted it.
fn interrupted(printer: &Printer, up: Result<Up>) -> bool {
    match up {
        Ok(up) => {
            report::print(printer, &up);
            up.exit() == Exit::Interrupted
        }
        Err(e) => {
            printer.error(format_args!("{e:#}"));
            false
        }
    }
}

/// Every `up`'s report was shown as it ended; only the exit code is left.
fn ended(exit: Exit) -> Plain {
    Plain {
        text: String::new(),
        exit,
    }
}

/// What a save can change: the stack file and every function's code directory.
struct Watched {
    stack_file: PathBuf,
    code_dirs: Vec<PathBuf>,
}

/// Modification time and size of each watched file; `None` while it is missing.
type Fingerprint = BTreeMap<PathBuf, Option<(SystemTime, u64)>>;

impl Watched {
    fn of(stack_file: &Path, stack: &Stack) -> Watched {
        let mut code_dirs: Vec<PathBuf> = stack
            .resources
            .iter()
            .flat_map(|r| crate::resources::kind(r.kind()).watched(r))
            .collect();
        code_dirs.sort();
        code_dirs.dedup();
        Watched {
            stack_file: stack_file.to_path_buf(),
            code_dirs,
        }
    }

    fn describe(&self) -> String {
        let mut parts = vec![self.stack_file.display().to_string()];
        parts.extend(self.code_dirs.iter().map(|d| format!("{}/", d.display())));
        parts.join(", ")
    }

    fn fingerprint(&self) -> Fingerprint {
        let mut out = Fingerprint::new();
        out.insert(self.stack_file.clone(), stamp(&self.stack_file));
        for dir in &self.code_dirs {
            walk(dir, &mut out);
        }
        out
    }
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// What packaging would zip, stamped; a directory it cannot walk is empty, and the apply says why.
fn walk(dir: &Path, out: &mut Fingerprint) {
    for relative in crate::package::files(dir).unwrap_or_default() {
        let path = dir.join(relative);
        let s = stamp(&path);
        out.insert(path, s);
    }
}

/// Files added, removed or changed between two fingerprints.
fn changed_paths(before: &Fingerprint, after: &Fingerprint) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = after
        .iter()
        .filter(|(p, s)| before.get(*p) != Some(s))
        .map(|(p, _)| p.clone())
        .collect();
    changed.extend(before.keys().filter(|p| !after.contains_key(*p)).cloned());
    changed.sort();
    changed
}

/// When the newest of the changed files was written: the save the apply answers.
fn latest_time(now: &Fingerprint, changed: &[PathBuf]) -> Option<SystemTime> {
    changed
        .iter()
        .filter_map(|p| now.get(p).copied().flatten().map(|(t, _)| t))
        .max()
}

fn list(paths: &[PathBuf]) -> String {
    let mut shown: Vec<String> = paths
        .iter()
        .take(3)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 3 {
        shown.push(format!("and {} more", paths.len() - 3));
    }
    shown.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_edits_additions_and_removals_but_not_caches() {
        let dir = tempfile::tempdir().unwrap();
        let code = dir.path().join("functions");
        std::fs::create_dir_all(code.join("pkg")).unwrap();
        std::fs::write(code.join("a.py"), "1").unwrap();
        std::fs::write(code.join("pkg/b.py"), "2").unwrap();
        let watched = Watched {
            stack_file: dir.path().join("stack.toml"),
            code_dirs: vec![code.clone()],
        };
        let before = watched.fingerprint();
        assert_eq!(before.len(), 3, "{before:?}");
        assert_eq!(before[&dir.path().join("stack.toml")], None);

        std::fs::create_dir(code.join("__pycache__")).unwrap();
        std::fs::write(code.join("__pycache__/a.cpython-313.pyc"), "x").unwrap();
        std::fs::write(code.join(".a.py.swp"), "x").unwrap();
        assert_eq!(watched.fingerprint(), before);

        std::fs::write(code.join("pkg/b.py"), "22").unwrap();
        std::fs::remove_file(code.join("a.py")).unwrap();
        std::fs::write(dir.path().join("stack.toml"), "").unwrap();
        let after = watched.fingerprint();
        assert_eq!(
            changed_paths(&before, &after),
            vec![
                code.join("a.py"),
                code.join("pkg/b.py"),
                dir.path().join("stack.toml")
            ]
        );
        assert!(latest_time(&after, &changed_paths(&before, &after)).is_some());
    }
}
