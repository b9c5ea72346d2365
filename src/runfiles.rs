//! The only files exstack keeps, both in the temp directory and keyed by what the target is
//! (not how its URL is spelled): a lock that serializes `up`/`down` on one stack, and a
//! journal of creations that are not atomic, so a run killed half-way can be finished.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use sha2::Digest;

#[derive(Debug, Clone)]
pub struct RunFiles {
    lock: PathBuf,
    pending: PathBuf,
}

impl RunFiles {
    /// The files of `stack` on the endpoint (`None`: real AWS) in `region`, and in `account`
    /// where one emulator holds several.
    pub fn new(
        endpoint: Option<&str>,
        region: &str,
        account: Option<&str>,
        stack: &str,
    ) -> RunFiles {
        let endpoint = endpoint.map_or("aws".to_owned(), canonical_endpoint);
        let mut key = format!("{endpoint}|{region}|{stack}");
        if let Some(account) = account {
            key.push_str(&format!("|{account}"));
        }
        let digest = sha2::Sha256::digest(key.as_bytes());
        let name: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        let dir = std::env::temp_dir();
        RunFiles {
            lock: dir.join(format!("exstack-{name}.lock")),
            pending: dir.join(format!("exstack-{name}.pending")),
        }
    }

    /// Waits for any other `up`/`down` on the same stack and target; held until dropped.
    /// `waiting` is told the lock file's path once, if another run holds it.
    pub async fn lock(&self, waiting: impl FnOnce(&Path)) -> Result<File> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&self.lock)
            .with_context(|| format!("cannot open the lock file {}", self.lock.display()))?;
        if file.try_lock().is_err() {
            waiting(&self.lock);
            // Polled, not a blocking lock: in a fleet, one busy lab machine must not stall
            // the thread the others run on.
            while let Err(e) = file.try_lock() {
                if let std::fs::TryLockError::Error(e) = e {
                    return Err(e).with_context(|| format!("cannot lock {}", self.lock.display()));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
        Ok(file)
    }

    /// Records that `what` is being created in more than one call (a bucket, then its tag).
    pub fn begin(&self, what: &str) -> Result<()> {
        let mut entries = self.pending();
        entries.insert(what.to_owned());
        self.write(&entries)
    }

    pub fn finish(&self, what: &str) -> Result<()> {
        let mut entries = self.pending();
        if entries.remove(what) {
            self.write(&entries)?;
        }
        Ok(())
    }

    /// Whether a run of ours began creating `what` and did not finish.
    pub fn is_pending(&self, what: &str) -> bool {
        self.pending().contains(what)
    }

    fn pending(&self) -> BTreeSet<String> {
        std::fs::read_to_string(&self.pending)
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn write(&self, entries: &BTreeSet<String>) -> Result<()> {
        let text: String = entries.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(&self.pending, text)
            .with_context(|| format!("cannot write {}", self.pending.display()))
    }
}

/// `http://localhost:4566`, `http://127.0.0.1:4566/` and `http://s3.localhost.localstack.cloud:4566`
/// are one LocalStack.
pub fn canonical_endpoint(endpoint: &str) -> String {
    // Every canonical form parses, so a text that does not can stand for itself without clashing.
    crate::endpoint::Endpoint::parse(endpoint)
        .map_or_else(|_| endpoint.trim().to_owned(), |e| e.canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_spellings_are_one_endpoint() {
        let a = canonical_endpoint("http://localhost:4566");
        for other in [
            "http://127.0.0.1:4566/",
            "http://LOCALHOST:4566",
            "http://sqs.us-east-1.localhost.localstack.cloud:4566",
        ] {
            assert_eq!(canonical_endpoint(other), a, "{other}");
        }
        assert_ne!(canonical_endpoint("http://localhost:4567"), a);
        assert_eq!(
            canonical_endpoint("https://example.com"),
            "https://example.com:443"
        );
    }
}
