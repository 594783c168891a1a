//! The apps' `AC_METADATA_URL` for a pod stage0 registered with the
//! metadata service (`rkt run --mds-register`): the service on the host
//! as the pod reaches it, and the pod's token; and the unregistration
//! when the pod ends.

use crate::args::Args;
use pod::mds::Registration;

/// The URL, None if the pod is not registered. A pod in the host's
/// network namespace (fly's, `--net=host`) reaches the service on
/// loopback.
pub fn url(args: &Args, fly: bool) -> Result<Option<String>, String> {
    let Some(reg) = Registration::read(&args.pod_dir)? else {
        return Ok(None);
    };
    let net_d = args.local_config.join("net.d");
    if fly
        || matches!(
            pod::net::select(&args.nets, &net_d)?,
            pod::net::Selection::Host
        )
    {
        return Ok(Some(reg.url("127.0.0.1")));
    }
    let gateway = pod::net::joined(&args.pod_dir)
        .into_iter()
        .find_map(|n| n.gateway)
        .ok_or("--mds-register: none of the pod's networks has a gateway, where the pod would reach the metadata service")?;
    // The service serves apps there (and on loopback) only.
    pod::mds::set_gateway(&reg.socket, &args.uuid, &gateway)
        .map_err(|e| format!("--mds-register: {e}"))?;
    Ok(Some(reg.url(&gateway)))
}

/// Unregisters the pod, if it was registered: a pod that ended answers
/// for nothing. Quiet if the service is gone (it forgot the pod then).
pub fn unregister(args: &Args) {
    let reg = match Registration::read(&args.pod_dir) {
        Ok(Some(reg)) => reg,
        Ok(None) => return,
        Err(e) => return eprintln!("stage1: {e}"),
    };
    if !reg.socket.exists() {
        return;
    }
    if let Err(e) = pod::mds::unregister(&reg.socket, &args.uuid) {
        eprintln!("stage1: unregistering from the metadata service: {e}");
    }
}
