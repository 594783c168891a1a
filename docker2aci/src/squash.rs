//! Squashing layers into one ACI, in two passes over the layers and
//! without unpacking anything to disk.
//!
//! The first pass reads only the entries' headers and works out the
//! final tree: which entry (layer, position) each path ends up as, after
//! whiteouts (`.wh.name`), opaque directories (`.wh..wh..opq`), a
//! non-directory replacing a directory, and hard links (each resolved to
//! the regular file entry holding its content, as it was when the link
//! was made). The second pass writes those entries in layer order, so a
//! hard link always follows its content. A hard link whose content was
//! later replaced or whited out gets the content itself, written at the
//! content's position under the link's name (the others link to it).

use crate::error::{Error, Result, bad};
use crate::image::Layer;
use crate::layer::{self, entry_path, io_error};
use crate::source::Source;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;

/// An entry by layer and position in it.
pub(crate) type At = (u16, u32);

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Dir,
    File,
    HardLink,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub at: At,
    pub kind: Kind,
    /// For files, the entry itself; for hard links, the file entry whose
    /// content they share.
    pub content: At,
}

/// What the first pass worked out.
pub(crate) struct Plan {
    tree: BTreeMap<Vec<u8>, Node>,
    /// Content entries no longer in the tree that visible hard links
    /// need, with the link they are written as.
    carriers: HashMap<At, Vec<u8>>,
    /// Content entries some hard link shares.
    linked: HashSet<At>,
    /// The root directory's entry, from the last layer that has one.
    root: Option<tar::Header>,
}

enum Whiteout<'a> {
    /// Everything the lower layers had under this directory.
    Opaque(&'a [u8]),
    /// This path, and anything below it, from the lower layers.
    Path(Vec<u8>),
    /// aufs' own bookkeeping (`.wh..wh.plnk`, ...): not content.
    Meta,
}

fn whiteout(path: &[u8]) -> Option<Whiteout<'_>> {
    let (dir, base) = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&path[..0], path),
    };
    let hidden = base.strip_prefix(b".wh.")?;
    if hidden == b".wh..opq" {
        return Some(Whiteout::Opaque(dir));
    }
    if hidden.starts_with(b".wh.") {
        return Some(Whiteout::Meta);
    }
    let mut target = dir.to_vec();
    if !target.is_empty() {
        target.push(b'/');
    }
    target.extend_from_slice(hidden);
    Some(Whiteout::Path(target))
}

/// Removes what is below `dir` (and `dir` itself with `itself`) that
/// came from layers before `layer` (any layer with `layer` None).
fn remove_below(tree: &mut BTreeMap<Vec<u8>, Node>, dir: &[u8], itself: bool, layer: Option<u16>) {
    let older = |n: &Node| layer.is_none_or(|l| n.at.0 < l);
    let mut prefix = dir.to_vec();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    let doomed: Vec<Vec<u8>> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, n)| !k.is_empty() && older(n))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        tree.remove(&k);
    }
    if itself && !dir.is_empty() && tree.get(dir).is_some_and(older) {
        tree.remove(dir);
    }
}

fn kind_of(t: tar::EntryType, member: &str, path: &[u8]) -> Result<Option<Kind>> {
    use tar::EntryType as E;
    Ok(Some(match t {
        E::Regular | E::Continuous => Kind::File,
        E::Directory => Kind::Dir,
        E::Link => Kind::HardLink,
        E::Symlink | E::Char | E::Block | E::Fifo => Kind::Other,
        E::XGlobalHeader => return Ok(None),
        other => bad!(
            "layer {member}: entry {:?} has an unsupported type ({other:?})",
            String::from_utf8_lossy(path)
        ),
    }))
}

/// First pass: the final tree.
fn plan(src: &Source, layers: &[Layer]) -> Result<Plan> {
    plan_with(src, layers, |_, _| {})
}

