//! ACI reading, validation and writing.
