//! One error type for the whole tool. Variants carry the context a user needs to act
//! (which file, which setting), in the style of Chainsaw's context strings.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("suppressions {path}: {message}")]
    Suppressions { path: PathBuf, message: String },
    #[error("store {path}: {message}")]
    Store { path: PathBuf, message: String },
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
