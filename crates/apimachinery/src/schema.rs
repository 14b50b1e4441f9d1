//! Structural OpenAPI v3 schemas (the `openAPIV3Schema` of a CRD) applied to objects the way
//! apiextensions-apiserver applies them: prune unknown fields, apply `default`s, validate.
