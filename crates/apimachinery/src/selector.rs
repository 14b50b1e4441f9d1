//! Label selectors (full string grammar and `metav1.LabelSelector` objects) and field selectors.
