//! stage0 of the pod executor: image fetch, trust, store and the pod
//! lifecycle. Not implemented yet; see the project's issues.
