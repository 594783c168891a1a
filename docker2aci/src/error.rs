//! What can go wrong converting an image.

/// A conversion error: the input is wrong (`Bad`), or reading or writing
/// a file failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Bad(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("converted, the image expands to more than {0} bytes, the most allowed")]
    TooLarge(u64),
}

impl Error {
    pub fn io(what: impl std::fmt::Display, source: std::io::Error) -> Self {
        Error::Io {
            what: what.to_string(),
            source,
        }
    }
}

/// Returns early with [`Error::Bad`] and a formatted message.
macro_rules! bad {
    ($($t:tt)*) => { return Err($crate::error::Error::Bad(format!($($t)*))) };
}
pub(crate) use bad;

pub type Result<T> = std::result::Result<T, Error>;
