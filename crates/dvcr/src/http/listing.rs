//! `GET /v2/<name>/tags/list` and `GET /v2/_catalog`, with `?n=&last=` pagination and a
//! `Link: <…>; rel="next"` header when more remain.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::StatusCode;
use http::header::{CONTENT_TYPE, LINK};
use serde_json::json;

use super::error::ApiError;
use super::{blocking, finish, query, respond};
use crate::error::DvcrError;
use crate::registry::Registry;

pub(super) async fn tags(
    registry: Arc<Registry>,
    name: String,
    request: Request,
) -> Result<Response, ApiError> {
    let repo = name.clone();
    let tags = blocking(registry, move |r| {
        if r.repository_exists(&repo) {
            r.tags(&repo).map(Some)
        } else {
            Ok(None)
        }
    })
    .await??;
    let Some(tags) = tags else {
        return Err(DvcrError::NameUnknown(name).into());
    };
    let page = Page::of(tags, &request)?;
    let link = page.next_link(&format!("/v2/{name}/tags/list"));
    Ok(list_response(
        json!({"name": name, "tags": page.items}),
        link,
    ))
}

pub(super) async fn catalog(
    registry: Arc<Registry>,
    request: Request,
) -> Result<Response, ApiError> {
    let repositories = blocking(registry, |r| r.repositories()).await??;
    let page = Page::of(repositories, &request)?;
    let link = page.next_link("/v2/_catalog");
    Ok(list_response(json!({"repositories": page.items}), link))
}

fn list_response(body: serde_json::Value, link: Option<String>) -> Response {
    let mut builder = respond(StatusCode::OK).header(CONTENT_TYPE, "application/json");
    if let Some(link) = link {
        builder = builder.header(LINK, link);
    }
    finish(builder.body(Body::from(body.to_string())))
}

/// One page of a sorted list.
struct Page {
    items: Vec<String>,
    limit: Option<usize>,
    more: bool,
}

impl Page {
    fn of(sorted: Vec<String>, request: &Request) -> Result<Page, ApiError> {
        let params = query(request);
        let limit = match params.get("n") {
            None => None,
            Some(n) => Some(n.parse::<usize>().map_err(|_| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    format!("n={n:?} is not a number"),
                )
            })?),
        };
        Ok(paginate(
            sorted,
            limit,
            params.get("last").map(String::as_str),
        ))
    }

    fn next_link(&self, path: &str) -> Option<String> {
        let (true, Some(limit), Some(last)) = (self.more, self.limit, self.items.last()) else {
            return None;
        };
        Some(format!("<{path}?n={limit}&last={last}>; rel=\"next\""))
    }
}

/// The items after `last`, at most `limit` of them.
fn paginate(sorted: Vec<String>, limit: Option<usize>, last: Option<&str>) -> Page {
    let mut items: Vec<String> = sorted
        .into_iter()
        .filter(|item| last.is_none_or(|last| item.as_str() > last))
        .collect();
    let more = limit.is_some_and(|limit| items.len() > limit);
    if let Some(limit) = limit {
        items.truncate(limit);
    }
    Page { items, limit, more }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("t{i}")).collect()
    }

    #[test]
    fn pages_follow_each_other_through_last() {
        let first = paginate(names(5), Some(2), None);
        assert_eq!(first.items, ["t0", "t1"]);
        assert!(first.more);
        assert_eq!(
            first.next_link("/v2/_catalog").unwrap(),
            "</v2/_catalog?n=2&last=t1>; rel=\"next\""
        );
        let last = paginate(names(5), Some(2), Some("t3"));
        assert_eq!(last.items, ["t4"]);
        assert_eq!(last.next_link("/x"), None);
    }

    #[test]
    fn without_n_everything_after_last_is_returned() {
        assert_eq!(paginate(names(3), None, Some("t0")).items, ["t1", "t2"]);
    }

    #[test]
    fn n_zero_returns_an_empty_page() {
        assert!(paginate(names(3), Some(0), None).items.is_empty());
    }
}
