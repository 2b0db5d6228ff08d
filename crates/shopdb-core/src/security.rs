//! Security headers on every answer (API, pages, static files, errors), set by one layer
//! around the whole router.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Scripts, styles, images and connections from this server only; no inline script or
/// style (scripts are files under /static; colours computed by a page are set through the
/// DOM, which a CSP allows), no plugins, no framing, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
     object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Browser features no ShopDB page uses.
pub const PERMISSIONS_POLICY: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), fullscreen=(self)";

/// One year; sent only when cookies are Secure, i.e. the site is served over HTTPS.
pub const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000";

/// The headers every answer carries; HSTS only with `https` (COOKIE_SECURE on).
pub fn headers(https: bool) -> Vec<(HeaderName, HeaderValue)> {
    let mut list = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
        (
            HeaderName::from_static("permissions-policy"),
            HeaderValue::from_static(PERMISSIONS_POLICY),
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if https {
        list.push((
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(STRICT_TRANSPORT_SECURITY),
        ));
    }
    list
}

/// Middleware adding [`headers`] to every answer (a handler's own value is kept).
pub async fn add_headers(https: bool, req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let map = response.headers_mut();
    for (name, value) in headers(https) {
        map.entry(name).or_insert(value);
    }
    response
}
