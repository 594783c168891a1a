//! Docker/OCI image to ACI conversion. Not implemented yet; see the
//! project's issues.
