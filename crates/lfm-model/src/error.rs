//! One error type for everything that reads or writes model files.
//!
//! Every variant renders as one line that names the file (and the tensor where one is
//! involved), so the CLI can print it as is and exit non-zero.

use thiserror::Error;

/// Errors from loading, validating and saving models.
#[derive(Debug, Error)]
pub enum LfmError {
    /// The file could not be read or written.
    #[error("{file}: {msg}")]
    Io { file: String, msg: String },
    /// `config.json` is malformed or describes an unsupported model.
    #[error("{file}: bad config: {msg}")]
    Config { file: String, msg: String },
    /// The safetensors container is malformed or truncated.
    #[error("{file}: bad safetensors file: {msg}")]
    Safetensors { file: String, msg: String },
    /// A tensor is missing, has the wrong shape or an unsupported dtype.
    #[error("{file}: tensor {tensor}: {msg}")]
    Tensor { file: String, tensor: String, msg: String },
    /// Invalid arguments (device string, sampling settings, input shapes).
    #[error("{0}")]
    Invalid(String),
}

impl LfmError {
    /// Builds an [`LfmError::Io`] from a path and an I/O error.
    pub fn io(file: impl AsRef<std::path::Path>, e: impl std::fmt::Display) -> Self {
        LfmError::Io { file: file.as_ref().display().to_string(), msg: e.to_string() }
    }
}
