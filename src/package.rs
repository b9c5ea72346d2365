//! Function code as a deterministic zip: the same files always give the same bytes (sorted
//! entries, fixed timestamps, 0644/0755 modes), so its SHA-256 tells whether to upload.

use std::io::{Cursor, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// A deployment package and its hash in Lambda's form (base64 of the SHA-256).
#[derive(Debug, Clone)]
pub struct Package {
    pub zip: Vec<u8>,
    pub sha256: String,
}

/// Zips `dir` (only `files` of it, when given). Refuses anything that would escape `dir`.
pub fn build(dir: &Path, files: Option<&[String]>) -> Result<Package> {
    let root = code_root(dir)?;
    let mut entries = match files {
        Some(list) => list
            .iter()
            .map(|f| checked_path(&root, Path::new(f)))
            .collect::<Result<Vec<_>>>()?,
        None => walk(&root)?,
    };
    entries.sort();
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    for relative in &entries {
        let path = root.join(relative);
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read {} for the deployment zip", path.display()))?;
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if is_executable(&path) { 0o755 } else { 0o644 });
        let name = relative.to_string_lossy().replace('\\', "/");
        zip.start_file(name, options)?;
        zip.write_all(&bytes)?;
    }
    let zip = zip.finish()?.into_inner();
    let sha256 = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(&zip));
    Ok(Package { zip, sha256 })
}

/// Every file under `dir` that [`build`] zips when given no list, relative to `dir`, sorted.
pub fn files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = walk(&code_root(dir)?)?;
    out.sort();
    Ok(out)
}

fn code_root(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize()
        .with_context(|| format!("function code directory {} cannot be read", dir.display()))
}

/// Hidden entries and Python caches: never packaged, so never watched.
fn skipped(name: &str) -> bool {
    name.starts_with('.') || name == "__pycache__" || name.ends_with(".pyc")
}

/// A listed file, checked to be a regular file inside `root` once symlinks are followed.
fn checked_path(root: &Path, relative: &Path) -> Result<PathBuf> {
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        bail!(
            "`{}` must be a plain path inside {}, without `..`",
            relative.display(),
            root.display()
        );
    }
    let real = root.join(relative).canonicalize().with_context(|| {
        format!(
            "function file {} cannot be read",
            root.join(relative).display()
        )
    })?;
    if !real.starts_with(root) {
        bail!(
            "{} points outside the code directory {} (to {}); refusing to package it",
            root.join(relative).display(),
            root.display(),
            real.display()
        );
    }
    if !real.is_file() {
        bail!("{} is not a file", root.join(relative).display());
    }
    Ok(relative.to_path_buf())
}

/// Every file under `root` (canonical), skipping what [`skipped`] names.
fn walk(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(dir) = stack.pop() {
        let listing = std::fs::read_dir(root.join(&dir))
            .with_context(|| format!("cannot list {}", root.join(&dir).display()))?;
        for entry in listing {
            let entry = entry?;
            let name = entry.file_name();
            if skipped(&name.to_string_lossy()) {
                continue;
            }
            let relative = dir.join(&name);
            let checked = checked_path(root, &relative);
            match checked {
                Ok(p) => out.push(p),
                Err(_)
                    if root
                        .join(&relative)
                        .canonicalize()
                        .is_ok_and(|r| r.starts_with(root) && r.is_dir()) =>
                {
                    stack.push(relative)
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_files_same_hash_and_modes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.py"), "x = 1\n").unwrap();
        std::fs::write(dir.path().join("a.py"), "y = 2\n").unwrap();
        std::fs::create_dir(dir.path().join("__pycache__")).unwrap();
        std::fs::write(dir.path().join("__pycache__/a.pyc"), "junk").unwrap();
        let first = build(dir.path(), None).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("a.py"), "y = 2\n").unwrap();
        let second = build(dir.path(), None).unwrap();
        assert_eq!(first.sha256, second.sha256);
        let mut archive = zip::ZipArchive::new(Cursor::new(first.zip)).unwrap();
        assert_eq!(archive.len(), 2);
        assert_eq!(archive.by_index(0).unwrap().name().unwrap(), "a.py");
        assert_eq!(archive.by_index(0).unwrap().unix_mode(), Some(0o100644));
        std::fs::write(dir.path().join("a.py"), "y = 3\n").unwrap();
        assert_ne!(build(dir.path(), None).unwrap().sha256, first.sha256);
    }

    #[test]
    fn files_are_what_build_zips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pkg/__pycache__")).unwrap();
        std::fs::write(dir.path().join("pkg/b.py"), "1").unwrap();
        std::fs::write(dir.path().join("pkg/__pycache__/b.pyc"), "x").unwrap();
        std::fs::write(dir.path().join("a.py"), "2").unwrap();
        std::fs::write(dir.path().join("a.pyc"), "x").unwrap();
        std::fs::write(dir.path().join(".a.py.swp"), "x").unwrap();
        let listed = files(dir.path()).unwrap();
        assert_eq!(listed, [PathBuf::from("a.py"), PathBuf::from("pkg/b.py")]);
        let package = build(dir.path(), None).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(package.zip)).unwrap();
        let zipped: Vec<String> = (0..archive.len())
            .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
            .collect();
        assert_eq!(zipped, ["a.py", "pkg/b.py"]);
        assert!(files(&dir.path().join("missing")).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn executables_keep_0755_and_missing_files_stop_the_run() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(
            dir.path().join("run.sh"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let package = build(dir.path(), None).unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(package.zip)).unwrap();
        assert_eq!(archive.by_index(0).unwrap().unix_mode(), Some(0o100755));
        let err = build(dir.path(), Some(&["missing.py".into()]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn refuses_symlinks_out_and_dotdot() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
        let err = build(dir.path(), None).unwrap_err().to_string();
        assert!(err.contains("points outside"), "{err}");
        let err = build(dir.path(), Some(&["../x".into()]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("without `..`"), "{err}");
    }
}