/// The first pass, showing `after` the tree as each layer leaves it.
pub(crate) fn plan_with(
    src: &Source,
    layers: &[Layer],
    mut after: impl FnMut(u16, &BTreeMap<Vec<u8>, Node>),
) -> Result<Plan> {
    let mut tree: BTreeMap<Vec<u8>, Node> = BTreeMap::new();
    let mut root = None;
    for (l, layer) in layers.iter().enumerate() {
        let l = u16::try_from(l).map_err(|_| Error::Bad("more than 65535 layers".into()))?;
        let member = layer.member.as_str();
        let mut reader = layer::open(src, layer)?;
        {
            let mut archive = tar::Archive::new(&mut reader);
            let entries = archive.entries().map_err(|e| io_error(member, e))?;
            for (i, entry) in entries.enumerate() {
                let entry = entry.map_err(|e| io_error(member, e))?;
                let at = (l, i as u32);
                let path = entry_path(&entry.path_bytes(), member)?;
                let Some(kind) = kind_of(entry.header().entry_type(), member, &path)? else {
                    continue;
                };
                match whiteout(&path) {
                    Some(Whiteout::Meta) => continue,
                    Some(Whiteout::Opaque(dir)) => {
                        remove_below(&mut tree, dir, false, Some(l));
                        continue;
                    }
                    Some(Whiteout::Path(target)) => {
                        remove_below(&mut tree, &target, true, Some(l));
                        continue;
                    }
                    None => {}
                }
                if path.is_empty() {
                    if kind != Kind::Dir {
                        bad!("layer {member}: the root entry is not a directory");
                    }
                    root = Some(copy_header(entry.header(), tar::EntryType::Directory)?);
                    continue;
                } else {
                    // A directory implied by this entry replaces a file.
                    let mut end = 0;
                    while let Some(i) = path[end..].iter().position(|&b| b == b'/') {
                        end += i;
                        if tree.get(&path[..end]).is_some_and(|n| n.kind != Kind::Dir) {
                            tree.remove(&path[..end]);
                        }
                        end += 1;
                    }
                }
                if kind != Kind::Dir {
                    remove_below(&mut tree, &path, false, None);
                }
                let content = if kind == Kind::HardLink {
                    let raw = entry.link_name_bytes().unwrap_or_default();
                    let target = entry_path(&raw, member)?;
                    match tree.get(&target) {
                        Some(n) if matches!(n.kind, Kind::File | Kind::HardLink) => n.content,
                        _ => bad!(
                            "layer {member}: hard link {:?} to {:?}, which is not a file of the image",
                            String::from_utf8_lossy(&path),
                            String::from_utf8_lossy(&raw)
                        ),
                    }
                } else {
                    at
                };
                tree.insert(path, Node { at, kind, content });
            }
        }
        layer::drain(reader, member)?;
        after(l, &tree);
    }
    let visible: HashSet<At> = tree.values().map(|n| n.at).collect();
    let mut carriers = HashMap::new();
    let mut linked = HashSet::new();
    for (path, n) in &tree {
        if n.kind == Kind::HardLink {
            linked.insert(n.content);
            if !visible.contains(&n.content) {
                carriers.entry(n.content).or_insert_with(|| path.clone());
            }
        }
    }
    Ok(Plan {
        tree,
        carriers,
        linked,
        root,
    })
}

/// Writes the ACI (manifest, then the squashed rootfs) as a tar to `out`.
pub fn write<W: Write>(src: &Source, layers: &[Layer], manifest: &[u8], out: W) -> Result<W> {
    let plan = plan(src, layers)?;
    let mut tar = tar::Builder::new(out);
    let werr = |e: std::io::Error| Error::io("writing the ACI", e);
    let mut h = fresh_header(tar::EntryType::Regular, 0o644);
    h.set_size(manifest.len() as u64);
    tar.append_data(&mut h, "manifest", manifest)
        .map_err(werr)?;

    let mut h = plan
        .root
        .clone()
        .unwrap_or_else(|| fresh_header(tar::EntryType::Directory, 0o755));
    tar.append_data(&mut h, "rootfs", std::io::empty())
        .map_err(werr)?;

    let mut emitted: HashMap<At, Vec<u8>> = HashMap::new();
    for (l, layer) in layers.iter().enumerate() {
        let l = l as u16;
        let member = layer.member.as_str();
        let mut reader = layer::open(src, layer)?;
        {
            let mut archive = tar::Archive::new(&mut reader);
            let entries = archive.entries().map_err(|e| io_error(member, e))?;
            for (i, entry) in entries.enumerate() {
                let mut entry = entry.map_err(|e| io_error(member, e))?;
                let at = (l, i as u32);
                let path = entry_path(&entry.path_bytes(), member)?;
                let node = plan
                    .tree
                    .get(&path)
                    .filter(|n| n.at == at && !path.is_empty());
                let (name, kind) = match (node, plan.carriers.get(&at)) {
                    (Some(n), _) => (path, n.kind),
                    (None, Some(carrier)) => (carrier.clone(), Kind::File),
                    (None, None) => continue,
                };
                let link_to = match kind {
                    Kind::HardLink => {
                        let content = node.map_or(at, |n| n.content);
                        let Some(first) = emitted.get(&content) else {
                            bad!("layer {member}: a hard link's content was not written first");
                        };
                        if *first == name {
                            continue; // written as its content's carrier
                        }
                        Some(rootfs_name(first))
                    }
                    _ => None,
                };
                if kind == Kind::File && plan.linked.contains(&at) {
                    emitted.insert(at, name.clone());
                }
                append(
                    &mut tar,
                    &mut entry,
                    &rootfs_name(&name),
                    kind,
                    link_to.as_deref(),
                    member,
                )?;
            }
        }
        layer::drain(reader, member)?;
    }
    tar.into_inner().map_err(werr)
}

