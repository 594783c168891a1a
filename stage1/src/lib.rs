//! The pod's init (stage1). Not implemented yet; see the project's issues.
