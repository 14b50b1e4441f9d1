//! `meta.k8s.io/v1` Table cells from CRD printer columns.