/// Appends `entry` as `name`: a hard link to `link_to`, a file with its
/// data, or a directory, symlink or device as it is; its extended
/// attributes before it.
pub(crate) fn append<W: Write, R: Read>(
    tar: &mut tar::Builder<W>,
    entry: &mut tar::Entry<'_, R>,
    name: &std::path::Path,
    kind: Kind,
    link_to: Option<&std::path::Path>,
    member: &str,
) -> Result<()> {
    let werr = |e: std::io::Error| Error::io("writing the ACI", e);
    let header = entry.header().clone();
    let xattrs = xattrs(entry);
    if !xattrs.is_empty() {
        let records = xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice()));
        tar.append_pax_extensions(records).map_err(werr)?;
    }
    match (kind, link_to) {
        (_, Some(first)) => {
            let mut h = copy_header(&header, tar::EntryType::Link)?;
            tar.append_link(&mut h, name, first).map_err(werr)
        }
        (Kind::File | Kind::HardLink, None) => {
            let mut h = copy_header(&header, tar::EntryType::Regular)?;
            h.set_size(entry.size());
            tar.append_data(&mut h, name, entry).map_err(|e| {
                if e.kind() == std::io::ErrorKind::InvalidData {
                    io_error(member, e)
                } else {
                    werr(e)
                }
            })
        }
        _ => {
            let t = header.entry_type();
            let mut h = copy_header(&header, t)?;
            if t == tar::EntryType::Symlink {
                let target = entry.link_name_bytes().unwrap_or_default();
                let target = std::ffi::OsStr::from_bytes(&target);
                tar.append_link(&mut h, name, target).map_err(werr)
            } else {
                tar.append_data(&mut h, name, std::io::empty())
                    .map_err(werr)
            }
        }
    }
}

pub(crate) fn rootfs_name(path: &[u8]) -> std::path::PathBuf {
    let mut name = b"rootfs/".to_vec();
    name.extend_from_slice(path);
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(&name))
}

/// A header of our own: root's, at time 0.
pub(crate) fn fresh_header(kind: tar::EntryType, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_size(0);
    h
}

/// A header for the output: the entry's mode, owner, time and device.
pub(crate) fn copy_header(from: &tar::Header, kind: tar::EntryType) -> Result<tar::Header> {
    let bad_header = |e: std::io::Error| Error::Bad(format!("a layer entry's header: {e}"));
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(from.mode().map_err(bad_header)? & 0o7777);
    // Empty owner fields (some writers leave them so) read as root, as
    // Go's archive/tar (the reference's) reads them.
    h.set_uid(from.uid().unwrap_or(0));
    h.set_gid(from.gid().unwrap_or(0));
    h.set_mtime(from.mtime().unwrap_or(0));
    h.set_size(0);
    if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
        h.set_device_major(from.device_major().ok().flatten().unwrap_or(0))
            .map_err(bad_header)?;
        h.set_device_minor(from.device_minor().ok().flatten().unwrap_or(0))
            .map_err(bad_header)?;
    }
    Ok(h)
}

/// The entry's extended attributes (PAX `SCHILY.xattr.*` records), kept
/// as they are: file capabilities live there.
pub(crate) fn xattrs<R: Read>(entry: &mut tar::Entry<'_, R>) -> Vec<(String, Vec<u8>)> {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return Vec::new();
    };
    exts.filter_map(|e| e.ok())
        .filter_map(|e| {
            let key = e.key().ok()?;
            key.starts_with("SCHILY.xattr.")
                .then(|| (key.to_string(), e.value_bytes().to_vec()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(layer: u16) -> Node {
        Node {
            at: (layer, 0),
            kind: Kind::File,
            content: (layer, 0),
        }
    }

    #[test]
    fn whiteout_names() {
        assert!(matches!(
            whiteout(b"etc/.wh..wh..opq"),
            Some(Whiteout::Opaque(b"etc"))
        ));
        assert!(matches!(
            whiteout(b".wh..wh..opq"),
            Some(Whiteout::Opaque(b""))
        ));
        assert!(matches!(whiteout(b"a/.wh.b"), Some(Whiteout::Path(p)) if p == b"a/b"));
        assert!(matches!(whiteout(b".wh.top"), Some(Whiteout::Path(p)) if p == b"top"));
        assert!(matches!(whiteout(b"a/.wh..wh.plnk"), Some(Whiteout::Meta)));
        assert!(whiteout(b"a/b.wh.c").is_none());
    }

    #[test]
    fn removal_spares_the_layer_itself_and_neighbours() {
        let mut tree: BTreeMap<Vec<u8>, Node> = BTreeMap::new();
        for (p, l) in [("a", 0), ("a/x", 0), ("a/y", 1), ("ab", 0), ("b", 0)] {
            tree.insert(p.as_bytes().to_vec(), node(l));
        }
        remove_below(&mut tree, b"a", true, Some(1));
        let left: Vec<&[u8]> = tree.keys().map(Vec::as_slice).collect();
        assert_eq!(left, [&b"a/y"[..], b"ab", b"b"]);
        remove_below(&mut tree, b"", false, None);
        assert!(tree.is_empty());
    }
}
