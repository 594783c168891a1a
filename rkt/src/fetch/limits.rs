//! Bounds on fetching one image: a deadline for the whole download and an
//! idle timeout (no byte for that long), a cap on the bytes downloaded,
//! and a cap on the bytes the image expands to, which is also held to
//! what keeps a share of the store's file system free. Set in `fetch.d`
//! configuration files and by flags (see [`FetchLimits::set`]).

use std::path::Path;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// The whole transfer of one file.
    pub deadline: Duration,
    /// No byte (or no connection) for this long.
    pub idle: Duration,
    /// Bytes of one image file as downloaded.
    pub max_download: u64,
    /// Bytes of one image once decompressed (its tar stream).
    pub max_extracted: u64,
    /// Share (percent) of the store's file system an extraction leaves free.
    pub min_free_percent: u8,
}

const GIB: u64 = 1 << 30;

impl Default for FetchLimits {
    fn default() -> Self {
        let idle = std::env::var("RKT_HTTP_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30);
        FetchLimits {
            deadline: Duration::from_secs(3600),
            idle: Duration::from_secs(idle),
            max_download: 16 * GIB,
            max_extracted: 64 * GIB,
            min_free_percent: 5,
        }
    }
}

/// Bytes: a number with an optional suffix, decimal (k, M, G, T) or
/// binary (Ki, Mi, Gi, Ti).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, suffix) = s.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit: u64 = match suffix {
        "" => 1,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(unit)
}

impl FetchLimits {
    /// Sets one limit by its configuration name: `deadline`,
    /// `idleTimeout` (durations such as `90s`, `1h`), `maxDownloadSize`,
    /// `maxExtractedSize` (sizes such as `2Gi`), `minFreePercent` (0-99).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let bad = |what: &str| format!("{key} {value:?}: {what}");
        let duration = || {
            crate::display::parse_duration(value)
                .filter(|d| !d.is_zero())
                .ok_or_else(|| bad("a duration such as 30s, 10m or 1h is expected"))
        };
        let size = || {
            parse_size(value)
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("a size such as 500Mi or 4G is expected"))
        };
        match key {
            "deadline" => self.deadline = duration()?,
            "idleTimeout" => self.idle = duration()?,
            "maxDownloadSize" => self.max_download = size()?,
            "maxExtractedSize" => self.max_extracted = size()?,
            "minFreePercent" => {
                self.min_free_percent = value
                    .parse()
                    .ok()
                    .filter(|p| *p < 100)
                    .ok_or_else(|| bad("a percentage from 0 to 99 is expected"))?
            }
            _ => return Err(format!("unknown fetch limit {key:?}")),
        }
        Ok(())
    }

    /// What an image extracted into `dir` may expand to: the fixed cap,
    /// or what leaves `min_free_percent` of the file system free.
    pub fn extraction_budget(&self, dir: &Path) -> u64 {
        let Ok(st) = rustix::fs::statvfs(dir) else {
            return self.max_extracted;
        };
        let block = st.f_frsize.max(1);
        let total = st.f_blocks.saturating_mul(block);
        let available = st.f_bavail.saturating_mul(block);
        let reserve = total / 100 * u64::from(self.min_free_percent);
        self.max_extracted.min(available.saturating_sub(reserve))
    }
}

impl FetchLimits {
    /// How many files (inodes) an image extracted into `dir` may make:
    /// what leaves `min_free_percent` of the file system's inodes free;
    /// None where it has no fixed number of inodes (btrfs, say).
    pub fn inode_budget(&self, dir: &Path) -> Option<u64> {
        let st = rustix::fs::statvfs(dir).ok()?;
        if st.f_files == 0 {
            return None;
        }
        let reserve = st.f_files / 100 * u64::from(self.min_free_percent);
        Some(st.f_favail.saturating_sub(reserve))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("2Gi"), Some(2 << 30));
        assert_eq!(parse_size("4G"), Some(4_000_000_000));
        for bad in ["", "x", "1.5G", "3Q", "-1", "99999999999999999999"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn limits_are_set_by_name_and_checked() {
        let mut l = FetchLimits::default();
        l.set("deadline", "90s").unwrap();
        l.set("maxExtractedSize", "1Gi").unwrap();
        l.set("minFreePercent", "10").unwrap();
        assert_eq!(l.deadline, Duration::from_secs(90));
        assert_eq!(l.max_extracted, 1 << 30);
        assert!(l.set("deadline", "0s").is_err());
        assert!(l.set("minFreePercent", "100").is_err());
        assert!(l.set("maxDownloadSize", "lots").is_err());
        assert!(l.set("speed", "1").is_err());
    }

    #[test]
    fn the_budget_keeps_a_share_free() {
        let dir = tempfile::tempdir().unwrap();
        let l = FetchLimits {
            max_extracted: u64::MAX,
            min_free_percent: 99,
            ..FetchLimits::default()
        };
        // Nearly all of it must stay free: less than 1% may be used.
        let st = rustix::fs::statvfs(dir.path()).unwrap();
        assert!(l.extraction_budget(dir.path()) <= st.f_blocks * st.f_frsize / 100);
        if st.f_files > 0 {
            assert!(l.inode_budget(dir.path()).unwrap() <= st.f_files / 100);
        }
    }
}
