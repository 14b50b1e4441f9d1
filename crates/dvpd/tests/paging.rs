//! kubectl pages lists with `limit=500` and follows `continue`: more objects than one page must
//! all show up, once each.

mod common;

use common::Platform;

#[test]
fn kubectl_get_shows_every_object_when_the_list_spans_pages() {
    let p = Platform::start();
    let items: Vec<String> = (0..1203)
        .map(|i| format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"page-{i:04}"}},"data":{{"i":"{i}"}}}}"#))
        .collect();
    let list = format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    );
    p.kubectl_stdin(&["create", "-f", "-"], &list).expect_ok();
    let out = p
        .kubectl(&["get", "configmaps", "-o", "name"])
        .expect_ok()
        .stdout;
    let names: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("configmap/page-"))
        .collect();
    assert_eq!(names.len(), 1203, "every object once across pages");
    let mut sorted = names.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), 1203, "no duplicates");
    let table = p
        .kubectl(&["get", "configmaps", "--chunk-size=100"])
        .expect_ok()
        .stdout;
    assert_eq!(
        table.lines().filter(|l| l.starts_with("page-")).count(),
        1203
    );
}
