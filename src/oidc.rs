//! Trusted publishing: GitHub Actions OIDC ID tokens exchanged for short-lived registry tokens
//! (being written).
