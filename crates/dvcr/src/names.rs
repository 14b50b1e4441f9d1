//! Repository names, tags and references, with the OCI distribution grammar.
//!
//! * name: components `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` joined by `/`, at most 255 characters;
//! * tag: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`;
//! * reference: a tag or a digest.

use std::fmt;

use crate::digest::Digest;

/// The longest repository name accepted (the limit Docker's registry applies).
pub const MAX_NAME_LEN: usize = 255;

/// Why a repository name, tag or reference is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error(
        "repository name {0:?} is invalid: use lowercase letters and digits in /-separated components, separated inside a component by '.', '_', '__' or dashes, at most 255 characters"
    )]
    Name(String),
    #[error(
        "tag {0:?} is invalid: use at most 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'"
    )]
    Tag(String),
}

/// Checks a repository name (`vi/default/tiny`).
pub fn validate_name(name: &str) -> Result<(), NameError> {
    let ok =
        !name.is_empty() && name.len() <= MAX_NAME_LEN && name.split('/').all(valid_name_component);
    if ok {
        Ok(())
    } else {
        Err(NameError::Name(name.to_string()))
    }
}

fn valid_name_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Between alphanumeric runs: exactly one '.', one or two '_', or any number of '-'.
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let allowed = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

/// Checks a tag (`a1b2c3d4-…`, the owning object's uid).
pub fn validate_tag(tag: &str) -> Result<(), NameError> {
    let bytes = tag.as_bytes();
    let ok = matches!(bytes.first(), Some(b) if b.is_ascii_alphanumeric() || *b == b'_')
        && bytes.len() <= 128
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(NameError::Tag(tag.to_string()))
    }
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl Reference {
    /// A reference containing ':' is a digest; anything else must be a valid tag.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.contains(':') {
            return Digest::parse(s)
                .map(Reference::Digest)
                .map_err(ReferenceError::Digest);
        }
        validate_tag(s)
            .map(|()| Reference::Tag(s.to_string()))
            .map_err(ReferenceError::Tag)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Tag(tag) => f.write_str(tag),
            Reference::Digest(digest) => digest.fmt(f),
        }
    }
}

/// Why a manifest reference is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error(transparent)]
    Tag(NameError),
    #[error(transparent)]
    Digest(crate::digest::DigestError),
}

/// The repository of a ClusterVirtualImage (spec §5.1): `cvi/<name>`.
pub fn cvi_repository(name: &str) -> String {
    format!("cvi/{name}")
}

/// The repository of a VirtualImage (spec §5.1): `vi/<namespace>/<name>`.
pub fn vi_repository(namespace: &str, name: &str) -> String {
    format!("vi/{namespace}/{name}")
}

/// The repository of a VirtualDisk's image (spec §5.1): `vd/<namespace>/<name>`.
pub fn vd_repository(namespace: &str, name: &str) -> String {
    format!("vd/{namespace}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_repository_names_are_valid() {
        for name in [
            cvi_repository("ubuntu-22.04"),
            vi_repository("default", "tiny"),
            vd_repository("my-ns", "disk.1"),
        ] {
            assert_eq!(validate_name(&name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_with_uppercase_empty_components_or_bad_separators_are_refused() {
        for name in [
            "", "Vi/x", "vi//x", "/vi", "vi/", "a..b", "a___b", "-a", "a-", "a/_b", "a b", "a:b",
        ] {
            assert!(validate_name(name).is_err(), "{name:?} accepted");
        }
    }

    #[test]
    fn separators_allowed_by_the_grammar_are_accepted() {
        for name in ["a.b", "a_b", "a__b", "a-b", "a---b", "a0/b1/c2"] {
            assert_eq!(validate_name(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn names_longer_than_255_characters_are_refused() {
        assert!(validate_name(&"a".repeat(255)).is_ok());
        assert!(validate_name(&"a".repeat(256)).is_err());
    }

    #[test]
    fn uid_tags_are_valid_and_tags_starting_with_a_dot_are_not() {
        assert!(validate_tag("3f1c2a9e-7b7a-4c55-9d2e-0a1b2c3d4e5f").is_ok());
        assert!(validate_tag("_latest.1-x").is_ok());
        assert!(validate_tag(".hidden").is_err());
        assert!(validate_tag("-x").is_err());
        assert!(validate_tag("").is_err());
        assert!(validate_tag(&"t".repeat(129)).is_err());
    }

    #[test]
    fn reference_with_colon_is_a_digest() {
        let digest = Digest::of_bytes(b"x");
        assert_eq!(
            Reference::parse(&digest.to_string()),
            Ok(Reference::Digest(digest))
        );
        assert_eq!(Reference::parse("v1"), Ok(Reference::Tag("v1".into())));
        assert!(Reference::parse("sha256:zz").is_err());
    }
}
