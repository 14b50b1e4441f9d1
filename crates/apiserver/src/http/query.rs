//! Query parameters of resource requests. Unknown parameters are ignored, as kubectl sends many.

use dvp_apimachinery::StatusError;
use dvp_apimachinery::selector::{FieldSelector, LabelSelector};

use crate::api::{FieldValidation, ListOptions, Propagation};
use crate::resources::Resource;

/// What `rows[].object` of a Table carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    None,
    #[default]
    Metadata,
    Object,
}

#[derive(Clone, Debug, Default)]
pub struct Query {
    pub watch: bool,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub resource_version: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    pub include_object: IncludeObject,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    pub field_validation: Option<FieldValidation>,
    pub force: bool,
    pub propagation_policy: Option<Propagation>,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

fn truthy(v: &str) -> bool {
    matches!(v, "true" | "1")
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Result<Query, StatusError> {
        let mut q = Query::default();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            match k.as_ref() {
                "watch" => q.watch = truthy(&v),
                "labelSelector" => {
                    q.label_selector = Some(v.into_owned()).filter(|s| !s.is_empty())
                }
                "fieldSelector" => {
                    q.field_selector = Some(v.into_owned()).filter(|s| !s.is_empty())
                }
                "resourceVersion" => q.resource_version = Some(v.into_owned()),
                "timeoutSeconds" => q.timeout_seconds = v.parse().ok(),
                "allowWatchBookmarks" => q.allow_watch_bookmarks = truthy(&v),
                "includeObject" => {
                    q.include_object = match v.as_ref() {
                        "None" => IncludeObject::None,
                        "Object" => IncludeObject::Object,
                        _ => IncludeObject::Metadata,
                    }
                }
                "dryRun" => q.dry_run = v == "All",
                "fieldManager" => q.field_manager = Some(v.into_owned()).filter(|s| !s.is_empty()),
                "fieldValidation" => {
                    q.field_validation = Some(match v.as_ref() {
                        "Strict" => FieldValidation::Strict,
                        "Warn" => FieldValidation::Warn,
                        "Ignore" => FieldValidation::Ignore,
                        other => {
                            return Err(StatusError::bad_request(format!(
                                "fieldValidation parameter unsupported: {other:?}; use Strict, Warn or Ignore"
                            )));
                        }
                    })
                }
                "force" => q.force = truthy(&v),
                "propagationPolicy" => {
                    q.propagation_policy = match v.as_ref() {
                        "Orphan" => Some(Propagation::Orphan),
                        "Foreground" => Some(Propagation::Foreground),
                        "Background" => Some(Propagation::Background),
                        _ => None,
                    }
                }
                "limit" => q.limit = v.parse().ok().filter(|l| *l > 0),
                "continue" => q.continue_token = Some(v.into_owned()).filter(|s| !s.is_empty()),
                _ => {}
            }
        }
        Ok(q)
    }

    /// Parse the selectors, checking field labels against what `res` supports.
    pub fn list_options(&self, res: &Resource) -> Result<ListOptions, StatusError> {
        let label_selector = match &self.label_selector {
            Some(s) => Some(LabelSelector::parse(s).map_err(|e| {
                StatusError::bad_request(format!("unable to parse requirement: {e}"))
            })?),
            None => None,
        };
        let field_selector = match &self.field_selector {
            Some(s) => {
                let fs = FieldSelector::parse(s).map_err(StatusError::bad_request)?;
                for r in fs.requirements() {
                    if !res.supports_field(&r.field) {
                        return Err(StatusError::bad_request(format!(
                            "field label not supported: {}",
                            r.field
                        )));
                    }
                }
                Some(fs)
            }
            None => None,
        };
        Ok(ListOptions {
            label_selector,
            field_selector,
            limit: self.limit,
            continue_token: self.continue_token.clone(),
        })
    }
}
