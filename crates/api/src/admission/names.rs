//! Name and label grammar checks, as booleans over `dvp_apimachinery::validation`.

use dvp_apimachinery::validation;

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    validation::is_dns1123_subdomain(s).is_empty()
}

/// A label value: empty, or 1–63 alphanumerics, '-', '_', '.', starting and ending alphanumeric.
pub fn is_valid_label_value(s: &str) -> bool {
    validation::is_valid_label_value(s).is_empty()
}

/// A qualified name (label key): optional DNS-subdomain prefix and '/', then a name part.
pub fn is_qualified_name(s: &str) -> bool {
    validation::is_qualified_name(s).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_accepts_dotted_names() {
        assert!(is_dns1123_subdomain("nginx.example.com"));
        assert!(!is_dns1123_subdomain("a..b"));
    }

    #[test]
    fn qualified_names_allow_a_prefix() {
        assert!(is_qualified_name("kubernetes.io/hostname"));
        assert!(is_qualified_name("disktype"));
        assert!(!is_qualified_name("bad key"));
        assert!(!is_qualified_name("/x"));
    }

    #[test]
    fn label_values_may_be_empty() {
        assert!(is_valid_label_value(""));
        assert!(is_valid_label_value("ssd_1.x"));
        assert!(!is_valid_label_value("-x"));
    }
}
