//! `rkt metadata-service`: the appc metadata service for the pods run
//! with `--mds-register` (see rkt::mds).

use rkt::mds;

#[derive(clap::Args)]
#[group(skip)]
#[command(mut_args = crate::pflag_bool)]
pub struct Args {
    /// the TCP port the apps reach the service on (0: any free port,
    /// printed at start)
    #[arg(long, default_value_t = mds::PORT)]
    listen_port: u16,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = mds::service::Config {
        socket: mds::socket_path(),
        port: args.listen_port,
    };
    Ok(mds::service::run(&config)?)
}
