//! Builds a Go program into an ACI. Not implemented yet; see the project's
//! issues.
