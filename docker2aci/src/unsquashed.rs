//! `--nosquash`: one ACI per layer, as the reference makes them. Each
//! holds its layer's own files (whiteouts left out) and, as its
//! `pathWhitelist`, every path the image has once that layer is applied,
//! so that rendering an ACI over its dependencies (the lower layers, in
//! order) drops what the layer whited out. A hard link to a file of
//! another layer gets that file's content (ACIs link only within
//! themselves).

use crate::error::{Error, Result};
use crate::image::Layer;
use crate::layer::{self, io_error};
use crate::source::Source;
use crate::squash::{At, Kind, Node, append, fresh_header, plan_with, rootfs_name};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

/// The paths of the hard links sharing one content.
type Links<'a> = Vec<&'a [u8]>;

/// A layer as its ACI holds it.
pub struct LayerView {
    /// The layer's entries still in the tree once it is applied.
    own: Vec<(Vec<u8>, Node)>,
    /// Every path of the image once the layer is applied, `/`-rooted.
    pub whitelist: Vec<String>,
}

/// Each layer's view, bottom first.
pub fn views(src: &Source, layers: &[Layer]) -> Result<Vec<LayerView>> {
    let mut views = Vec::new();
    plan_with(src, layers, |l, tree| {
        let own = tree
            .iter()
            .filter(|(_, n)| n.at.0 == l)
            .map(|(p, n)| (p.clone(), *n))
            .collect();
        let whitelist = tree
            .keys()
            .filter(|p| !p.is_empty())
            .map(|p| format!("/{}", String::from_utf8_lossy(p)))
            .collect();
        views.push(LayerView { own, whitelist });
    })?;
    Ok(views)
}

/// Writes layer `k`'s ACI (manifest, then the layer's files) to `out`.
pub fn write_layer<W: Write>(
    src: &Source,
    layers: &[Layer],
    k: usize,
    view: &LayerView,
    manifest: &[u8],
    out: W,
) -> Result<W> {
    let werr = |e: std::io::Error| Error::io("writing the ACI", e);
    let mut tar = tar::Builder::new(out);
    let mut h = fresh_header(tar::EntryType::Regular, 0o644);
    h.set_size(manifest.len() as u64);
    tar.append_data(&mut h, "manifest", manifest)
        .map_err(werr)?;
    let mut h = fresh_header(tar::EntryType::Directory, 0o755);
    tar.append_data(&mut h, "rootfs", std::io::empty())
        .map_err(werr)?;

    let by_index: HashMap<u32, (&[u8], Node)> = view
        .own
        .iter()
        .map(|(p, n)| (n.at.1, (p.as_slice(), *n)))
        .collect();
    let files: HashMap<At, &[u8]> = view
        .own
        .iter()
        .filter(|(_, n)| n.kind == Kind::File)
        .map(|(p, n)| (n.at, p.as_slice()))
        .collect();
    // Links whose content this layer does not hold, by that content.
    let mut carried: BTreeMap<At, Links<'_>> = BTreeMap::new();
    for (p, n) in &view.own {
        if n.kind == Kind::HardLink && !files.contains_key(&n.content) {
            carried.entry(n.content).or_default().push(p);
        }
    }
    let layer = &layers[k];
    let member = layer.member.as_str();
    let mut reader = layer::open(src, layer)?;
    {
        let mut archive = tar::Archive::new(&mut reader);
        for (i, entry) in archive
            .entries()
            .map_err(|e| io_error(member, e))?
            .enumerate()
        {
            let mut entry = entry.map_err(|e| io_error(member, e))?;
            let Some((path, node)) = by_index.get(&(i as u32)) else {
                continue;
            };
            let link_to = match node.kind {
                Kind::HardLink => match files.get(&node.content) {
                    Some(first) => Some(rootfs_name(first)),
                    None => continue, // written with its content below
                },
                _ => None,
            };
            append(
                &mut tar,
                &mut entry,
                &rootfs_name(path),
                node.kind,
                link_to.as_deref(),
                member,
            )?;
        }
    }
    layer::drain(reader, member)?;

    // The content of links to other layers' files, from those layers.
    // (By source layer, then by entry in it.)
    let mut by_layer: BTreeMap<u16, HashMap<u32, Links<'_>>> = BTreeMap::new();
    for (content, links) in carried {
        by_layer
            .entry(content.0)
            .or_default()
            .insert(content.1, links);
    }
    for (s, wanted) in by_layer {
        let source = &layers[s as usize];
        let member = source.member.as_str();
        let mut reader = layer::open(src, source)?;
        {
            let mut archive = tar::Archive::new(&mut reader);
            for (i, entry) in archive
                .entries()
                .map_err(|e| io_error(member, e))?
                .enumerate()
            {
                let mut entry = entry.map_err(|e| io_error(member, e))?;
                let Some(links) = wanted.get(&(i as u32)) else {
                    continue;
                };
                let first = rootfs_name(links[0]);
                append(&mut tar, &mut entry, &first, Kind::File, None, member)?;
                for other in &links[1..] {
                    let mut h = fresh_header(tar::EntryType::Link, 0o644);
                    tar.append_link(&mut h, rootfs_name(other), &first)
                        .map_err(werr)?;
                }
            }
        }
        layer::drain(reader, member)?;
    }
    tar.into_inner().map_err(werr)
}
