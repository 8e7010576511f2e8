//! GitHub Releases through the REST API (being written).
