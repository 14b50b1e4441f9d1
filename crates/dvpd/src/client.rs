//! The in-process Kubernetes client the controllers use: kube-rs over the API server's own router
//! as a tower service. No socket, no TLS, but every request goes through the same routing,
//! authentication, admission and storage as kubectl's.

use axum::Router;
use http::HeaderValue;
use http::header::AUTHORIZATION;

pub fn in_process(app: Router, token: &str) -> kube::Client {
    let bearer = HeaderValue::from_str(&format!("Bearer {token}"))
        .expect("the token is a valid header value");
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut req: http::Request<kube::client::Body>| {
            req.headers_mut().insert(AUTHORIZATION, bearer.clone());
            req
        })
        .service(app);
    kube::Client::new(service, "default")
}
