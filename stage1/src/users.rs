//! Users and groups by number or by name, from the image's `/etc/passwd`
//! and `/etc/group` (read after chroot, so they are the image's own).

use std::path::Path;

fn lookup(file: &Path, name: &str, id_field: usize) -> Result<u32, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("{name}: cannot read {}: {e}", file.display()))?;
    text.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&name))
        .and_then(|f| f.get(id_field)?.parse().ok())
        .ok_or_else(|| format!("{name} not found in {}", file.display()))
}

/// A user ID from a number or a name in `/etc/passwd`.
pub fn uid(user: &str) -> Result<u32, String> {
    user.parse()
        .or_else(|_| lookup(Path::new("/etc/passwd"), user, 2).map_err(|e| format!("user {e}")))
}

/// A group ID from a number or a name in `/etc/group`.
pub fn gid(group: &str) -> Result<u32, String> {
    group
        .parse()
        .or_else(|_| lookup(Path::new("/etc/group"), group, 2).map_err(|e| format!("group {e}")))
}
