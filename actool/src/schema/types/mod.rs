//! The spec's value types, each validated on construction.

pub mod annotations;
pub mod app;
pub mod date;
pub mod environment;
pub mod hash;
pub mod isolator;
pub mod kind;
pub mod labels;
pub mod mount_point;
pub mod names;
pub(crate) mod params;
pub mod port;
pub mod quantity;
pub mod semver;
pub mod url;
pub mod uuid;
pub mod volume;

pub use annotations::{Annotation, Annotations};
pub use app::{App, EventHandler};
pub use date::Date;
pub use environment::{Environment, EnvironmentVariable};
pub use hash::Hash;
pub use isolator::{Isolator, IsolatorValue};
pub use kind::AcKind;
pub use labels::{Label, Labels};
pub use mount_point::MountPoint;
pub use names::{AcIdentifier, AcName};
pub use port::{ExposedPort, Port};
pub use quantity::Quantity;
pub use semver::SemVer;
pub use url::Url;
pub use uuid::Uuid;
pub use volume::Volume;
