//! Searching every file under a directory for forbidden bytes.
//!
//! The search reads raw bytes, so it also covers the SQLite database
//! and its write-ahead log, which store text uncompressed. It does not
//! see inside compressed files such as git's packed objects.

use std::path::{Path, PathBuf};

/// One place a needle was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub file: PathBuf,
    /// The label the caller gave the needle (never the needle itself,
    /// which may be a secret).
    pub label: String,
    pub offset: usize,
}

/// Lists every regular file under `root`, symlinks not followed.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    files
}

/// Searches every file under `root` for each `(label, needle)`.
pub fn find_in_files(root: &Path, needles: &[(&str, &[u8])]) -> Vec<Hit> {
    let mut hits = Vec::new();
    for file in files_under(root) {
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for (label, needle) in needles {
            if let Some(offset) = find(&bytes, needle) {
                hits.push(Hit {
                    file: file.clone(),
                    label: label.to_string(),
                    offset,
                });
            }
        }
    }
    hits
}

/// Returns the offset of the first `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_needles_in_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/log"), b"xx needle yy").unwrap();
        std::fs::write(dir.path().join("clean"), b"nothing here").unwrap();
        let hits = find_in_files(dir.path(), &[("n", b"needle")]);
        assert_eq!(hits.len(), 1);
        assert!(hits[0].file.ends_with("a/b/log"));
        assert_eq!(hits[0].offset, 3);
        assert!(find_in_files(dir.path(), &[("m", b"missing")]).is_empty());
    }
}
